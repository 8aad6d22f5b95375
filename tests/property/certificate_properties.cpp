// C1 (certificate soundness and completeness), property leg.
// Soundness: every single-byte flip, insertion or deletion, and every swap of two signatures or two
// fields, of a valid certificate or equivocation record is rejected by the auditor. Completeness:
// every certificate an honest run produces (any n, f, values, rounds, up to f equivocating
// Byzantine workers) verifies.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <functional>

#include "core/certificate.hpp"
#include "runtime/auditor.hpp"
#include "runtime/examples.hpp"
#include "runtime/producer.hpp"

namespace bf::runtime {
namespace {

namespace cc = core::cert;

const Examples& examples() {
  static const Examples ex = make_examples().value();
  return ex;
}

bool accepted(const ExampleFile& original, const Bytes& mutant) {
  const bool evidence = original.name.ends_with(".equivocation");
  const Report r = evidence ? verify_equivocation(mutant, examples().membership)
                            : verify_certificate(mutant, examples().membership);
  return r.ok();
}

// Re-encodes a changed certificate keeping every signature as it was: what an attacker without
// the keys can produce by moving fields around.
Bytes reencoded(const Bytes& bytes, const std::function<void(cc::Certificate&)>& change) {
  cc::Certificate c = cc::decode_certificate(bytes).value();
  change(c);
  auto out = cc::encode_certificate(c);
  return out ? out.value() : Bytes{};  // a non-canonical result is itself a rejected mutant
}

RC_GTEST_PROP(Certificates, C1_any_single_byte_change_is_rejected, ()) {
  const auto& log = examples().log;
  const ExampleFile& file = log[*rc::gen::inRange<std::size_t>(0, log.size())];
  RC_ASSERT(accepted(file, file.bytes));
  Bytes mutant = file.bytes;
  const auto kind = *rc::gen::inRange(0, 5);
  if (kind == 0) {  // flip bits of one byte
    const auto at = *rc::gen::inRange<std::size_t>(0, mutant.size());
    mutant[at] ^= *rc::gen::inRange<std::uint8_t>(1, 255);
  } else if (kind == 1) {  // insert one byte
    const auto at = *rc::gen::inRange<std::size_t>(0, mutant.size() + 1);
    mutant.insert(mutant.begin() + static_cast<std::ptrdiff_t>(at), *rc::gen::arbitrary<std::uint8_t>());
  } else if (kind == 2) {  // delete one byte
    const auto at = *rc::gen::inRange<std::size_t>(0, mutant.size());
    mutant.erase(mutant.begin() + static_cast<std::ptrdiff_t>(at));
  } else if (file.name.ends_with(".cert")) {
    const cc::Certificate c = cc::decode_certificate(file.bytes).value();
    std::vector<std::pair<std::size_t, std::size_t>> answers;  // (round, index)
    for (std::size_t r = 0; r < c.rounds.size(); ++r) {
      for (std::size_t i = 0; i < c.rounds[r].answers.size(); ++i) answers.emplace_back(r, i);
    }
    const auto a = answers[*rc::gen::inRange<std::size_t>(0, answers.size())];
    const auto b = answers[*rc::gen::inRange<std::size_t>(0, answers.size())];
    if (kind == 3) {  // swap two signatures (or a worker's and the head's)
      const bool with_head = *rc::gen::arbitrary<bool>();
      mutant = reencoded(file.bytes, [&](cc::Certificate& m) {
        auto& sa = m.rounds[a.first].answers[a.second].signature;
        if (with_head) std::swap(sa, m.head_signature);
        else std::swap(sa, m.rounds[b.first].answers[b.second].signature);
      });
    } else {  // swap two fields
      const auto which = *rc::gen::inRange(0, 5);
      mutant = reencoded(file.bytes, [&](cc::Certificate& m) {
        auto& x = m.rounds[a.first].answers[a.second];
        auto& y = m.rounds[b.first].answers[b.second];
        switch (which) {
          case 0: std::swap(x.payload, y.payload); break;
          case 1: std::swap(x.answer, y.answer); break;
          case 2: std::swap(x.worker, y.worker); break;
          case 3: std::swap(m.query_id, m.membership_digest); break;
          default: std::swap(m.previous_hash, m.query_id); break;
        }
      });
    }
  } else {  // equivocation record: swap the two answers' signatures or payloads
    cc::EquivocationRecord e = cc::decode_equivocation(file.bytes).value();
    if (kind == 3) std::swap(e.first.signature, e.second.signature);
    else std::swap(e.first.payload, e.second.payload);
    auto out = cc::encode_equivocation(e);
    mutant = out ? out.value() : Bytes{};
  }
  RC_PRE(mutant != file.bytes);  // swapping two equal values changes nothing: not a mutant
  RC_ASSERT(!accepted(file, mutant));
}

// The certificate with a task check (000005.cert), exhaustively: every byte flipped (one bit and all
// bits), one byte inserted and deleted at every position, and its task fields re-encoded under the
// old signature; no mutant verifies (the head signature covers the task checks).
TEST(Certificates, C1_every_single_byte_change_of_a_task_certificate_is_rejected) {
  const ExampleFile* file = nullptr;
  for (const auto& f : examples().log) {
    if (f.name == "000005.cert") file = &f;
  }
  ASSERT_NE(file, nullptr);
  ASSERT_FALSE(cc::decode_certificate(file->bytes)->tasks.empty());
  ASSERT_TRUE(accepted(*file, file->bytes));
  for (std::size_t at = 0; at < file->bytes.size(); ++at) {
    for (const std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0xff}}) {
      Bytes mutant = file->bytes;
      mutant[at] ^= mask;
      EXPECT_FALSE(accepted(*file, mutant)) << "flip at " << at;
    }
    Bytes inserted = file->bytes;
    inserted.insert(inserted.begin() + static_cast<std::ptrdiff_t>(at), inserted[at]);
    EXPECT_FALSE(accepted(*file, inserted)) << "insert at " << at;
    Bytes deleted = file->bytes;
    deleted.erase(deleted.begin() + static_cast<std::ptrdiff_t>(at));
    EXPECT_FALSE(accepted(*file, deleted)) << "delete at " << at;
  }
  const std::vector<std::function<void(cc::Certificate&)>> changes = {
      [](cc::Certificate& c) { c.tasks[0].expected = cc::TaskExpect::sat; },
      [](cc::Certificate& c) { c.tasks[0].text += " "; },
      [](cc::Certificate& c) { c.tasks.push_back(c.tasks[0]); },
      [](cc::Certificate& c) { c.tasks.clear(); },
      [](cc::Certificate& c) { std::swap(c.tasks[0].text, c.invariants.emplace_back().id); },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const Bytes mutant = reencoded(file->bytes, changes[i]);
    EXPECT_NE(mutant, file->bytes);
    EXPECT_FALSE(accepted(*file, mutant)) << "change " << i;
  }
}

