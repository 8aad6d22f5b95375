#include "runtime/auditor.hpp"

#include "runtime/fusion_replay.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/fusion.hpp"
#include "core/quorum.hpp"
#include "core/reputation.hpp"
#include "core/tally.hpp"

namespace bf::runtime {
namespace cc = core::cert;
namespace fusion = core::fusion;

const char* check_state_name(CheckState s) noexcept {
  switch (s) {
    case CheckState::pass: return "PASS";
    case CheckState::fail: return "FAIL";
    case CheckState::skip: return "SKIP";
  }
  return "?";
}

bool Report::ok() const { return !checks.empty() && first_failure() == nullptr; }

const Check* Report::first_failure() const {
  for (const Check& c : checks) {
    if (c.state == CheckState::fail) return &c;
  }
  return nullptr;
}

namespace {

std::string w_name(const Membership& m, core::WorkerIndex w) {
  return w < m.record.workers.size() ? "worker " + std::to_string(w) + " (" + m.record.workers[w].id + ")"
                                     : "worker " + std::to_string(w);
}

// Each check returns "" on success or the reason it failed.
using Reason = std::string;

Reason check_answer_ids(cc::AgreementRule rule, std::uint8_t param,
                        const std::vector<const cc::SignedAnswer*>& answers) {
  for (const auto* a : answers) {
    auto pre = cc::answer_id_preimage(rule, param, a->payload);
    if (!pre) return "worker " + std::to_string(a->worker) + ": " + pre.error().message;
    if (blake2b(*pre) != a->answer) {
      return "worker " + std::to_string(a->worker) + "'s answer id is not the " +
             cc::agreement_rule_name(rule) + " digest of its payload";
    }
  }
  return {};
}

Reason check_decision(const cc::Certificate& c, const core::Membership& m) {
  core::Decision d;
  for (std::uint32_t r = 0; r < c.rounds.size(); ++r) {
    core::Tally tally(c.n);
    for (const auto& a : c.rounds[r].answers) (void)tally.record(a.worker, a.answer);
    d = core::decide(tally, m, {r, c.rounds_max, c.rounds[r].reachable, true});
    const bool last = r + 1 == c.rounds.size();
    if (!last && d.outcome != core::Outcome::need_debate) {
      return "round " + std::to_string(r) + " gives " + core::outcome_name(d.outcome) +
             ", so no later round may follow";
    }
  }
  if (d.outcome != c.outcome) {
    return std::string("the answers give ") + core::outcome_name(d.outcome) + " (largest cluster " +
           std::to_string(d.support) + ", q = " + std::to_string(m.q) + ") but the certificate says " +
           core::outcome_name(c.outcome);
  }
  if (c.outcome != core::Outcome::decided) return {};
  if (d.signers != c.decided_signers) return "the decided signers differ from core decide's cluster";
  if (d.answer != c.decided_answer) return "the decided answer id differs from core decide's";
  // Independently of decide: every cluster member signed exactly the decided answer, and enough did.
  std::uint32_t members = 0;
  for (const auto& a : c.rounds.back().answers) {
    if (((c.decided_signers >> a.worker) & 1U) == 0) continue;
    if (a.answer != c.decided_answer) return "a decided signer signed a different answer";
    ++members;
  }
  if (members != core::signer_count(c.decided_signers) || members < c.q) {
    return "the decided cluster has " + std::to_string(members) + " agreeing signers, q = " + std::to_string(c.q);
  }
  return {};
}

Reason check_fusion(const cc::Certificate& c) {
  if (c.outcome != core::Outcome::decided) return {};
  const auto rule = static_cast<fusion::RuleId>(c.fusion_rule);
  std::uint32_t trim = 0;
  if (rule == fusion::RuleId::trimmed_mean) {
    for (std::size_t i = 0; i < 4; ++i) trim |= std::uint32_t{c.fusion_params[i]} << (8 * i);
  }
  auto expected = fuse_decided_cluster(c, rule, trim);
  if (!expected) return expected.error().message;
  if (c.fused_output != *expected && rule != fusion::RuleId::weighted_vote) {
    auto want = cc::i64_from(*expected, "fused output");
    auto got = cc::i64_from(c.fused_output, "fused output");
    return std::string(fusion::rule_name(rule)) + " of the cluster is " +
           (want ? std::to_string(*want) : "?") + " but the certificate says " +
           (got ? std::to_string(*got) : "?");
  }
  if (c.fused_output != *expected) return "the fused output differs from core fusion's";
  return {};
}

}  // namespace

Report verify_certificate(std::span<const std::uint8_t> bytes, const Membership& membership,
                          const VerifyOptions& options) {
  Report rep;
  rep.hash = blake2b(bytes);
  auto add = [&](const char* name, const Reason& why, const std::string& ok_detail) {
    rep.checks.push_back({name, why.empty() ? CheckState::pass : CheckState::fail, why.empty() ? ok_detail : why});
    return why.empty();
  };
  auto decoded = cc::decode_certificate(bytes);
  if (!add("encoding", decoded ? "" : decoded.error().message,
           "version " + std::to_string(cc::certificate_version) + ", " + std::to_string(bytes.size()) + " bytes, canonical")) {
    return rep;
  }
  const cc::Certificate& c = decoded.value();
  rep.certificate = c;
  const cc::MembershipRecord& mr = membership.record;

  Reason why;
  if (c.membership_digest != membership.digest) {
    why = "the certificate names membership " + hex(c.membership_digest).substr(0, 16) +
          "..., this membership's digest is " + hex(membership.digest).substr(0, 16) + "...";
  } else if (c.epoch != mr.epoch) {
    why = "epoch " + std::to_string(c.epoch) + " differs from the membership's " + std::to_string(mr.epoch);
  } else if (c.n != mr.n || c.f != mr.f || c.q != mr.q) {
    why = "(n, f, q) = (" + std::to_string(c.n) + ", " + std::to_string(c.f) + ", " + std::to_string(c.q) +
          ") differ from the membership's (" + std::to_string(mr.n) + ", " + std::to_string(mr.f) + ", " +
          std::to_string(mr.q) + ")";
  }
  const bool membership_ok = add("membership", why, "digest " + hex(membership.digest).substr(0, 16) +
                                                        "..., epoch " + std::to_string(c.epoch));

  why.clear();
  if (3 * c.f >= c.n) {
    why = "3f < n fails for n = " + std::to_string(c.n) + ", f = " + std::to_string(c.f);
  } else if (c.rule != core::QuorumRule::safe) {
    why = "the quorum rule is the seed's 2f+1, which is unsafe; only the safe rule decides";
  } else if (c.q != core::quorum_safe(c.n, c.f)) {
    why = "q = " + std::to_string(c.q) + " but quorum_safe(" + std::to_string(c.n) + ", " +
          std::to_string(c.f) + ") = " + std::to_string(core::quorum_safe(c.n, c.f));
  }
  const bool quorum_ok = add("quorum", why, "n = " + std::to_string(c.n) + ", f = " + std::to_string(c.f) +
                                                ", q = " + std::to_string(c.q) + " = max(2f+1, floor((n+f)/2)+1)");

  std::vector<const cc::SignedAnswer*> all;
  for (const auto& round : c.rounds) {
    for (const auto& a : round.answers) all.push_back(&a);
  }
  add("answer-ids", check_answer_ids(c.agreement, c.agreement_param, all),
      std::to_string(all.size()) + " answer ids recomputed under the " +
          cc::agreement_rule_name(c.agreement) + " rule");

  why.clear();
  for (std::uint32_t r = 0; r < c.rounds.size() && why.empty(); ++r) {
    for (const auto& a : c.rounds[r].answers) {
      if (a.worker >= mr.workers.size()) {
        why = "worker " + std::to_string(a.worker) + " is not in the membership";
        break;
      }
      const auto msg = cc::answer_signing_message(c.query_id, r, c.membership_digest, a.answer, a.payload);
      if (!verify(mr.workers[a.worker].key, msg, a.signature)) {
        why = "round " + std::to_string(r) + ": " + w_name(membership, a.worker) +
              "'s signature does not verify under its public key";
        break;
      }
    }
  }
  add("worker-signatures", why, std::to_string(all.size()) + " signatures verify");

  why.clear();
  core::SignerMask equivocated = 0;
  for (std::uint32_t r = 0; r < c.rounds.size() && why.empty(); ++r) {
    core::SignerMask answering = 0;
    core::SignerMask twice = 0;
    std::uint32_t eligible = 0;
    for (std::uint32_t w = 0; w < c.n; ++w) {
      const core::Reputation rp{c.reputation[w].value, c.reputation[w].isolated};
      if (core::reputation_eligible(rp) && ((equivocated >> w) & 1U) == 0) ++eligible;
    }
    for (const auto& a : c.rounds[r].answers) {
      const core::SignerMask me = core::SignerMask{1} << a.worker;
      const core::Reputation rp{c.reputation[a.worker].value, c.reputation[a.worker].isolated};
      if (!core::reputation_eligible(rp)) {
        why = "round " + std::to_string(r) + ": " + w_name(membership, a.worker) +
              " is excluded by the reputation snapshot but its answer is counted";
        break;
      }
      if ((equivocated & me) != 0) {
        why = "round " + std::to_string(r) + ": " + w_name(membership, a.worker) +
              " equivocated in an earlier round and must stay isolated";
        break;
      }
      if ((answering & me) != 0) twice |= me;
      answering |= me;
    }
    if (why.empty() && core::signer_count(answering) > c.rounds[r].reachable) {
      why = "round " + std::to_string(r) + ": " + std::to_string(core::signer_count(answering)) +
            " workers answered but only " + std::to_string(c.rounds[r].reachable) + " are claimed reachable";
    }
    if (why.empty() && c.rounds[r].reachable > eligible) {
      why = "round " + std::to_string(r) + " claims " + std::to_string(c.rounds[r].reachable) +
            " reachable workers but only " + std::to_string(eligible) + " are eligible";
    }
    equivocated |= twice;
  }
  add("signers", why, "members, eligible, distinct per round; " +
                          std::to_string(core::signer_count(equivocated)) + " equivocator(s) isolated");

  if (quorum_ok && membership_ok) {
    auto m = core::make_membership(c.n, c.f);
    add("decision", m ? check_decision(c, *m) : m.error().message,
        std::string(core::outcome_name(c.outcome)) + " recomputed with core decide over " +
            std::to_string(c.rounds.size()) + " round(s)" +
            (c.outcome == core::Outcome::decided
                 ? ", cluster of " + std::to_string(core::signer_count(c.decided_signers))
                 : ""));
  } else {
    add("decision", "not recomputed: the membership or quorum check failed", "");
  }

  add("fusion", check_fusion(c),
      c.outcome == core::Outcome::decided
          ? std::string(fusion::rule_name(static_cast<fusion::RuleId>(c.fusion_rule))) +
                " recomputed bit for bit"
          : "no fusion for " + std::string(core::outcome_name(c.outcome)));

  add("head-signature",
      verify(mr.head_key, cc::certificate_signing_message(bytes), c.head_signature)
          ? ""
          : "the head's signature does not verify under the membership's head key",
      "verifies under the membership's head key");

  // Task checks: their encoding and limits were checked by the decoder; solving them needs Z3, which
  // the runtime does not link (`butterfly cert verify --z3` adds one "task <i>" line per check).
  if (c.tasks.empty()) {
    rep.checks.push_back({"task-checks", CheckState::skip, "the certificate carries no task checks"});
  } else {
    rep.checks.push_back({"task-checks", CheckState::skip,
                          std::to_string(c.tasks.size()) +
                              " task check(s) well-formed and covered by the head signature; `cert verify --z3` solves them"});
  }

  if (!options.manifest) {
    rep.checks.push_back({"proofs", CheckState::skip,
                          std::to_string(c.invariants.size()) + " invariant(s) named; give --manifest proofs/MANIFEST to check their digests"});
  } else {
    why.clear();
    for (const auto& inv : c.invariants) {
      auto it = options.manifest->find(inv.id);
      if (it == options.manifest->end()) {
        why = "invariant " + inv.id + " is not in the manifest";
        break;
      }
      if (it->second != inv.proof_sha256) {
        why = "proofs/" + inv.id + ".smt2 has sha256 " + hex(it->second).substr(0, 16) +
              "... but the certificate relied on " + hex(inv.proof_sha256).substr(0, 16) + "...";
        break;
      }
    }
    add("proofs", why, std::to_string(c.invariants.size()) + " proof digest(s) match the manifest");
  }
  return rep;
}

Report verify_equivocation(std::span<const std::uint8_t> bytes, const Membership& membership) {
  Report rep;
  rep.hash = blake2b(bytes);
  auto add = [&](const char* name, const Reason& why, const std::string& ok_detail) {
    rep.checks.push_back({name, why.empty() ? CheckState::pass : CheckState::fail, why.empty() ? ok_detail : why});
  };
  auto decoded = cc::decode_equivocation(bytes);
  add("encoding", decoded ? "" : decoded.error().message, "equivocation record, version 1");
  if (!decoded) return rep;
  const cc::EquivocationRecord& e = *decoded;
  const auto& mr = membership.record;
  Reason why;
  if (e.membership_digest != membership.digest) why = "the record names another membership";
  else if (e.epoch != mr.epoch) why = "epoch differs from the membership's";
  else if (e.worker >= mr.n) why = "worker " + std::to_string(e.worker) + " is not a member";
  add("membership", why, "digest and epoch match");
  if (!why.empty()) return rep;
  add("answer-ids", check_answer_ids(e.agreement, e.agreement_param, {&e.first, &e.second}),
      "both answer ids recomputed; they differ");
  why.clear();
  for (const auto* a : {&e.first, &e.second}) {
    const auto msg = cc::answer_signing_message(e.query_id, e.round, e.membership_digest, a->answer, a->payload);
    if (!verify(mr.workers[e.worker].key, msg, a->signature)) {
      why = w_name(membership, e.worker) + "'s signature on answer " + hex(a->answer).substr(0, 16) +
            "... does not verify";
    }
  }
  add("worker-signatures", why,
      "two valid signatures by " + w_name(membership, e.worker) + " over different answers for round " +
          std::to_string(e.round) + ": equivocation proven");
  return rep;
}

Report verify_membership_transition(std::span<const std::uint8_t> bytes, const Membership& from) {
  Report rep;
  rep.hash = blake2b(bytes);
  auto add = [&](const char* name, const Reason& why, const std::string& ok_detail) {
    rep.checks.push_back({name, why.empty() ? CheckState::pass : CheckState::fail, why.empty() ? ok_detail : why});
    return why.empty();
  };
  auto decoded = cc::decode_membership_transition(bytes);
  if (!add("encoding", decoded ? "" : decoded.error().message, "membership transition, version 1")) return rep;
  const cc::MembershipTransition& t = *decoded;
  add("old-membership",
      t.old_digest == from.digest ? ""
                                  : "the transition starts from membership " + hex(t.old_digest).substr(0, 16) +
                                        "..., not the given one " + hex(from.digest).substr(0, 16) + "...",
      "starts from digest " + hex(from.digest).substr(0, 16) + "..., epoch " + std::to_string(from.record.epoch));
  Reason why;
  if (t.next.cluster_id != from.record.cluster_id) {
    why = "the new cluster id '" + t.next.cluster_id + "' differs from '" + from.record.cluster_id + "'";
  } else if (t.next.epoch <= from.record.epoch) {
    why = "the new epoch " + std::to_string(t.next.epoch) + " is not greater than the old epoch " +
          std::to_string(from.record.epoch);
  }
  add("epoch", why, "epoch " + std::to_string(from.record.epoch) + " -> " + std::to_string(t.next.epoch) +
                        ", cluster " + t.next.cluster_id);
  add("head-signature",
      verify(from.record.head_key, cc::membership_transition_signing_message(bytes), t.head_signature)
          ? ""
          : "the signature does not verify under the old membership's head key",
      "signed by the old membership's head key");
  return rep;
}

Result<std::map<std::string, Digest>> read_manifest(const std::filesystem::path& path) {
  auto raw = read_file(path, 1u << 20, "manifest");
  if (!raw) return raw.error();
  std::map<std::string, Digest> out;
  std::istringstream in(std::string(raw->begin(), raw->end()));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string digest, file;
    fields >> digest >> file;
    auto d = hex32(digest, "manifest digest");
    const std::string suffix = ".smt2";
    if (!d || file.size() <= suffix.size() || file.substr(file.size() - suffix.size()) != suffix) {
      return Error{Errc::invalid_argument, path.string() + ": expected '<sha256>  <ID>.smt2' lines, got '" + line + "'"};
    }
    out[file.substr(0, file.size() - suffix.size())] = *d;
  }
  return out;
}

