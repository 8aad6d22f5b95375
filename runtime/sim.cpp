#include "runtime/sim.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <set>

#include "runtime/auditor.hpp"

namespace bf::runtime::sim {
namespace cc = core::cert;

namespace {

constexpr std::uint32_t rounds_max = 3;
constexpr std::uint64_t steps_max = 200'000;  // a runaway run is a liveness failure, not a hang

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed ^ 0x6A09E667F3BCC909ULL) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) { return lo + next() % (hi - lo + 1); }  // [lo, hi]
  bool chance(double p) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }

 private:
  std::uint64_t s_;
};

// Fixed keys: the simulator needs valid signatures, not secret ones. Built once per n.
struct Cluster {
  Membership membership;
  Keypair head;
  std::vector<Keypair> workers;  // by membership index
};

const Cluster& cluster_for(std::uint32_t n, std::uint32_t f) {
  static std::map<std::pair<std::uint32_t, std::uint32_t>, Cluster> cache;
  auto it = cache.find({n, f});
  if (it != cache.end()) return it->second;
  Cluster c;
  Seed hs{};
  hs[0] = 0xAA;
  c.head = keypair_from_seed(hs);
  std::vector<cc::MemberKey> members;
  std::vector<Keypair> keys;
  for (std::uint32_t w = 0; w < n; ++w) {
    Seed s{};
    s[0] = static_cast<std::uint8_t>(w + 1);
    keys.push_back(keypair_from_seed(s));
    members.push_back({"w" + std::string(w < 10 ? "0" : "") + std::to_string(w), keys.back().public_key});
  }
  auto m = make_membership_record("sim", 1, f, c.head.public_key, members);
  c.membership = m ? m.value() : Membership{};
  // Ids "w00".."w63" sort in index order, so membership index w is keys[w].
  c.workers = std::move(keys);
  return cache.emplace(std::pair{n, f}, std::move(c)).first->second;
}

std::string query_text(std::uint64_t a, std::uint64_t b) {
  return "What is " + std::to_string(a) + "+" + std::to_string(b) + "?";
}

// The simulated model: reads "What is A+B?" from the prompt's first line.
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_sum(std::string_view prompt) {
  const std::string_view head = "What is ";
  if (prompt.substr(0, head.size()) != head) return std::nullopt;
  std::uint64_t a = 0, b = 0;
  std::size_t i = head.size();
  auto digits = [&](std::uint64_t& v) {
    const std::size_t start = i;
    while (i < prompt.size() && prompt[i] >= '0' && prompt[i] <= '9' && i - start < 9) v = v * 10 + static_cast<std::uint64_t>(prompt[i++] - '0');
    return i > start;
  };
  if (!digits(a) || i >= prompt.size() || prompt[i++] != '+' || !digits(b)) return std::nullopt;
  return std::pair{a, b};
}

std::string honest_text(std::uint64_t sum) { return "The answer is " + std::to_string(sum) + "."; }

struct Event {
  Millis t = 0;
  std::uint64_t seq = 0;
  enum Kind : std::uint8_t { submit, ask, answer, crash, restart } kind = submit;
  core::WorkerIndex worker = 0;
  proto::Ask ask_msg;
  proto::Answer answer_msg;
  std::uint32_t query = 0;  // submit: index into the query list
  bool operator>(const Event& o) const { return std::pair(t, seq) > std::pair(o.t, o.seq); }
};

struct QueryInfo {
  std::string text;
  std::uint64_t sum = 0;
  Millis submitted = 0;
  std::optional<QueryHandle> handle;
  bool done = false;
  core::Outcome outcome = core::Outcome::pending;
  Millis done_at = 0;
};

class Run {
 public:
  explicit Run(const Scenario& s)
      : s_(s), cl_(cluster_for(s.n, s.f)), rng_(s.seed * 0x2545F4914F6CDD1DULL + 7),
        head_(make_head_config()) {
    auto m = core::make_membership(s.n, s.f, s.unsafe_seed_quorum ? core::QuorumRule::seed_2f_plus_1
                                                                   : core::QuorumRule::safe, true);
    q_ = m ? m->q : 0;
    result_.seed = s.seed;
  }