RC_GTEST_PROP(Certificates, C1_honest_runs_verify, ()) {
  const auto n = *rc::gen::inRange<std::uint32_t>(1, 11);
  const auto f = *rc::gen::inRange<std::uint32_t>(0, core::faults_max(n) + 1);
  std::vector<Keypair> keys;
  std::vector<cc::MemberKey> members;
  for (std::uint32_t i = 0; i < n; ++i) {
    Seed s{};
    s[0] = static_cast<std::uint8_t>(i + 1);
    s[1] = static_cast<std::uint8_t>(n);
    keys.push_back(keypair_from_seed(s));
    members.push_back({"w" + std::to_string(10 + i), keys.back().public_key});
  }
  const Keypair head = keypair_from_seed(Seed{0x42});
  const Membership m = make_membership_record("prop", 1, f, head.public_key, members).value();
  // Worker indices follow the sorted ids, which here is creation order ("w10" < "w11" < ...).

  const auto byzantine = *rc::gen::inRange<std::uint32_t>(0, f + 1);  // workers 0..byzantine-1
  const auto rounds_max = *rc::gen::inRange<std::uint32_t>(1, 4);
  const bool numeric = *rc::gen::arbitrary<bool>();
  ProduceRequest req;
  req.membership = &m;
  req.worker_keys = keys;
  req.head_key = head;
  req.query = {1, 2, 3};
  req.rounds_max = rounds_max;
  req.agreement = numeric ? cc::AgreementRule::numeric : cc::AgreementRule::exact;
  req.agreement_param = numeric ? *rc::gen::inRange<std::uint8_t>(0, 7) : 0;
  const auto rule = *rc::gen::inRange(0, 3);
  req.rule = !numeric || rule == 0 ? core::fusion::RuleId::weighted_vote
             : rule == 1           ? core::fusion::RuleId::median
                                   : core::fusion::RuleId::trimmed_mean;
  req.trim = f;
  core::SignerMask isolated = 0;  // an equivocator is isolated for the rest of the query
  for (std::uint32_t r = 0; r < rounds_max; ++r) {
    RoundInput in;
    core::SignerMask equivocated = 0;
    for (std::uint32_t w = 0; w < n; ++w) {
      if (((isolated >> w) & 1U) != 0) continue;
      if (*rc::gen::inRange(0, 8) == 0) continue;  // timed out
      const auto v = *rc::gen::inRange<std::int64_t>(0, 3) * 1'000'000 + *rc::gen::inRange<std::int64_t>(-3, 4);
      const Bytes payload = numeric ? cc::i64_bytes(v) : Bytes{static_cast<std::uint8_t>(v & 0xff)};
      in.answers.emplace_back(w, payload);
      if (w < byzantine && *rc::gen::arbitrary<bool>()) {
        in.answers.emplace_back(w, numeric ? cc::i64_bytes(v + 5'000'000) : Bytes{0xee});  // equivocates
        equivocated |= core::SignerMask{1} << w;
      }
    }
    std::uint32_t answering = 0;
    for (std::uint32_t w = 0; w < n; ++w) {
      answering += std::any_of(in.answers.begin(), in.answers.end(), [&](auto& a) { return a.first == w; }) ? 1 : 0;
    }
    in.reachable = *rc::gen::inRange(answering, n - core::signer_count(isolated) + 1);
    req.rounds.push_back(in);
    isolated |= equivocated;
  }
  // The run ends at the first round that does not need a debate: try 1, 2, ... rounds.
  std::optional<Produced> produced;
  std::string last_error;
  for (std::size_t k = 1; k <= req.rounds.size() && !produced; ++k) {
    ProduceRequest attempt = req;
    attempt.rounds.resize(k);
    if (auto p = produce_certificate(attempt)) produced = p.value();
    else last_error = p.error().message;
  }
  if (!produced) {
    // Every generated round needed a debate: the run is not over, so there is no certificate yet.
    RC_DISCARD(last_error);
  }
  const Report r = verify_certificate(produced->bytes, m);
  RC_ASSERT(r.ok());
  for (const auto& e : produced->equivocation_bytes) RC_ASSERT(verify_equivocation(e, m).ok());
}

}  // namespace
}  // namespace bf::runtime