Result<LogReport> verify_log(const std::filesystem::path& dir, const Membership& membership,
                             const VerifyOptions& options) {
  std::error_code ec;
  std::vector<std::string> certs, evidence, transitions;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string name = it->path().filename().string();
    if (name.ends_with(".cert")) certs.push_back(name);
    if (name.ends_with(".equivocation")) evidence.push_back(name);
    if (name.ends_with(".transition")) transitions.push_back(name);
    if (certs.size() + evidence.size() + transitions.size() > log_files_max) {
      return Error{Errc::invalid_argument, dir.string() + ": more than 100000 log files; verify it in parts"};
    }
  }
  if (ec) return Error{Errc::invalid_argument, dir.string() + ": " + ec.message()};
  if (certs.empty()) return Error{Errc::invalid_argument, dir.string() + " holds no *.cert files"};
  std::sort(certs.begin(), certs.end());
  std::sort(evidence.begin(), evidence.end());
  LogReport log;
  auto broken = [&](const std::string& why) {
    if (!log.broken) log.broken = why;
  };
  // Membership epochs: *.transition files, each signed by the head of the membership it leaves.
  // The log starts under the given membership and moves to the next epoch only through a
  // transition that verifies against the membership in force, so a certificate under any other
  // membership fails its membership check.
  struct Transition {
    std::string file;
    Bytes bytes;
    cc::MembershipRecord next;
  };
  std::map<Digest, Transition> transition_from;  // by the digest of the membership it leaves
  std::sort(transitions.begin(), transitions.end());
  for (const auto& name : transitions) {
    auto bytes = read_file(dir / name, cc::membership_transition_bytes_max, "membership transition");
    auto decoded = bytes ? cc::decode_membership_transition(*bytes) : Result<cc::MembershipTransition>(bytes.error());
    if (!decoded) {
      LogEntry entry{name, {}};
      entry.report.checks.push_back({"encoding", CheckState::fail, decoded.error().message});
      broken(name + ": encoding failed: " + decoded.error().message);
      log.entries.push_back(std::move(entry));
      continue;
    }
    if (!transition_from.emplace(decoded->old_digest, Transition{name, std::move(bytes.value()), decoded->next}).second) {
      broken(name + ": a second transition out of membership " + hex(decoded->old_digest).substr(0, 16) +
             "...: a membership may change only once per epoch");
    }
  }
  Membership current = membership;
  std::map<Digest, Membership> known{{membership.digest, membership}};
  // Follows transitions out of `current` until it has digest `wanted` or no transition applies.
  auto advance_to = [&](const Digest& wanted) {
    while (current.digest != wanted) {
      auto it = transition_from.find(current.digest);
      if (it == transition_from.end()) return;
      LogEntry entry{it->second.file, verify_membership_transition(it->second.bytes, current)};
      const bool good = entry.report.ok();
      if (const Check* f = entry.report.first_failure()) broken(entry.file + ": " + f->name + " failed: " + f->detail);
      log.entries.push_back(std::move(entry));
      cc::MembershipRecord record = std::move(it->second.next);
      transition_from.erase(it);
      if (!good) return;
      auto next = membership_from_record(std::move(record));
      if (!next) return;
      current = std::move(next.value());
      known.emplace(current.digest, current);
    }
  };
  std::optional<std::pair<std::uint64_t, Digest>> previous;  // (sequence, hash)
  std::string previous_name;
  for (const auto& name : certs) {
    auto bytes = read_file(dir / name, cc::record_bytes_max, "certificate");
    LogEntry entry{name, {}};
    if (!bytes) {
      entry.report.checks.push_back({"encoding", CheckState::fail, bytes.error().message});
    } else {
      entry.report = verify_certificate(*bytes, current, options);
      // Only at an epoch change is the certificate checked a second time, under the next membership.
      if (entry.report.certificate && entry.report.certificate->membership_digest != current.digest) {
        const Digest before = current.digest;
        advance_to(entry.report.certificate->membership_digest);
        if (current.digest != before) entry.report = verify_certificate(*bytes, current, options);
      }
    }
    if (const Check* f = entry.report.first_failure()) broken(name + ": " + f->name + " failed: " + f->detail);
    if (entry.report.certificate) {
      const auto& c = *entry.report.certificate;
      if (!previous) {
        if (c.sequence != 1 || c.previous_hash != Digest{}) {
          broken(name + ": the log starts at sequence " + std::to_string(c.sequence) +
                 ", not 1 with a zero previous hash: earlier certificates were removed");
        }
      } else if (c.sequence != previous->first + 1) {
        broken(name + ": sequence " + std::to_string(c.sequence) + " follows " + previous_name +
               "'s sequence " + std::to_string(previous->first) +
               (c.sequence > previous->first + 1 ? ": a certificate was removed" : ": certificates were reordered"));
      } else if (c.previous_hash != previous->second) {
        broken(name + ": its previous hash is not " + previous_name +
               "'s hash: the chain is broken (a certificate was replaced or altered)");
      }
      previous = std::pair(c.sequence, entry.report.hash);
    } else {
      previous.reset();
    }
    previous_name = name;
    log.entries.push_back(std::move(entry));
  }
  for (const auto& name : evidence) {
    auto bytes = read_file(dir / name, cc::record_bytes_max, "equivocation record");
    LogEntry entry{name, {}};
    if (!bytes) {
      entry.report.checks.push_back({"encoding", CheckState::fail, bytes.error().message});
    } else {
      auto e = cc::decode_equivocation(*bytes);
      auto it = e ? known.find(e->membership_digest) : known.end();
      entry.report = verify_equivocation(*bytes, it != known.end() ? it->second : membership);
    }
    if (const Check* f = entry.report.first_failure()) broken(name + ": " + f->name + " failed: " + f->detail);
    log.entries.push_back(std::move(entry));
  }
  // Transitions after the last certificate are checked too; any left over start from a membership
  // this log never reached.
  while (transition_from.contains(current.digest)) {
    const Digest before = current.digest;
    advance_to(Digest{});
    if (current.digest == before) break;
  }
  for (const auto& [old_digest, t] : transition_from) {
    broken(t.file + ": it leaves membership " + hex(old_digest).substr(0, 16) +
           "..., which this log never reached from the given membership");
  }
  return log;
}