  RunResult go() {
    if (auto ok = check_head_config(make_head_config()); !ok) {
      violate("setup", ok.error().message);
      return result_;
    }
    workers_.resize(s_.n);
    for (core::WorkerIndex w = 0; w < s_.n; ++w) {
      start_worker(w);
      head_.on_connected(w, 0);
    }
    stable_ = s_.heal_at;
    for (core::WorkerIndex w = 0; w < s_.n; ++w) {
      if (w < s_.crashes.size() && s_.crashes[w]) {
        const Millis at = rng_.uniform(0, s_.heal_at + 200);
        const Millis back = at + rng_.uniform(50, 600);
        stable_ = std::max(stable_, back);
        push({at, 0, Event::crash, w, {}, {}, 0});
        push({back, 0, Event::restart, w, {}, {}, 0});
      }
    }
    for (std::uint32_t i = 0; i < s_.queries; ++i) {
      QueryInfo qi;
      const std::uint64_t a = rng_.uniform(0, 999), b = rng_.uniform(0, 999);
      qi.text = query_text(a, b);
      qi.sum = a + b;
      // The last query always comes after the network is stable, so liveness is checked every run.
      qi.submitted = i + 1 == s_.queries ? stable_ + rng_.uniform(0, 300) : rng_.uniform(0, stable_ + 1500);
      queries_.push_back(qi);
      push({qi.submitted, 0, Event::submit, 0, {}, {}, i});
    }
    std::uint64_t steps = 0;
    while (++steps < steps_max) {
      const auto deadline = head_.next_deadline();
      if (events_.empty() && !deadline) break;
      if (deadline && (events_.empty() || *deadline < events_.top().t)) {
        now_ = std::max(now_, *deadline);
        head_.on_tick(now_);
        drain_head();
        continue;
      }
      Event e = events_.top();
      events_.pop();
      now_ = std::max(now_, e.t);
      handle(e);
    }
    if (steps >= steps_max) violate("liveness", "the run did not settle within " + std::to_string(steps_max) + " steps");
    check_liveness();
    result_.end_time = now_;
    return result_;
  }

 private:
  HeadConfig make_head_config() const {
    HeadConfig hc;
    hc.membership = cl_.membership;
    hc.head_key = cl_.head;
    hc.rounds_max = rounds_max;
    hc.round_timeout_ms = s_.round_timeout;
    hc.unsafe_seed_quorum = s_.unsafe_seed_quorum;
    return hc;
  }

  ByzantineKind kind(core::WorkerIndex w) const { return w < s_.kinds.size() ? s_.kinds[w] : ByzantineKind::none; }

  void start_worker(core::WorkerIndex w) {
    WorkerConfig wc;
    wc.membership = cl_.membership;
    wc.key = cl_.workers[w];
    wc.self = w;
    wc.byzantine = kind(w);
    wc.seed = s_.seed ^ (0x1234567ULL * (w + 1));
    wc.slow_ms = s_.round_timeout + 100;
    workers_[w].emplace(std::move(wc));
    last_answer_[w].reset();
  }

  void push(Event e) {
    e.seq = ++seq_;
    events_.push(std::move(e));
  }

  bool cut(core::WorkerIndex w) { return now_ < s_.heal_at && (((s_.partitioned >> w) & 1U) != 0 || rng_.chance(s_.drop)); }

  void send(Event e, Millis at) {
    ++result_.messages;
    if (cut(e.worker)) return;
    e.t = at + rng_.uniform(1, std::max<Millis>(1, s_.delay_max));
    if (rng_.chance(s_.duplicate)) {
      Event copy = e;
      copy.t = at + rng_.uniform(1, std::max<Millis>(1, s_.delay_max));
      push(std::move(copy));
    }
    push(std::move(e));
  }

  void handle(const Event& e) {
    log([&] {
      static constexpr std::array<const char*, 5> names{"submit", "ask", "answer", "crash", "restart"};
      std::string line = std::string(names[e.kind]) + " worker " + std::to_string(e.worker);
      if (e.kind == Event::ask) line += " query " + hex(e.ask_msg.query_id).substr(0, 8) + " round " + std::to_string(e.ask_msg.round);
      if (e.kind == Event::answer) {
        line += " query " + hex(e.answer_msg.query_id).substr(0, 8) + " round " + std::to_string(e.answer_msg.round) +
                " answer " + hex(e.answer_msg.answer.answer).substr(0, 8) + " '" + e.answer_msg.text + "'";
      }
      if (e.kind == Event::submit) line += " query " + std::to_string(e.query) + " '" + queries_[e.query].text + "'";
      return line;
    });
    switch (e.kind) {
      case Event::submit: {
        QueryInfo& qi = queries_[e.query];
        QueryRequest r;
        r.text = qi.text;
        r.mode = s_.debate ? proto::Mode::debate : proto::Mode::vote;
        r.agreement = s_.numeric ? cc::AgreementRule::numeric : cc::AgreementRule::exact;
        qi.handle = head_.submit(std::move(r), now_);
        by_handle_[*qi.handle] = e.query;
        drain_head();
        break;
      }
      case Event::ask:
        if (workers_[e.worker]) {
          workers_[e.worker]->on_ask(e.ask_msg, now_);
          drain_worker(e.worker);
        }
        break;
      case Event::answer:
        head_.on_answer(e.worker, e.answer_msg, now_);
        drain_head();
        break;
      case Event::crash:
        workers_[e.worker].reset();
        head_.on_disconnected(e.worker, now_);
        drain_head();
        break;
      case Event::restart:
        start_worker(e.worker);
        head_.on_connected(e.worker, now_);
        drain_head();
        break;
    }
  }

