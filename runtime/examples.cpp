#include "runtime/examples.hpp"

#include <sstream>

namespace bf::runtime {
namespace cc = core::cert;
namespace fusion = core::fusion;

namespace {

Bytes micro(std::int64_t v) { return cc::i64_bytes(v); }
Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

Seed fill(std::uint8_t v) {
  Seed s{};
  s.fill(v);
  return s;
}

std::string wrapped_hex(const Bytes& b) {
  const std::string h = hex(b);
  std::string out;
  for (std::size_t i = 0; i < h.size(); i += 64) out += h.substr(i, 64) + "\n";
  return out;
}

}  // namespace

Result<Examples> make_examples(const std::vector<cc::InvariantRef>& invariants, const ExampleOptions& options) {
  Examples ex;
  const std::vector<std::string> ids = {"alpha", "bravo", "charlie", "delta"};
  std::vector<Keypair> keys;
  std::vector<cc::MemberKey> members;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ex.worker_seeds.push_back(fill(static_cast<std::uint8_t>(i + 1)));
    keys.push_back(keypair_from_seed(ex.worker_seeds.back()));
    members.push_back({ids[i], keys.back().public_key});
  }
  ex.head_seed = fill(0x7f);
  const Keypair head = keypair_from_seed(ex.head_seed);
  auto membership = make_membership_record("example", 1, 1, head.public_key, members);
  if (!membership) return membership.error();
  ex.membership = std::move(membership.value());

  ProduceRequest base;
  base.membership = &ex.membership;
  base.worker_keys = keys;
  base.head_key = head;
  base.invariants = invariants;
  Digest previous{};
  std::vector<cc::SnapshotEntry> reputation;
  std::uint64_t sequence = 1;
  auto run = [&](ProduceRequest req, const std::string& title) -> Result<Produced> {
    req.sequence = sequence;
    req.previous_hash = previous;
    req.reputation = reputation;
    auto p = produce_certificate(req);
    if (!p) return p;
    char name[32];
    std::snprintf(name, sizeof name, "%06llu", static_cast<unsigned long long>(sequence));
    ex.log.push_back({std::string(name) + ".cert", title, p->bytes});
    for (const auto& e : p->equivocation_bytes) {
      ex.log.push_back({std::string(name) + ".equivocation", std::string("equivocation by delta in certificate ") + name, e});
    }
    previous = p->hash;
    reputation = p->reputation_after;
    ++sequence;
    return p;
  };

  // 1. Decided: numeric answers agree at 0 decimals (42, 42, 42.1); delta answers 9000 and is
  // outvoted; median over the decided cluster.
  ProduceRequest decided = base;
  decided.agreement = cc::AgreementRule::numeric;
  decided.rule = fusion::RuleId::median;
  decided.rounds = {{4, {{0, micro(42'000'000)}, {1, micro(42'000'000)}, {2, micro(42'100'000)}, {3, micro(9'000'000'000)}}}};
  if (auto p = run(decided, "Decided: median of 42, 42, 42.1 (delta's 9000 outvoted)"); !p) return p.error();

  // 2. NoConsensus: two rounds (R = 2), the answers stay split 2-2.
  ProduceRequest split = base;
  split.agreement = cc::AgreementRule::numeric;
  split.rounds_max = 2;
  split.rounds = {{4, {{0, micro(1'000'000)}, {1, micro(2'000'000)}, {2, micro(3'000'000)}, {3, micro(4'000'000)}}},
                  {4, {{0, micro(1'000'000)}, {1, micro(1'000'000)}, {2, micro(2'000'000)}, {3, micro(2'000'000)}}}};
  if (auto p = run(split, "NoConsensus: two rounds, answers split 2-2"); !p) return p.error();

  // 3. Decided with equivocation: delta signs "Paris" and "Lyon" in one round; the three honest
  // workers decide "Paris" by weighted vote; the pair is kept as evidence.
  ProduceRequest equivocation = base;
  equivocation.query = text("What is the capital of France?");
  equivocation.agreement = cc::AgreementRule::exact;
  equivocation.rule = fusion::RuleId::weighted_vote;
  equivocation.rounds = {{4, {{0, text("Paris")}, {3, text("Paris")}, {1, text("Paris")}, {3, text("Lyon")}, {2, text("Paris")}}}};
  if (auto p = run(equivocation, "Decided with equivocation evidence from delta"); !p) return p.error();

  // 4. NoQuorum: only two workers reachable (delta is isolated, charlie cut off): fail closed.
  ProduceRequest cut = base;
  cut.agreement = cc::AgreementRule::numeric;
  cut.rounds = {{2, {{0, micro(5'000'000)}, {1, micro(5'000'000)}}}};
  if (auto p = run(cut, "NoQuorum: two of four reachable"); !p) return p.error();

  // 5. Decided text answer with a task check: is the formula satisfiable? alpha, bravo and charlie
  // answer "unsat" (delta is still isolated); the certificate carries the formula for Z3, expected
  // unsat, under the head signature.
  ProduceRequest formula = base;
  formula.query = text(std::string("Is this satisfiable? ") + example_task_formula);
  formula.agreement = cc::AgreementRule::exact;
  formula.rule = fusion::RuleId::weighted_vote;
  formula.rounds = {{3, {{0, text("unsat")}, {1, text("unsat")}, {2, text("unsat")}}}};
  formula.task_checks = {{cc::TaskKind::z3_smtlib,
                          options.wrong_task_expectation ? cc::TaskExpect::sat : cc::TaskExpect::unsat,
                          example_task_formula}};
  if (auto p = run(formula, "Decided text answer with a Z3 task check (expected unsat)"); !p) return p.error();
  return ex;
}

std::string spec_vectors(const Examples& ex) {
  std::ostringstream out;
  out << "### Membership (canonical encoding; digest " << hex(ex.membership.digest) << ")\n\n```hex\n"
      << wrapped_hex(ex.membership.canonical) << "```\n";
  const char* wanted[] = {"000001.cert", "000002.cert", "000003.equivocation", "000005.cert"};
  for (const char* name : wanted) {
    for (const auto& f : ex.log) {
      if (f.name != name) continue;
      out << "\n### " << f.title << " (" << f.name << ", " << f.bytes.size() << " bytes)\n\n```hex\n"
          << wrapped_hex(f.bytes) << "```\n";
    }
  }
  // A membership transition: the example head replaces delta (the Byzantine worker) with echo
  // (seed 5) at epoch 2, signed by the epoch-1 head key.
  const Keypair head = keypair_from_seed(ex.head_seed);
  std::vector<cc::MemberKey> next_workers;
  for (const auto& w : ex.membership.record.workers) {
    if (w.id != "delta") next_workers.push_back(w);
  }
  next_workers.push_back({"echo", keypair_from_seed(fill(5)).public_key});
  auto next = make_membership_record(ex.membership.record.cluster_id, ex.membership.record.epoch + 1,
                                     ex.membership.record.f, head.public_key, std::move(next_workers));
  if (next) {
    auto transition = make_membership_transition(ex.membership, *next, head);
    if (transition) {
      out << "\n### Membership transition, epoch 1 to 2: delta replaced by echo (" << transition->size()
          << " bytes; new membership digest " << hex(next->digest) << ")\n\n```hex\n"
          << wrapped_hex(*transition) << "```\n";
    }
  }
  return out.str();
}

}  // namespace bf::runtime