namespace {
nlohmann::json answer_json(const cc::SignedAnswer& a) {
  return {{"worker", a.worker}, {"answer_id", hex(a.answer)}, {"payload_hex", hex(a.payload)},
          {"signature", hex(a.signature)}};
}
}  // namespace

nlohmann::json certificate_json(const cc::Certificate& c, const Digest& hash) {
  nlohmann::json rounds = nlohmann::json::array();
  for (const auto& r : c.rounds) {
    nlohmann::json answers = nlohmann::json::array();
    for (const auto& a : r.answers) {
      auto j = answer_json(a);
      if (c.agreement == cc::AgreementRule::numeric) {
        if (auto v = cc::i64_from(a.payload, "payload")) j["value_micro"] = *v;
      }
      answers.push_back(j);
    }
    rounds.push_back({{"reachable", r.reachable}, {"answers", answers}});
  }
  nlohmann::json reputation = nlohmann::json::array();
  for (const auto& s : c.reputation) reputation.push_back({{"value", s.value}, {"isolated", s.isolated}});
  nlohmann::json signers = nlohmann::json::array();
  for (std::uint32_t w = 0; w < 64; ++w) {
    if (((c.decided_signers >> w) & 1U) != 0) signers.push_back(w);
  }
  nlohmann::json invariants = nlohmann::json::array();
  for (const auto& i : c.invariants) invariants.push_back({{"id", i.id}, {"proof_sha256", hex(i.proof_sha256)}});
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& t : c.tasks) {
    tasks.push_back({{"kind", cc::task_kind_name(t.kind)}, {"expected", cc::task_expect_name(t.expected)},
                     {"smtlib", t.text}});
  }
  nlohmann::json out = {
      {"format", "butterfly-certificate"}, {"version", cc::certificate_version}, {"hash", hex(hash)},
      {"membership_digest", hex(c.membership_digest)}, {"epoch", c.epoch}, {"n", c.n}, {"f", c.f},
      {"q", c.q}, {"quorum_rule", core::quorum_rule_name(c.rule)}, {"query_id", hex(c.query_id)},
      {"sequence", c.sequence}, {"previous_hash", hex(c.previous_hash)},
      {"outcome", core::outcome_name(c.outcome)}, {"agreement_rule", cc::agreement_rule_name(c.agreement)},
      {"agreement_parameter", c.agreement_param}, {"rounds_allowed", c.rounds_max},
      {"reputation_snapshot", reputation}, {"rounds", rounds}, {"decided_signers", signers},
      {"decided_answer_id", hex(c.decided_answer)}, {"invariants", invariants}, {"task_checks", tasks},
      {"head_signature", hex(c.head_signature)}};
  if (c.outcome == core::Outcome::decided) {
    const auto rule = static_cast<fusion::RuleId>(c.fusion_rule);
    nlohmann::json fj = {{"rule", fusion::rule_name(rule)}, {"parameters_hex", hex(c.fusion_params)},
                         {"output_hex", hex(c.fused_output)}, {"output_digest", hex(blake2b(c.fused_output))}};
    if (auto v = cc::i64_from(c.fused_output, "fused")) fj["value_micro"] = *v;
    out["fusion"] = fj;
  }
  return out;
}

nlohmann::json equivocation_json(const cc::EquivocationRecord& e) {
  return {{"format", "butterfly-equivocation"}, {"version", cc::format_version},
          {"membership_digest", hex(e.membership_digest)}, {"epoch", e.epoch},
          {"query_id", hex(e.query_id)}, {"round", e.round}, {"worker", e.worker},
          {"agreement_rule", cc::agreement_rule_name(e.agreement)}, {"agreement_parameter", e.agreement_param},
          {"first", answer_json(e.first)}, {"second", answer_json(e.second)}};
}

nlohmann::json report_json(const Report& r) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks) {
    checks.push_back({{"check", c.name}, {"result", check_state_name(c.state)}, {"detail", c.detail}});
  }
  return {{"verdict", r.ok() ? "PASS" : "FAIL"}, {"hash", hex(r.hash)}, {"checks", checks}};
}

}  // namespace bf::runtime