  ModelOutput model(core::WorkerIndex w, const proto::Ask& ask) {
    const auto sum = parse_sum(ask.prompt);
    // Split honest workers: the honest upper half of the membership believes the collusion answer.
    if (s_.split_honest && kind(w) == ByzantineKind::none && w >= (s_.n + 1) / 2) return {collusion_text(ask.agreement, ask.query_id), {}};
    return {sum ? honest_text(sum->first + sum->second) : std::string("I do not know"), {}};
  }

  void drain_worker(core::WorkerIndex w) {
    for (int guard = 0; guard < 16 && workers_[w]; ++guard) {
      auto actions = workers_[w]->take_actions();
      if (actions.empty()) return;
      for (auto& a : actions) {
        if (auto* run = std::get_if<RunModel>(&a)) {
          workers_[w]->on_model_done(run->job, model(w, run->ask), now_);
        } else if (auto* ans = std::get_if<SendAnswer>(&a)) {
          record_signed(ans->answer);
          last_answer_[w] = ans->answer;
          Event e;
          e.kind = Event::answer;
          e.worker = w;
          e.answer_msg = ans->answer;
          send(std::move(e), std::max(now_, ans->not_before));
        } else if (std::get_if<ReplayLast>(&a) != nullptr && last_answer_[w]) {
          Event e;
          e.kind = Event::answer;
          e.worker = w;
          e.answer_msg = *last_answer_[w];
          send(std::move(e), now_);
        }
        // SendMalformed: the protocol layer drops a frame that fails to decode; nothing arrives.
      }
    }
  }

  // Safety: every validly signed answer any worker produced, per (query, round); two different
  // answers each with q signers means two views of the round could decide differently.
  void record_signed(const proto::Answer& a) {
    auto& clusters = signed_[{a.query_id, a.round}];
    clusters[a.answer.answer] |= core::SignerMask{1} << a.answer.worker;
    std::uint32_t at_quorum = 0;
    for (const auto& [id, mask] : clusters) at_quorum += core::signer_count(mask) >= q_ ? 1 : 0;
    if (at_quorum >= 2 && reported_conflict_.insert({a.query_id, a.round}).second) {
      violate("conflicting-quorums", "two different answers each reached q = " + std::to_string(q_) +
                                         " signatures in query " + hex(a.query_id).substr(0, 12) + " round " +
                                         std::to_string(a.round));
    }
  }

  void drain_head() {
    for (int guard = 0; guard < 64; ++guard) {
      auto actions = head_.take_actions();
      if (actions.empty()) return;
      for (auto& a : actions) {
        if (auto* ask = std::get_if<SendAsk>(&a)) {
          if (isolated_.count(ask->worker) != 0) {
            violate("isolation", "the head asked worker " + std::to_string(ask->worker) + " after isolating it");
          }
          log([&] { return "send ask worker " + std::to_string(ask->worker) + " round " + std::to_string(ask->ask.round); });
          Event e;
          e.kind = Event::ask;
          e.worker = ask->worker;
          e.ask_msg = ask->ask;
          send(std::move(e), now_);
        } else if (auto* det = std::get_if<Detection>(&a)) {
          log([&] { return "detection worker " + std::to_string(det->worker) + " " + det->kind + ": " + det->detail; });
        } else if (auto* iso = std::get_if<WorkerIsolated>(&a)) {
          log([&] { return "isolated worker " + std::to_string(iso->worker) + ": " + iso->reason; });
          isolated_.insert(iso->worker);
          ++result_.isolations;
          auto ok = verify_equivocation(iso->evidence, cl_.membership);
          if (!ok.ok()) {
            const Check* bad = ok.first_failure();
            violate("isolation", "worker " + std::to_string(iso->worker) + " isolated without valid evidence: " +
                                     (bad != nullptr ? bad->name + ": " + bad->detail : std::string("?")));
          }
        } else if (auto* done = std::get_if<QueryDone>(&a)) {
          on_done(*done);
        }
      }
    }
  }

  void on_done(const QueryDone& d) {
    log([&] {
      return "done handle " + std::to_string(d.handle) + " " + core::outcome_name(d.outcome) + " rounds " +
             std::to_string(d.rounds) + " signers 0x" + std::to_string(d.signers) + (d.error.empty() ? "" : " error " + d.error);
    });
    auto it = by_handle_.find(d.handle);
    if (it == by_handle_.end()) {
      violate("duplicate-done", "a result for an unknown query handle " + std::to_string(d.handle));
      return;
    }
    QueryInfo& qi = queries_[it->second];
    if (qi.done) {
      violate("duplicate-done", "query " + std::to_string(it->second) + " finished twice");
      return;
    }
    qi.done = true;
    qi.done_at = now_;
    qi.outcome = d.outcome;
    if (!d.error.empty()) {
      ++result_.errors;
      violate("certificate", "query " + std::to_string(it->second) + " produced no certificate: " + d.error);
      return;
    }
    ++result_.certificates;
    result_.decided += d.outcome == core::Outcome::decided ? 1 : 0;
    result_.no_consensus += d.outcome == core::Outcome::no_consensus ? 1 : 0;
    result_.no_quorum += d.outcome == core::Outcome::no_quorum ? 1 : 0;
    const Report report = verify_certificate(d.certificate, cl_.membership);
    if (!report.ok()) {
      const Check* bad = report.first_failure();
      violate("certificate", "the auditor rejects the certificate of query " + std::to_string(it->second) + ": " +
                                 (bad != nullptr ? bad->name + ": " + bad->detail : std::string("?")));
    }
    if (d.sequence != next_sequence_ || (report.certificate && report.certificate->previous_hash != previous_hash_)) {
      violate("chain", "certificate " + std::to_string(d.sequence) + " does not follow " +
                           std::to_string(next_sequence_ - 1) + " (sequence or previous hash)");
    }
    next_sequence_ = d.sequence + 1;
    previous_hash_ = d.certificate_hash;
    for (const auto& bytes : d.equivocations) {
      auto e = cc::decode_equivocation(bytes);
      if (e && isolated_.count(e->worker) == 0) {
        violate("isolation", "worker " + std::to_string(e->worker) + " equivocated but was not isolated");
      }
    }
    if (d.outcome == core::Outcome::decided && report.certificate && !s_.split_honest) {
      auto payload = canonical_payload(report.certificate->agreement, report.certificate->agreement_param,
                                       honest_text(qi.sum));
      auto pre = payload ? cc::answer_id_preimage(report.certificate->agreement, report.certificate->agreement_param,
                                                  *payload)
                         : core::Result<Bytes>(payload.error());
      if (!pre || blake2b(*pre) != report.certificate->decided_answer) {
        violate("certified-wrong-decided", "query " + std::to_string(it->second) + " (" + qi.text +
                                               ") was certified Decided with a wrong answer");
      }
    }
  }

  void check_liveness() {
    const Millis bound = rounds_max * s_.round_timeout;
    for (std::size_t i = 0; i < queries_.size(); ++i) {
      const QueryInfo& qi = queries_[i];
      if (!qi.done) {
        violate("liveness", "query " + std::to_string(i) + " never finished");
        continue;
      }
      if (qi.done_at - qi.submitted > bound) {
        violate("liveness", "query " + std::to_string(i) + " took " + std::to_string(qi.done_at - qi.submitted) +
                                " ms, over the bound of " + std::to_string(bound) + " ms");
      }
      // With at most f faulty workers, honest workers that agree and a stable network, the honest
      // answer must be decided. Checked against the fault bound, not the scenario's actual faults.
      if (!s_.split_honest && qi.submitted >= stable_ && qi.outcome != core::Outcome::decided) {
        violate("liveness", "query " + std::to_string(i) + " submitted at " + std::to_string(qi.submitted) +
                                " ms after the network was stable (" + std::to_string(stable_) + " ms) ended " +
                                core::outcome_name(qi.outcome) + ", not decided");
      }
    }
  }

  void log(const std::function<std::string()>& line) {
    if (s_.trace) result_.trace.push_back(std::to_string(now_) + " ms: " + line());
  }

  void violate(std::string property, std::string detail) {
    log([&] { return "VIOLATION " + property + ": " + detail; });
    result_.violations.push_back({std::move(property), std::move(detail)});
  }

  Scenario s_;
  const Cluster& cl_;
  Rng rng_;
  HeadLogic head_;
  std::uint32_t q_ = 0;
  std::vector<std::optional<WorkerLogic>> workers_;
  std::map<core::WorkerIndex, std::optional<proto::Answer>> last_answer_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t seq_ = 0;
  Millis now_ = 0;
  Millis stable_ = 0;
  std::vector<QueryInfo> queries_;
  std::map<QueryHandle, std::uint32_t> by_handle_;
  std::map<std::pair<Digest, std::uint32_t>, std::map<core::AnswerId, core::SignerMask>> signed_;
  std::set<std::pair<Digest, std::uint32_t>> reported_conflict_;
  std::set<core::WorkerIndex> isolated_;
  std::uint64_t next_sequence_ = 1;
  Digest previous_hash_{};
  RunResult result_;
};

}  // namespace

std::uint32_t faulty_count(const Scenario& s) {
  std::uint32_t k = 0;
  for (core::WorkerIndex w = 0; w < s.n; ++w) {
    const bool byz = w < s.kinds.size() && s.kinds[w] != ByzantineKind::none;
    const bool crash = w < s.crashes.size() && s.crashes[w];
    k += byz || crash ? 1 : 0;
  }
  return k;
}

Scenario scenario_for_seed(std::uint64_t seed) {
  Rng rng(seed);
  Scenario s;
  s.seed = seed;
  s.n = rng.chance(0.5) ? 4 : 7;
  s.f = core::faults_max(s.n);
  s.kinds.assign(s.n, ByzantineKind::none);
  s.crashes.assign(s.n, false);
  const auto faulty = static_cast<std::uint32_t>(rng.uniform(0, s.f));
  static constexpr std::array<ByzantineKind, 8> kinds{ByzantineKind::wrong,  ByzantineKind::random,
                                                      ByzantineKind::equivocate, ByzantineKind::collude,
                                                      ByzantineKind::slow,   ByzantineKind::silent,
                                                      ByzantineKind::malformed, ByzantineKind::replay};
  // Colluders come in groups: with two faulty workers at n = 7, both collude half the time.
  const bool all_collude = faulty > 1 && rng.chance(0.5);
  for (std::uint32_t i = 0; i < faulty;) {
    const auto w = static_cast<core::WorkerIndex>(rng.uniform(0, s.n - 1));
    if (s.kinds[w] != ByzantineKind::none || s.crashes[w]) continue;
    if (rng.chance(0.2)) {
      s.crashes[w] = true;
    } else {
      s.kinds[w] = all_collude ? ByzantineKind::collude : kinds[rng.uniform(0, kinds.size() - 1)];
    }
    ++i;
  }
  s.queries = 2;
  s.debate = rng.chance(0.3);
  s.numeric = rng.chance(0.7);
  s.drop = rng.chance(0.5) ? static_cast<double>(rng.uniform(0, 20)) / 100.0 : 0.0;
  s.duplicate = rng.chance(0.3) ? 0.1 : 0.0;
  static constexpr std::array<Millis, 3> delays{5, 20, 100};
  s.delay_max = delays[rng.uniform(0, delays.size() - 1)];
  s.partitioned = rng.chance(0.3) ? rng.next() & ((core::SignerMask{1} << s.n) - 1) : 0;
  s.heal_at = rng.uniform(0, 1500);
  return s;
}

std::string describe(const Scenario& s) {
  std::string out = "n=" + std::to_string(s.n) + " f=" + std::to_string(s.f) + " faulty=" +
                    std::to_string(faulty_count(s)) + " [";
  bool first = true;
  for (core::WorkerIndex w = 0; w < s.n; ++w) {
    const bool byz = w < s.kinds.size() && s.kinds[w] != ByzantineKind::none;
    const bool crash = w < s.crashes.size() && s.crashes[w];
    if (!byz && !crash) continue;
    out += (first ? "" : " ") + std::string("w") + std::to_string(w) + ":" +
           (crash ? "crash" : byzantine_name(s.kinds[w]));
    first = false;
  }
  out += "] mode=" + std::string(s.debate ? "debate" : "vote") + " agreement=" + (s.numeric ? "numeric" : "exact") +
         " drop=" + std::to_string(static_cast<int>(s.drop * 100)) + "% dup=" +
         std::to_string(static_cast<int>(s.duplicate * 100)) + "% delay<=" + std::to_string(s.delay_max) +
         "ms partition=0x" + hex(std::array<std::uint8_t, 1>{static_cast<std::uint8_t>(s.partitioned)}) +
         " heal=" + std::to_string(s.heal_at) + "ms" + (s.split_honest ? " split-honest" : "") +
         (s.unsafe_seed_quorum ? " unsafe-seed-quorum" : "");
  return out;
}

RunResult run(const Scenario& scenario) { return Run(scenario).go(); }

}  // namespace bf::runtime::sim
