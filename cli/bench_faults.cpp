// butterfly bench run faults: the seed's fault-tolerance scenarios (butterfly-benchmarks.txt 4.1 A,
// B, C and 4.2 tests 1-3, plus its quorum table) on real loopback clusters of `instant:4` workers,
// so every query has a known true answer ("4") and accuracy is measurable without a model.
//
// Every scenario runs under open-loop load (LoadGenerator, --faults-rate queries/s) while a monitor
// thread polls the head's GET /v1/status and /metrics every few milliseconds and records each
// change, so before/after figures, detection and recovery times come from one run:
//   A  n = 4, SIGKILL of one worker mid-load, restarted one phase later
//   B  n = 4, one --byzantine wrong / equivocate worker; plus an honest cluster under closed-loop
//      load for the false-positive count
//   C  n = 4, SIGSTOP of 2 workers (partition: their traffic stops, sockets stay open), SIGCONT
//      one phase later
//   4.2  n = 7 (f = 2): 2 colluders, 2 workers with different wrong answers, 3 colluders
// Each query is judged from its reply (outcome, answer, certificate present); afterwards the
// cluster's whole log is checked by the offline auditor (runtime::verify_log: every certificate,
// equivocation record and the hash chain) and its certificates are counted against the replies.
#include <signal.h>

#include <array>
#include <mutex>

#include "cli/bench_common.hpp"
#include "core/quorum.hpp"
#include "runtime/auditor.hpp"
#include "runtime/membership_file.hpp"

namespace bf::cli::bench {
namespace {

constexpr const char* truth = "4";                // what every honest instant:4 worker answers
constexpr std::uint32_t poll_period_us = 2000;    // the monitor's period: the times' resolution
constexpr std::size_t samples_max = 100'000;      // monitor changes kept per run
constexpr std::uint32_t settle_wait_ms = 20'000;  // after the load: how long to wait for a rejoin
constexpr std::uint32_t connections = 64;         // open loop: a partition holds queries until detected
const std::vector<std::string> byzantine_detections = {"wrong-answer", "equivocation", "invalid-signature",
                                                       "malformed", "isolated"};

struct Settings {
  double rate = 100;
  double phase_s = 10;
  double fp_s = 10;
  bool smoke = false;
};

// ---- one reply ----

// Fields of a reply serialised by nlohmann::json (no spaces: "key":value). Inside a JSON string
// every quote is escaped, so the pattern matches only a real key. Parsing the whole reply would
// copy its certificate's hex for nothing.
std::optional<std::string> string_field(std::string_view body, std::string_view key) {
  const std::string pat = "\"" + std::string(key) + "\":\"";
  const auto at = body.find(pat);
  if (at == std::string_view::npos) return std::nullopt;
  std::string out;
  for (auto i = at + pat.size(); i < body.size(); ++i) {
    if (body[i] == '\\' && i + 1 < body.size()) {
      out += body[++i];  // enough to compare plain answers
    } else if (body[i] == '"') {
      return out;
    } else {
      out += body[i];
    }
  }
  return std::nullopt;
}

bool nonempty_string_field(std::string_view body, std::string_view key) {
  const std::string pat = "\"" + std::string(key) + "\":\"";
  const auto at = body.find(pat);
  return at != std::string_view::npos && at + pat.size() < body.size() && body[at + pat.size()] != '"';
}

// "key":[...] as raw text (worker ids contain no brackets).
std::string array_field(std::string_view body, std::string_view key) {
  const std::string pat = "\"" + std::string(key) + "\":[";
  const auto at = body.find(pat);
  if (at == std::string_view::npos) return "";
  const auto close = body.find(']', at + pat.size());
  if (close == std::string_view::npos) return "";
  return std::string(body.substr(at + pat.size(), close - at - pat.size()));
}

std::uint64_t number_field(std::string_view body, std::string_view key) {
  const std::string pat = "\"" + std::string(key) + "\":";
  const auto at = body.find(pat);
  std::uint64_t v = 0;
  if (at != std::string_view::npos) (void)std::from_chars(body.data() + at + pat.size(), body.data() + body.size(), v);
  return v;
}

struct Reply {
  double sched_s = 0, done_s = 0;  // since the load started
  bool sent = false;
  unsigned status = 0;  // 0: no HTTP reply
  std::string error;    // transport error, or an error reply's code
  std::string outcome;  // decided, no-consensus, no-quorum (200 replies)
  bool correct = false;     // the answer is the truth
  bool certified = false;   // a 200 with a certificate: an answer, whatever its outcome
  std::uint64_t sequence = 0;
  std::string isolated, outvoted;  // the reply's id lists, raw
  [[nodiscard]] double latency_ms() const { return (done_s - sched_s) * 1000; }
  [[nodiscard]] bool decided() const { return certified && outcome == "decided"; }
};

Reply reply_of(const QueryRecord& r, Clock::time_point t0) {
  Reply out;
  out.sched_s = std::chrono::duration<double>(r.scheduled - t0).count();
  out.done_s = std::chrono::duration<double>(r.done - t0).count();
  out.sent = r.sent;
  out.status = r.status;
  out.error = r.error;
  if (r.status == 200) {
    out.outcome = string_field(r.body, "outcome").value_or("");
    out.correct = string_field(r.body, "answer").value_or("") == truth;
    out.certified = nonempty_string_field(r.body, "certificate");
    out.sequence = number_field(r.body, "sequence");
    out.isolated = array_field(r.body, "isolated");
    out.outvoted = array_field(r.body, "outvoted");
  } else if (r.status != 0) {
    out.error = "http " + std::to_string(r.status) + " " + string_field(r.body, "code").value_or("");
  }
  return out;
}

// The earliest finish among the replies to queries sent at or after `from_s` that satisfy `pred`
// (replies arrive out of order, so the first in the list need not be the first to finish).
std::optional<double> first_reply(const std::vector<Reply>& replies, double from_s, const std::function<bool(const Reply&)>& pred) {
  std::optional<double> first;
  for (const auto& r : replies) {
    if (r.sched_s >= from_s && pred(r) && (!first || r.done_s < *first)) first = r.done_s;
  }
  return first;
}

// ---- the head's view over time ----

struct WorkerView {
  std::string id;
  bool connected = false, eligible = false, isolated = false;
  double reputation = 0;
  friend bool operator==(const WorkerView&, const WorkerView&) = default;
};

struct Sample {
  Clock::time_point at;  // when the poll that saw it returned
  double t_s = 0;        // the same, in seconds since the load started (set by run_under_load)
  std::vector<WorkerView> workers;
  std::map<std::string, double> detections;
  [[nodiscard]] double detected(const std::vector<std::string>& kinds) const {
    double sum = 0;
    for (const auto& k : kinds) {
      if (auto it = detections.find(k); it != detections.end()) sum += it->second;
    }
    return sum;
  }
  [[nodiscard]] bool byzantine_detected() const { return detected(byzantine_detections) > 0; }
};

// Polls GET /v1/status and /metrics every poll_period_us on its own thread and keeps each change.
class Monitor {
 public:
  explicit Monitor(tcp::endpoint endpoint) : endpoint_(endpoint) {
    thread_ = std::thread([this] { loop(); });
  }
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;
  ~Monitor() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // Waits until the newest sample satisfies `pred` (or timeout); whether it did.
  bool wait_for(const std::function<bool(const Sample&)>& pred, std::uint32_t timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        if (!samples_.empty() && pred(samples_.back())) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  std::vector<Sample> samples() {
    std::lock_guard lock(mutex_);
    return samples_;
  }
  std::uint32_t quorum() const { return q_.load(); }

 private:
  void loop() {
    Client client(endpoint_);
    while (!stop_) {
      const auto st = client.call(bhttp::verb::get, "/v1/status", "", 2000);
      const auto det = detections_by_kind(client);
      Sample s;
      s.at = Clock::now();
      const auto j = st.ok && st.status == 200 ? json::parse(st.body, nullptr, false) : json();
      if (det && j.is_object() && j.contains("workers")) {
        q_ = j.value("q", 0U);
        for (const auto& w : j["workers"]) {
          s.workers.push_back({w.value("id", ""), w.value("connected", false), w.value("eligible", false),
                               w.value("isolated", false), w.value("reputation", 0.0)});
        }
        s.detections = *det;
        std::lock_guard lock(mutex_);
        if (samples_.empty() || samples_.back().workers != s.workers || samples_.back().detections != s.detections) {
          if (samples_.size() < samples_max) samples_.push_back(std::move(s));
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(poll_period_us));
    }
  }

  tcp::endpoint endpoint_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint32_t> q_{0};
  std::mutex mutex_;
  std::vector<Sample> samples_;
  std::thread thread_;
};

// The first time at or after `from_s` the head's state satisfied `pred` (it holds from the
// newest sample at or before from_s, or becomes true at a later sample).
std::optional<double> first_time(const std::vector<Sample>& samples, double from_s, const std::function<bool(const Sample&)>& pred) {
  const Sample* before = nullptr;
  for (const auto& s : samples) {
    if (s.t_s <= from_s) {
      before = &s;
      continue;
    }
    if (before != nullptr && pred(*before)) return from_s;
    before = nullptr;
    if (pred(s)) return s.t_s;
  }
  if (before != nullptr && pred(*before)) return from_s;
  return std::nullopt;
}

json ms_or_null(std::optional<double> from, std::optional<double> to) {
  if (!from || !to) return nullptr;
  return (*to - *from) * 1000;
}

std::string ms_text(const json& ms) { return ms.is_number() ? fixed(ms.get<double>(), 1) + " ms" : "never"; }

// What the head detected during a run (GET /metrics, last sample minus first), by kind: shows
// faults nobody injected, e.g. a heartbeat-timeout when an overloaded machine delays an honest worker.
json detections_during(const std::vector<Sample>& samples) {
  json out = json::object();
  if (samples.empty()) return out;
  for (const auto& [kind, v] : samples.back().detections) {
    const auto it = samples.front().detections.find(kind);
    const double d = v - (it == samples.front().detections.end() ? 0.0 : it->second);
    if (d > 0) out[kind] = d;
  }
  return out;
}

std::string detections_text(const json& d) {
  std::string out;
  for (const auto& [kind, v] : d.items()) out += (out.empty() ? "" : ", ") + kind + " " + fixed(v.get<double>(), 0);
  return out.empty() ? "none" : out;
}

// ---- a run under load ----

struct Event {
  double t_s;
  std::string label;
};

struct Run {
  Clock::time_point t0;
  double length_s = 0;
  std::vector<Reply> replies;
  std::vector<Sample> samples;
  std::vector<Event> events;
  std::uint32_t q = 0;  // the head's quorum (GET /v1/status)
  [[nodiscard]] double at(Clock::time_point t) const { return std::chrono::duration<double>(t - t0).count(); }
  void event(const std::string& label) {
    events.push_back({at(Clock::now()), label});
    std::cout << "    " << fixed(events.back().t_s, 3) << " s: " << label << "\n";
  }
};

// Open-loop load for length_s while `script` (this thread) injects the faults; then waits up to
// settle_wait_ms for `settled` (e.g. a restarted worker eligible again) before the monitor stops.
Run run_under_load(Cluster& cluster, const Settings& s, double length_s, const std::function<void(Run&)>& script,
                   const std::function<bool(const Sample&)>& settled = nullptr) {
  Run run;
  run.length_s = length_s;
  Monitor monitor(cluster.endpoint());
  // The head's state before the first query (e.g. every reputation at 1.0) is the first sample.
  if (!monitor.wait_for([](const Sample&) { return true; }, 10'000)) fail("the head did not answer GET /v1/status within 10 s", exit_failed);
  run.t0 = Clock::now();
  LoadSpec spec;
  spec.endpoint = cluster.endpoint();
  spec.duration_s = length_s;
  spec.warmup_s = 0;
  spec.concurrency = connections;
  spec.rate = s.rate;
  spec.on_reply = [&run](const QueryRecord& r) { run.replies.push_back(reply_of(r, run.t0)); };
  std::thread load([&spec] { LoadGenerator(spec).run(); });
  script(run);
  load.join();
  if (settled && !monitor.wait_for(settled, settle_wait_ms)) run.event("did not settle within " + std::to_string(settle_wait_ms / 1000) + " s after the load");
  monitor.stop();
  run.samples = monitor.samples();
  for (auto& x : run.samples) x.t_s = run.at(x.at);
  run.q = monitor.quorum();
  return run;
}

void sleep_until_s(const Run& run, double t_s) {
  std::this_thread::sleep_until(run.t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t_s)));
}

// ---- statistics of a phase (queries by scheduled time in [from_s, to_s)) ----

struct PhaseStats {
  std::string name;
  double from_s = 0, to_s = 0;
  std::uint64_t sent = 0, certified = 0, errors = 0, decided = 0, no_quorum = 0, no_consensus = 0;
  std::uint64_t correct = 0, wrong_decided = 0;
  Summary latency_ms;          // every certified reply
  Summary decided_latency_ms;  // decided replies only
  [[nodiscard]] std::uint64_t lost() const { return sent - certified; }
  double span_s = 0;  // the phase's length within the load (the last phase ends with the load)
  [[nodiscard]] double throughput() const { return span_s > 0 ? static_cast<double>(decided) / span_s : 0; }
  [[nodiscard]] double accuracy_pct() const { return decided ? 100.0 * static_cast<double>(correct) / static_cast<double>(decided) : 0; }
};

// TO_S past the load's end takes every query still to come; LENGTH_S is the load's length.
PhaseStats phase_stats(const std::string& name, const std::vector<Reply>& replies, double from_s, double to_s, double length_s) {
  PhaseStats p;
  p.name = name;
  p.from_s = from_s;
  p.to_s = std::min(to_s, length_s);
  p.span_s = p.to_s - from_s;
  std::vector<double> all, decided;
  for (const auto& r : replies) {
    if (r.sched_s < from_s || r.sched_s >= to_s) continue;
    ++p.sent;  // a query that never left (no connection) is lost too
    if (!r.certified) {
      ++p.errors;
      continue;
    }
    ++p.certified;
    all.push_back(r.latency_ms());
    if (r.outcome == "decided") {
      ++p.decided;
      decided.push_back(r.latency_ms());
      if (r.correct) {
        ++p.correct;
      } else {
        ++p.wrong_decided;
      }
    } else if (r.outcome == "no-quorum") {
      ++p.no_quorum;
    } else if (r.outcome == "no-consensus") {
      ++p.no_consensus;
    }
  }
  p.latency_ms = summarize(all);
  p.decided_latency_ms = summarize(decided);
  return p;
}

json phase_json(const PhaseStats& p) {
  return {{"phase", p.name},          {"from_s", p.from_s},       {"to_s", p.to_s},
          {"sent", p.sent},           {"certified", p.certified}, {"lost", p.lost()},
          {"errors", p.errors},       {"decided", p.decided},     {"no_quorum", p.no_quorum},
          {"no_consensus", p.no_consensus}, {"correct", p.correct}, {"wrong_decided", p.wrong_decided},
          {"accuracy_pct", p.decided ? json(p.accuracy_pct()) : json(nullptr)}, {"decided_per_s", p.throughput()},
          {"latency_ms", summary_json(p.latency_ms)}, {"decided_latency_ms", summary_json(p.decided_latency_ms)}};
}

void print_phase(const PhaseStats& p) {
  std::cout << "    " << p.name << " [" << fixed(p.from_s, 1) << ", " << fixed(p.to_s, 1) << ") s: " << p.sent << " sent, "
            << p.certified << " certified (" << p.decided << " decided, " << p.no_quorum << " no-quorum, " << p.no_consensus
            << " no-consensus), " << p.lost() << " lost; latency p50 " << fixed(p.latency_ms.p50, 2) << " ms, p99 "
            << fixed(p.latency_ms.p99, 2) << " ms; " << fixed(p.throughput(), 1) << " decided/s; accuracy "
            << (p.decided ? fixed(p.accuracy_pct(), 1) + " %" : std::string("n/a")) << " (" << p.wrong_decided << " wrong decided)\n";
}

// Latency against send time in bins of about 1/40 of the run: the p50 per outcome (so a change
// of outcome shows) and the max of all, with the run's events. Bins without replies are left out.
json timeline_plot(const std::string& id, const std::string& title, const Run& run) {
  const double bin_s = std::max(0.1, run.length_s / 40);
  std::map<std::string, std::map<long, std::vector<double>>> by_outcome;  // outcome -> bin -> latencies
  for (const auto& r : run.replies) {
    const auto bin = static_cast<long>(std::floor(r.sched_s / bin_s));
    by_outcome[r.certified ? r.outcome : "error"][bin].push_back(r.latency_ms());
    by_outcome["all"][bin].push_back(r.latency_ms());
  }
  json series = json::array();
  for (const auto& [name, bins] : by_outcome) {
    json x = json::array(), y = json::array();
    for (const auto& [bin, v] : bins) {
      const auto sm = summarize(v);
      x.push_back((static_cast<double>(bin) + 0.5) * bin_s);
      y.push_back(name == "all" ? sm.max : sm.p50);
    }
    series.push_back({{"name", name == "all" ? std::string("max, all answers") : "p50, " + name}, {"x", x}, {"y", y}});
  }
  json events = json::array();
  for (const auto& e : run.events) events.push_back({{"t", e.t_s}, {"label", e.label}});
  return {{"id", id}, {"title", title + " (per " + fixed(bin_s, 2) + " s of send time)"}, {"x_label", "query sent at (s)"},
          {"y_label", "latency (ms)"}, {"kind", "timeline"}, {"series", series}, {"events", events}};
}

// ---- the certificates ----

struct Audit {
  bool ok = false;
  std::string problem;
  std::uint64_t certificates = 0, equivocations = 0;
  std::map<std::string, std::uint64_t> outcomes;
};

// Every certificate and equivocation record in DIR/log and its hash chain, against DIR's
// membership (and proofs/MANIFEST when found), then the counts against the replies.
Audit audit_cluster(const fs::path& dir, const std::vector<Reply>& replies) {
  Audit a;
  auto membership = runtime::read_membership_file(dir / "membership.json");
  if (!membership) {
    a.problem = membership.error().message;
    return a;
  }
  runtime::VerifyOptions options;
  if (const auto manifest = runtime::find_manifest(); !manifest.empty()) {
    if (auto m = runtime::read_manifest(manifest)) options.manifest = std::move(m.value());
  }
  auto report = runtime::verify_log(dir / "log", *membership, options);
  if (!report) {
    a.problem = report.error().message;
    return a;
  }
  for (const auto& e : report->entries) {
    if (e.file.ends_with(".cert")) {
      ++a.certificates;
      if (e.report.certificate) ++a.outcomes[core::outcome_name(e.report.certificate->outcome)];
    } else if (e.file.ends_with(".equivocation")) {
      ++a.equivocations;
    }
  }
  std::map<std::string, std::uint64_t> replied;
  std::uint64_t certified = 0;
  for (const auto& r : replies) {
    if (!r.certified) continue;
    ++certified;
    ++replied[r.outcome];
  }
  if (!report->ok()) {
    a.problem = *report->broken;
  } else if (a.certificates != certified || a.outcomes != replied) {
    a.problem = "the log holds " + std::to_string(a.certificates) + " certificates but " + std::to_string(certified) +
                " certified replies arrived (or their outcomes differ)";
  } else {
    a.ok = true;
  }
  return a;
}

json audit_json(const Audit& a) {
  return {{"verified", a.ok}, {"problem", a.problem}, {"certificates", a.certificates},
          {"equivocation_records", a.equivocations}, {"outcomes", a.outcomes},
          {"how", "runtime::verify_log over the cluster's log: every certificate (signatures, quorum, decision, "
                  "fusion, proofs against proofs/MANIFEST), every equivocation record and the hash chain, then "
                  "certificate count and outcomes equal to the certified replies"}};
}

void print_audit(const Audit& a) {
  std::cout << "    certificates: " << a.certificates << " in the log, " << a.equivocations << " equivocation records: "
            << (a.ok ? "all verify and match the replies" : "FAILED: " + a.problem) << "\n";
}

// What every scenario under load reports after its run, in this order: the head's detections
// and the audit of the cluster's certificates against the replies.
std::pair<json, Audit> detections_and_audit(const fs::path& dir, const Run& run) {
  json detections = detections_during(run.samples);
  std::cout << "    head detections during the run: " << detections_text(detections) << "\n";
  Audit audit = audit_cluster(dir, run.replies);
  print_audit(audit);
  return {std::move(detections), std::move(audit)};
}

// ---- scenario A: a crash ----

struct Outcome {  // a scenario's JSON and whether it met what Butterfly guarantees
  json j;
  bool ok = true;
  std::vector<std::string> problems;
  void require(bool cond, const std::string& what) {
    if (!cond) {
      ok = false;
      problems.push_back(what);
      std::cout << "    FAILED: " << what << "\n";
    }
  }
};

std::uint64_t lost_of(const std::vector<Reply>& replies) {
  std::uint64_t lost = 0;
  for (const auto& r : replies) lost += r.certified ? 0 : 1;
  return lost;
}
std::uint64_t wrong_of(const std::vector<Reply>& replies) {
  std::uint64_t wrong = 0;
  for (const auto& r : replies) wrong += r.decided() && !r.correct ? 1 : 0;
  return wrong;
}

Outcome scenario_a(const Settings& s, const fs::path& work) {
  std::cout << "\nscenario A: n = 4, SIGKILL of worker 2 mid-load, restarted one phase later (" << fixed(s.rate, 0)
            << " queries/s open loop, phases of " << fixed(s.phase_s, 1) << " s)\n";
  const fs::path dir = work / "a-crash";
  constexpr std::size_t victim = 1;
  Cluster cluster(dir, 4, 0, "wrong");
  double t_kill = 0, t_restart = 0;
  const auto rejoined = [](const Sample& x) { return x.workers.size() > victim && x.workers[victim].connected && x.workers[victim].eligible; };
  Run run = run_under_load(cluster, s, 3 * s.phase_s, [&](Run& r) {
    sleep_until_s(r, s.phase_s);
    const pid_t pid = cluster.worker_pid(victim);
    ::kill(pid, SIGKILL);
    r.event("worker 2 killed (SIGKILL)");
    t_kill = r.events.back().t_s;
    ::waitpid(pid, nullptr, 0);
    sleep_until_s(r, 2 * s.phase_s);
    cluster.restart_worker(victim);
    r.event("worker 2 restarted");
    t_restart = r.events.back().t_s;
  }, rejoined);
  const auto detected = first_time(run.samples, t_kill, [](const Sample& x) { return x.workers.size() > victim && !x.workers[victim].connected; });
  const auto back = first_time(run.samples, t_restart, rejoined);
  const auto first_decided = first_reply(run.replies, t_kill, &Reply::decided);
  if (detected) run.events.push_back({*detected, "head shows worker 2 disconnected"});
  if (back) run.events.push_back({*back, "worker 2 connected and eligible again"});
  const std::vector<PhaseStats> phases = {phase_stats("before (4 workers)", run.replies, 0, t_kill, run.length_s),
                                          phase_stats("after the kill (3 workers)", run.replies, t_kill, t_restart, run.length_s),
                                          phase_stats("after the restart", run.replies, t_restart, run.length_s + 1, run.length_s)};
  for (const auto& p : phases) print_phase(p);
  const json detection_ms = ms_or_null(t_kill, detected), recovery_ms = ms_or_null(t_kill, first_decided),
             rejoin_ms = ms_or_null(t_restart, back);
  std::cout << "    detection " << ms_text(detection_ms) << ", first decided answer after the kill " << ms_text(recovery_ms)
            << ", rejoin after the restart " << ms_text(rejoin_ms) << "\n";
  const auto [detections, audit] = detections_and_audit(dir, run);
  Outcome o;
  o.require(lost_of(run.replies) == 0, "A: queries lost");
  o.require(wrong_of(run.replies) == 0, "A: a wrong answer was decided");
  o.require(detection_ms.is_number(), "A: the head never showed the killed worker disconnected");
  o.require(recovery_ms.is_number(), "A: nothing was decided after the kill");
  o.require(rejoin_ms.is_number(), "A: the restarted worker did not become eligible again");
  o.require(audit.ok, "A: certificates: " + audit.problem);
  json ph = json::array();
  for (const auto& p : phases) ph.push_back(phase_json(p));
  o.j = {{"n", 4}, {"q", run.q}, {"phases", ph}, {"detection_ms", detection_ms}, {"recovery_ms", recovery_ms},
         {"rejoin_ms", rejoin_ms}, {"lost", lost_of(run.replies)}, {"detections_by_kind", detections}, {"audit", audit_json(audit)},
         {"plot", timeline_plot("faults-a-timeline", "Scenario A: latency around a worker crash (n = 4)", run)},
         {"definitions",
          {{"detection_ms", "SIGKILL until GET /v1/status (polled every " + std::to_string(poll_period_us / 1000) + " ms) first shows the worker disconnected"},
           {"recovery_ms", "SIGKILL until the reply to the first query sent after it that was decided (bounded below by the gap between queries, 1/rate)"},
           {"rejoin_ms", "restart of the worker process until GET /v1/status shows it connected and eligible (the head redials with backoff 50 ms doubling to 1 s)"},
           {"lost", "queries sent minus replies carrying a certificate (any outcome)"},
           {"accuracy_pct", "decided answers equal to the truth '4' (every honest instant:4 worker's answer)"}}}};
  return o;
}

// ---- scenario B: one Byzantine worker, and false positives ----

Outcome scenario_b(const Settings& s, const fs::path& work, const std::string& kind) {
  std::cout << "\nscenario B: n = 4, worker 4 --byzantine " << kind << " (" << fixed(s.rate, 0) << " queries/s for "
            << fixed(2 * s.phase_s, 1) << " s)\n";
  const fs::path dir = work / ("b-" + kind);
  constexpr std::size_t liar = 3;
  Cluster cluster(dir, 4, 1, kind);
  const auto isolated = [](const Sample& x) { return x.workers.size() > liar && (x.workers[liar].isolated || !x.workers[liar].eligible); };
  Run run = run_under_load(cluster, s, 2 * s.phase_s, [](Run&) {}, isolated);
  const auto detected = first_time(run.samples, 0, &Sample::byzantine_detected);
  const auto isolated_at = first_time(run.samples, 0, isolated);
  if (detected) run.events.push_back({*detected, "first detection (/metrics)"});
  if (isolated_at) run.events.push_back({*isolated_at, "worker 4 isolated or excluded"});
  // Queries until isolation: certified replies in chain order until the first that lists the
  // worker as isolated (the head's own view when it answered).
  std::vector<const Reply*> by_sequence;
  for (const auto& r : run.replies) {
    if (r.certified) by_sequence.push_back(&r);
  }
  std::sort(by_sequence.begin(), by_sequence.end(), [](const Reply* a, const Reply* b) { return a->sequence < b->sequence; });
  json queries_until_isolated = nullptr;
  std::string liar_id;
  if (!run.samples.empty() && run.samples.front().workers.size() > liar) liar_id = run.samples.front().workers[liar].id;
  for (std::size_t i = 0; i < by_sequence.size() && !liar_id.empty(); ++i) {
    if (by_sequence[i]->isolated.find("\"" + liar_id + "\"") != std::string::npos) {
      queries_until_isolated = i + 1;
      break;
    }
  }
  json trajectory_t = json::array(), trajectory_r = json::array();
  for (const auto& x : run.samples) {
    if (x.workers.size() <= liar) continue;
    if (!trajectory_r.empty() && trajectory_r.back().get<double>() == x.workers[liar].reputation) continue;
    trajectory_t.push_back(x.t_s);
    trajectory_r.push_back(x.workers[liar].reputation);
  }
  const double split = isolated_at.value_or(run.length_s + 1);
  const std::vector<PhaseStats> phases = {phase_stats("until isolated", run.replies, 0, split, run.length_s),
                                          phase_stats("after isolation", run.replies, split, run.length_s + 1, run.length_s)};
  for (const auto& p : phases) print_phase(p);
  const json detection_ms = ms_or_null(0.0, detected), isolation_ms = ms_or_null(0.0, isolated_at);
  std::cout << "    detection " << ms_text(detection_ms) << ", isolation " << ms_text(isolation_ms) << " after the first query; "
            << (queries_until_isolated.is_number() ? std::to_string(queries_until_isolated.get<std::size_t>()) : std::string("no"))
            << " queries until a reply listed it isolated; reputation " << (trajectory_r.empty() ? "?" : fixed(trajectory_r.front().get<double>(), 3))
            << " -> " << (trajectory_r.empty() ? "?" : fixed(trajectory_r.back().get<double>(), 3)) << "\n";
  const auto [detections, audit] = detections_and_audit(dir, run);
  Outcome o;
  o.require(lost_of(run.replies) == 0, "B " + kind + ": queries lost");
  o.require(wrong_of(run.replies) == 0, "B " + kind + ": a wrong answer was decided");
  o.require(detection_ms.is_number(), "B " + kind + ": never detected");
  o.require(isolation_ms.is_number(), "B " + kind + ": never isolated");
  o.require(audit.ok, "B " + kind + ": certificates: " + audit.problem);
  json ph = json::array();
  for (const auto& p : phases) ph.push_back(phase_json(p));
  o.j = {{"kind", kind}, {"n", 4}, {"byzantine_worker", liar_id}, {"phases", ph}, {"detection_ms", detection_ms},
         {"isolation_ms", isolation_ms}, {"queries_until_isolated", queries_until_isolated},
         {"reputation", {{"t_s", trajectory_t}, {"value", trajectory_r}}}, {"lost", lost_of(run.replies)}, {"detections_by_kind", detections},
         {"audit", audit_json(audit)},
         {"plot", timeline_plot("faults-b-" + kind + "-timeline", "Scenario B: latency with one '" + kind + "' worker (n = 4)", run)},
         {"definitions",
          {{"detection_ms", "from the load's start (first query) until /metrics counts a wrong-answer, equivocation, "
                            "invalid-signature, malformed or isolated detection (polled every " + std::to_string(poll_period_us / 1000) + " ms)"},
           {"isolation_ms", "from the load's start until GET /v1/status shows the worker isolated (equivocation) or not "
                            "eligible (reputation below 0.3)"},
           {"queries_until_isolated", "certified replies in chain order up to the first whose 'isolated' list names the worker"}}}};
  return o;
}

Outcome false_positives(const Settings& s, const fs::path& work) {
  std::cout << "\nfalse positives: honest n = 4, closed loop, 8 connections, " << fixed(s.fp_s, 1) << " s\n";
  const fs::path dir = work / "b-honest";
  Cluster cluster(dir, 4, 0, "wrong");
  Client client(cluster.endpoint());
  const auto before = detections_by_kind(client);
  Clock::time_point t0 = Clock::now();
  std::vector<Reply> replies;
  LoadSpec spec;
  spec.endpoint = cluster.endpoint();
  spec.duration_s = s.fp_s;
  spec.warmup_s = 0;
  spec.concurrency = 8;
  spec.on_reply = [&](const QueryRecord& r) { replies.push_back(reply_of(r, t0)); };
  LoadGenerator(spec).run();
  const auto after = detections_by_kind(client);
  std::map<std::string, double> new_detections;
  double detected = 0;
  if (before && after) {
    for (const auto& [k, v] : *after) {
      const double d = v - (before->contains(k) ? before->at(k) : 0.0);
      if (d > 0) new_detections[k] = d;
      detected += d;
    }
  }
  std::uint64_t flagged = 0, excluded = 0;  // replies naming a worker outvoted or isolated; workers out at the end
  for (const auto& r : replies) flagged += !r.outvoted.empty() || !r.isolated.empty() ? 1 : 0;
  const auto st = json::parse(client.call(bhttp::verb::get, "/v1/status", "", 2000).body, nullptr, false);
  if (st.is_object() && st.contains("workers")) {
    for (const auto& w : st["workers"]) excluded += w.value("isolated", false) || !w.value("eligible", true) ? 1 : 0;
  }
  const auto p = phase_stats("honest", replies, 0, s.fp_s + 1, s.fp_s);
  print_phase(p);
  const double rate_pct = p.certified ? 100.0 * static_cast<double>(flagged) / static_cast<double>(p.certified) : 0;
  std::cout << "    " << p.certified << " queries: " << detected << " detections, " << flagged << " replies naming a worker outvoted or isolated ("
            << fixed(rate_pct, 3) << " %), " << excluded << " workers isolated or excluded at the end\n";
  const Audit audit = audit_cluster(dir, replies);
  print_audit(audit);
  Outcome o;
  o.require(before && after, "false positives: /metrics did not answer");
  o.require(detected == 0 && flagged == 0 && excluded == 0, "false positives: an honest worker was flagged");
  o.require(p.lost() == 0, "false positives: queries lost");
  o.require(audit.ok, "false positives: certificates: " + audit.problem);
  o.j = {{"n", 4}, {"queries", p.certified}, {"seconds", s.fp_s}, {"detections", detected}, {"detections_by_kind", new_detections},
         {"replies_flagging_a_worker", flagged}, {"workers_excluded_at_end", excluded}, {"false_positive_pct", rate_pct},
         {"phase", phase_json(p)}, {"audit", audit_json(audit)},
         {"definition", "an honest cluster under closed-loop load: detections counted by /metrics (any kind) during the run, "
                        "replies whose 'outvoted' or 'isolated' list is not empty, workers isolated or not eligible at the end; "
                        "the rate is flagged replies / certified replies"}};
  return o;
}

// ---- scenario C: a partition of 2 of 4 ----

Outcome scenario_c(const Settings& s, const fs::path& work) {
  std::cout << "\nscenario C: n = 4 (q = 3), SIGSTOP of workers 1 and 2 for one phase, then SIGCONT\n";
  const fs::path dir = work / "c-partition";
  Cluster cluster(dir, 4, 0, "wrong");
  double t_stop = 0, t_cont = 0;
  const auto both_back = [](const Sample& x) {
    return x.workers.size() == 4 && x.workers[0].connected && x.workers[1].connected && x.workers[0].eligible && x.workers[1].eligible;
  };
  Run run = run_under_load(cluster, s, 3 * s.phase_s, [&](Run& r) {
    sleep_until_s(r, s.phase_s);
    ::kill(cluster.worker_pid(0), SIGSTOP);
    ::kill(cluster.worker_pid(1), SIGSTOP);
    r.event("workers 1 and 2 stopped (SIGSTOP)");
    t_stop = r.events.back().t_s;
    sleep_until_s(r, 2 * s.phase_s);
    ::kill(cluster.worker_pid(0), SIGCONT);
    ::kill(cluster.worker_pid(1), SIGCONT);
    r.event("workers 1 and 2 continued (SIGCONT)");
    t_cont = r.events.back().t_s;
  }, both_back);
  const auto both_gone = first_time(run.samples, t_stop, [](const Sample& x) {
    return x.workers.size() == 4 && !x.workers[0].connected && !x.workers[1].connected;
  });
  const auto back = first_time(run.samples, t_cont, both_back);
  const auto first_no_quorum = first_reply(run.replies, t_stop, [](const Reply& r) { return r.certified && r.outcome == "no-quorum"; });
  const auto decided_again = first_reply(run.replies, t_cont, &Reply::decided);
  if (both_gone) run.events.push_back({*both_gone, "head shows both disconnected"});
  if (back) run.events.push_back({*back, "both connected and eligible again"});
  const std::vector<PhaseStats> phases = {phase_stats("before", run.replies, 0, t_stop, run.length_s),
                                          phase_stats("partitioned (2 of 4 reachable)", run.replies, t_stop, t_cont, run.length_s),
                                          phase_stats("healed", run.replies, t_cont, run.length_s + 1, run.length_s)};
  for (const auto& p : phases) print_phase(p);
  const json detection_ms = ms_or_null(t_stop, both_gone), fail_closed_ms = ms_or_null(t_stop, first_no_quorum),
             reconnect_ms = ms_or_null(t_cont, back), decide_again_ms = ms_or_null(t_cont, decided_again);
  std::cout << "    detection (both) " << ms_text(detection_ms) << ", first no-quorum answer " << ms_text(fail_closed_ms)
            << "; after SIGCONT: reconnected " << ms_text(reconnect_ms) << ", decided again " << ms_text(decide_again_ms) << "\n";
  const auto [detections, audit] = detections_and_audit(dir, run);
  Outcome o;
  o.require(lost_of(run.replies) == 0, "C: queries lost");
  o.require(wrong_of(run.replies) == 0, "C: a wrong answer was decided");
  o.require(phases[1].no_quorum > 0, "C: no certified no-quorum during the partition");
  o.require(detection_ms.is_number(), "C: the head never showed both stopped workers disconnected");
  o.require(decide_again_ms.is_number(), "C: nothing was decided after the partition healed");
  o.require(audit.ok, "C: certificates: " + audit.problem);
  // Decided during the partition can only be queries whose quorum was complete before the stop.
  json ph = json::array();
  for (const auto& p : phases) ph.push_back(phase_json(p));
  o.j = {{"n", 4}, {"q", run.q}, {"phases", ph}, {"detection_ms", detection_ms}, {"fail_closed_ms", fail_closed_ms},
         {"reconnect_ms", reconnect_ms}, {"decide_again_ms", decide_again_ms}, {"lost", lost_of(run.replies)}, {"detections_by_kind", detections},
         {"audit", audit_json(audit)},
         {"plot", timeline_plot("faults-c-timeline", "Scenario C: latency by outcome around a partition of 2 of 4 workers", run)},
         {"definitions",
          {{"detection_ms", "SIGSTOP until GET /v1/status shows both workers disconnected (heartbeat deadline)"},
           {"fail_closed_ms", "SIGSTOP until the first certified no-quorum reply"},
           {"reconnect_ms", "SIGCONT until both are connected and eligible again"},
           {"decide_again_ms", "SIGCONT until the reply to the first query sent after it that was decided"}}}};
  return o;
}

// ---- 4.2: n = 7 ----

Outcome limits_test(const Settings& s, const fs::path& work, const std::string& name, std::uint32_t byzantine, const std::string& kind) {
  constexpr std::uint32_t n = 7;
  std::cout << "\n4.2 " << name << ": n = 7, " << byzantine << " x --byzantine " << kind << " (" << fixed(s.phase_s, 1) << " s)\n";
  const fs::path dir = work / ("limits-" + std::to_string(byzantine) + "-" + kind);
  Cluster cluster(dir, n, byzantine, kind);
  const auto all_out = [&](const Sample& x) {
    if (x.workers.size() != n) return false;
    for (std::uint32_t w = n - byzantine; w < n; ++w) {
      if (!x.workers[w].isolated && x.workers[w].eligible) return false;
    }
    return true;
  };
  Run run = run_under_load(cluster, s, s.phase_s, [](Run&) {});
  const auto detected = first_time(run.samples, 0, &Sample::byzantine_detected);
  const auto isolated_at = first_time(run.samples, 0, all_out);
  const auto p = phase_stats("all", run.replies, 0, run.length_s + 1, run.length_s);
  print_phase(p);
  const json detection_ms = ms_or_null(0.0, detected), isolation_ms = ms_or_null(0.0, isolated_at);
  std::cout << "    detection " << ms_text(detection_ms) << ", all " << byzantine << " isolated or excluded " << ms_text(isolation_ms) << "\n";
  const auto [detections, audit] = detections_and_audit(dir, run);
  Outcome o;
  o.require(lost_of(run.replies) == 0, "4.2 " + name + ": queries lost");
  o.require(p.wrong_decided == 0, "4.2 " + name + ": a wrong answer was decided");
  o.require(audit.ok, "4.2 " + name + ": certificates: " + audit.problem);
  if (byzantine <= core::faults_max(n)) {
    o.require(detection_ms.is_number(), "4.2 " + name + ": never detected");
    o.require(p.decided == p.certified, "4.2 " + name + ": within f, every query must decide");
  } else {
    o.require(p.decided == 0, "4.2 " + name + ": beyond f, nothing may be decided (neither side reaches q)");
  }
  o.j = {{"test", name}, {"n", n}, {"f", core::faults_max(n)}, {"q", run.q}, {"byzantine", byzantine}, {"kind", kind},
         {"phase", phase_json(p)}, {"detection_ms", detection_ms}, {"isolation_ms", isolation_ms},
         {"lost", lost_of(run.replies)}, {"detections_by_kind", detections}, {"audit", audit_json(audit)}};
  return o;
}

// ---- the report ----

json quorum_table() {
  // Seed 4.2 "Theoretical Limit" table, typed from the seed text: n, f, quorum (2f+1).
  const std::vector<std::array<std::uint32_t, 3>> seed = {{3, 0, 1}, {4, 1, 3}, {5, 1, 3}, {6, 1, 3}, {7, 2, 5}, {10, 3, 7}, {13, 4, 9}};
  json rows = json::array(), seed_rows = json::array();
  for (const auto& [n, f_seed, q_seed] : seed) {
    const std::uint32_t f = core::faults_max(n);
    const std::uint32_t two_f1 = core::quorum_seed(n, f);
    const std::uint32_t q = core::quorum_safe(n, f);
    rows.push_back({n, f, two_f1, core::quorum_is_safe(n, f, two_f1) ? "yes" : "no", q});
    seed_rows.push_back({n, f_seed, q_seed});
  }
  return {{"id", "4.2-quorum"},
          {"seed_section", "4.2 Byzantine Fault Tolerance Limits: theoretical limit"},
          {"title", "Quorum per cluster size: the seed's 2f+1 beside Butterfly's quorum (core::quorum_safe)"},
          {"columns", json::array({"n", "f", "2f+1 (seed rule)", "2f+1 safe?", "Butterfly q"})},
          {"rows", rows},
          {"seed", {{"columns", json::array({"n", "max Byzantine f", "quorum (2f+1)"})}, {"rows", seed_rows}}},
          {"notes", json::array({"Computed by calling core::faults_max, core::quorum_seed, core::quorum_safe and core::quorum_is_safe "
                     "(core/quorum.hpp), the functions the head decides with; the running clusters' GET /v1/status "
                     "reported the same q (scenario tables).",
                     "The seed's f and 2f+1 match core's for every row, but 2f+1 is unsafe where n > 3f+1 (n = 3, 5, 6): two "
                     "different answers can both reach 2f+1 when the f Byzantine workers sign both. Butterfly uses "
                     "max(2f+1, floor((n+f)/2)+1); `butterfly quorum table` shows Z3's counterexample per unsafe row.",
                     "n = 3, f = 0: the seed's q = 1 lets any single worker decide alone, so two workers with different "
                     "answers would both 'decide'; Butterfly needs 2."})}};
}

json cell(const json& v) { return v.is_number() ? json(std::round(v.get<double>() * 10) / 10) : json("never"); }
json ms1(double v) { return std::round(v * 100) / 100; }
// A phase's accuracy, or why there is none.
json accuracy_cell(const json& phase) {
  return phase["accuracy_pct"].is_number() ? ms1(phase["accuracy_pct"].get<double>()) : json("n/a: nothing decided");
}

json report(const Settings& s, const Outcome& a, const std::vector<Outcome>& b, const Outcome& fp, const Outcome& c,
            const std::vector<Outcome>& limits) {
  json tables = json::array(), plots = json::array();
  const std::string load = "open loop at " + fixed(s.rate, 0) + " queries/s, instant:4 workers (true answer '4'), phases of " + fixed(s.phase_s, 1) + " s";
  {
    json rows = json::array();
    for (const auto& p : a.j["phases"]) {
      rows.push_back({p["phase"], p["sent"], p["certified"], p["lost"], p["errors"], ms1(p["latency_ms"]["p50"].get<double>()),
                      ms1(p["latency_ms"]["p99"].get<double>()), ms1(p["decided_per_s"].get<double>()), accuracy_cell(p)});
    }
    tables.push_back({{"id", "4.1-A"}, {"seed_section", "4.1 Scenario A: Single Worker Crash (4 workers total)"},
                      {"title", "Worker crash mid-load: before and after (" + load + ")"},
                      {"columns", json::array({"phase", "sent", "answered with certificate", "lost", "errors", "latency p50 (ms)", "latency p99 (ms)", "decided/s", "accuracy (%)"})},
                      {"rows", rows},
                      {"seed", {{"columns", json::array({"phase", "latency (ms)", "throughput (QPS)", "accuracy (%)"})},
                                {"rows", json::array({json::array({"before failure", 67, 14.9, 91.7}), json::array({"after failure (3 workers)", 89, 11.2, 90.8})})}}},
                      {"notes", json::array({"Each query goes to every worker and decides at q = 3 agreeing answers, so with 3 of 4 alive "
                                 "the head waits for all three instead of the first three of four: no retry, no view change.",
                                 "Throughput is the offered open-loop rate while nothing is lost; the seed's 14.9 -> 11.2 QPS is a "
                                 "model-bound capacity figure, not measured here (instant workers have no model time).",
                                 "Accuracy: decided answers equal to the known truth; instant workers are always right, so this "
                                 "measures that the fault makes no wrong answer certified, not model quality.",
                                 "Head detections during the run (GET /metrics): " + detections_text(a.j["detections_by_kind"]) + "."})}});
    tables.push_back({{"id", "4.1-A-times"}, {"seed_section", "4.1 Scenario A: recovery time"},
                      {"title", "Worker crash: detection and recovery times (ms)"},
                      {"columns", json::array({"detection", "first decided after the kill", "restarted worker eligible again", "queries lost"})},
                      {"rows", json::array({json::array({cell(a.j["detection_ms"]), cell(a.j["recovery_ms"]), cell(a.j["rejoin_ms"]), a.j["lost"]})})},
                      {"seed", {{"columns", json::array({"recovery time (ms)", "queries lost"})}, {"rows", json::array({json::array({247, 0})})}}},
                      {"notes", json::array({a.j["definitions"]["detection_ms"], a.j["definitions"]["recovery_ms"], a.j["definitions"]["rejoin_ms"]})}});
    plots.push_back(a.j["plot"]);
  }
  {
    json rows = json::array(), rep_series = json::array();
    std::string b_detections;
    for (const auto& o : b) b_detections += (b_detections.empty() ? "" : "; ") + o.j["kind"].get<std::string>() + ": " + detections_text(o.j["detections_by_kind"]);
    const double honest_p50 = a.j["phases"][0]["latency_ms"]["p50"].get<double>();
    for (const auto& o : b) {
      const auto& before = o.j["phases"][0];
      const auto& after = o.j["phases"][1];
      const auto& rep = o.j["reputation"]["value"];
      rows.push_back({o.j["kind"], cell(o.j["detection_ms"]), o.j["queries_until_isolated"].is_null() ? json("never") : o.j["queries_until_isolated"],
                      cell(o.j["isolation_ms"]), rep.empty() ? json(nullptr) : json(std::round(rep.front().get<double>() * 1000) / 1000),
                      rep.empty() ? json(nullptr) : json(std::round(rep.back().get<double>() * 1000) / 1000),
                      ms1(honest_p50), ms1(before["latency_ms"]["p50"].get<double>()), ms1(after["latency_ms"]["p50"].get<double>()),
                      ms1((before["correct"].get<double>() + after["correct"].get<double>()) * 100 /
                          std::max(1.0, before["decided"].get<double>() + after["decided"].get<double>())),
                      before["wrong_decided"].get<std::uint64_t>() + after["wrong_decided"].get<std::uint64_t>(), o.j["lost"]});
      rep_series.push_back({{"name", o.j["kind"]}, {"x", o.j["reputation"]["t_s"]}, {"y", rep}});
      plots.push_back(o.j["plot"]);
    }
    tables.push_back({{"id", "4.1-B"}, {"seed_section", "4.1 Scenario B: Byzantine Worker (Malicious)"},
                      {"title", "One Byzantine worker of 4: detection, isolation, reputation, latency, accuracy (" + load + ")"},
                      {"columns", json::array({"kind", "time to detect (ms)", "queries until isolated", "time to isolate (ms)", "reputation start",
                                   "reputation end", "honest latency p50 (ms)", "latency p50 until isolated (ms)",
                                   "latency p50 after (ms)", "accuracy (%)", "wrong decided", "lost"})},
                      {"rows", rows},
                      {"seed", {{"columns", json::array({"kind", "time to detect (ms)", "reputation start", "reputation end", "latency impact (ms)", "accuracy (%)"})},
                                {"rows", json::array({json::array({"incorrect responses", 156, 1.0, 0.1, 23, 91.7})})}}},
                      {"notes", json::array({"Times count from the load's first query: a lying worker is caught only when its answer reaches "
                                 "the head before the decision (else it is simply ignored), and 'wrong' is excluded when its "
                                 "reputation falls below 0.3 (six outvoted answers from 1.0, core/reputation.hpp), an "
                                 "equivocator at its first double answer (reputation set to the floor 0.1).",
                                 "No extra verification round: every answer is verified as it arrives, so the latency "
                                 "difference to the honest cluster is what the figures show, not the seed's +23 ms.",
                                 "Honest latency p50: scenario A before the kill, same rate and n.",
                                 "Head detections during the runs (GET /metrics): " + b_detections + ". A no-quorum answer in "
                                 "these runs (raw JSON, phases) means the head counted fewer than q = 3 reachable workers "
                                 "for that query: an honest worker's connection was declared dead (heartbeat-timeout: "
                                 "silent for 150 ms), which happens when this shared 2-core machine starves it."})}});
    plots.push_back({{"id", "faults-b-reputation"}, {"title", "Scenario B: the Byzantine worker's reputation (GET /v1/status)"},
                     {"x_label", "time since the first query (s)"}, {"y_label", "reputation"}, {"kind", "line"}, {"series", rep_series}});
  }
  tables.push_back({{"id", "4.1-B-false-positives"}, {"seed_section", "4.1 Scenario B: false positive rate"},
                    {"title", "Honest cluster (n = 4) under closed-loop load: workers flagged"},
                    {"columns", json::array({"queries", "detections", "replies flagging a worker", "workers isolated at end", "false positive rate (%)"})},
                    {"rows", json::array({json::array({fp.j["queries"], fp.j["detections"], fp.j["replies_flagging_a_worker"], fp.j["workers_excluded_at_end"], fp.j["false_positive_pct"]})})},
                    {"seed", {{"columns", json::array({"queries", "false positive rate (%)"})}, {"rows", json::array({json::array({10000, 0.0})})}}},
                    {"notes", json::array({fp.j["definition"], "Exact agreement on deterministic workers: an honest worker can only be "
                                                  "flagged by a timeout (round deadline 2 s) or a bug, so 0 is the expected figure."})}});
  {
    json rows = json::array();
    for (const auto& p : c.j["phases"]) {
      rows.push_back({p["phase"], p["sent"], p["decided"], p["no_quorum"], p["no_consensus"], p["lost"], ms1(p["latency_ms"]["p50"].get<double>()),
                      ms1(p["latency_ms"]["p99"].get<double>()), p["wrong_decided"]});
    }
    tables.push_back({{"id", "4.1-C"}, {"seed_section", "4.1 Scenario C: Network Partition"},
                      {"title", "Partition of 2 of 4 workers (SIGSTOP), then healed (SIGCONT) (" + load + ")"},
                      {"columns", json::array({"phase", "sent", "decided", "no-quorum (certified)", "no-consensus", "lost", "latency p50 (ms)", "latency p99 (ms)", "wrong decided"})},
                      {"rows", rows},
                      {"seed", {{"columns", json::array({"group", "behaviour", "latency (ms)", "throughput (QPS)", "accuracy (%)"})},
                                {"rows", json::array({json::array({"A: head + 2 workers", "continues processing", 78, 10.3, 89.4}), json::array({"B: 2 workers", "stops", nullptr, nullptr, nullptr})})}}},
                      {"notes", json::array({"The seed's group A 'continues with 2 workers, f = 0' contradicts its own quorum table: n = 4 has "
                                 "f = 1 and q = 3, and the membership is fixed, so 2 reachable workers cannot form a quorum. "
                                 "Continuing would need a membership change to n = 2, which a partition must not trigger "
                                 "(the other side could do the same). Butterfly fails closed: every query during the "
                                 "partition gets a signed, verifiable no-quorum certificate, which counts as an answer (not lost).",
                                 "Accuracy during the partition is not defined (nothing is decided); no wrong answer is decided.",
                                 "Head detections during the run (GET /metrics): " + detections_text(c.j["detections_by_kind"]) +
                                 ". A no-quorum before the stop or after the healing means the head counted fewer than q "
                                 "reachable workers for that query (just after SIGCONT: not yet reconnected; else a worker's "
                                 "connection declared dead by a heartbeat-timeout on this loaded machine)."})}});
    tables.push_back({{"id", "4.1-C-times"}, {"seed_section", "4.1 Scenario C: partition detected / resolved"},
                      {"title", "Partition: detection, failing closed, healing (ms)"},
                      {"columns", json::array({"detection (both)", "first no-quorum answer", "reconnected after SIGCONT", "decided again after SIGCONT", "queries lost"})},
                      {"rows", json::array({json::array({cell(c.j["detection_ms"]), cell(c.j["fail_closed_ms"]), cell(c.j["reconnect_ms"]), cell(c.j["decide_again_ms"]), c.j["lost"]})})},
                      {"seed", {{"columns", json::array({"partition detected (ms)", "resolved"})}, {"rows", json::array({json::array({1247, "automatic reconnection, state synchronized via gossip"})})}}},
                      {"notes", json::array({c.j["definitions"]["detection_ms"], c.j["definitions"]["fail_closed_ms"], c.j["definitions"]["decide_again_ms"],
                                 "No gossip: the head redials each worker (backoff 50 ms doubling to 1 s); the only shared state is "
                                 "the head's certificate chain."})}});
    plots.push_back(c.j["plot"]);
  }
  tables.push_back(quorum_table());
  {
    json rows = json::array();
    std::string limits_detections;
    for (const auto& o : limits) limits_detections += (limits_detections.empty() ? "" : "; ") + o.j["test"].get<std::string>() + ": " + detections_text(o.j["detections_by_kind"]);
    for (const auto& o : limits) {
      const auto& p = o.j["phase"];
      rows.push_back({o.j["test"], o.j["byzantine"], o.j["kind"], o.j["q"], p["sent"], p["decided"], p["no_consensus"], p["no_quorum"],
                      p["wrong_decided"], accuracy_cell(p), cell(o.j["detection_ms"]), cell(o.j["isolation_ms"]), o.j["lost"]});
    }
    tables.push_back({{"id", "4.2-tests"}, {"seed_section", "4.2 Experimental Validation (7 workers, f = 2)"},
                      {"title", "n = 7: 2 colluders, 2 different liars, 3 colluders (" + load + ")"},
                      {"columns", json::array({"test", "Byzantine", "kind", "q", "sent", "decided", "no-consensus", "no-quorum", "wrong decided",
                                   "accuracy (%)", "time to detect (ms)", "all isolated (ms)", "lost"})},
                      {"rows", rows},
                      {"seed", {{"columns", json::array({"test", "Byzantine", "result", "time to detect (ms)"})},
                                {"rows", json::array({json::array({"1", 2, "attack detected, accuracy maintained", 89}), json::array({"2", 2, "attack detected, accuracy maintained", 134}), json::array({"3", 3, "consensus failure (no quorum), timeout, manual intervention; safety violation marked", nullptr})})}}},
                      {"notes", json::array({"kind 'collude': every colluder sends the same wrong answer; 'wrong': each sends its own.",
                                 "Test 3: q = 5 of 7. A wrong answer is decided only when q = 5 workers sign it, and honest workers never "
                                 "sign it, so it would take 5 colluders; the 3 colluders cannot reach 5 and the 4 honest "
                                 "workers cannot either, so every query ends in a certified no-consensus (or no-quorum) and "
                                 "nothing wrong is decided: liveness is lost, safety is kept. The seed marks test 3 'Safety "
                                 "violation' as expected; with Butterfly's quorum none happens (column 'wrong decided').",
                                 "Times from the load's first query; detection needs a decision, so test 3 has none.",
                                 "Head detections during the runs (GET /metrics): " + limits_detections + "."})}});
  }
  return {{"tables", tables}, {"plots", plots}};
}

std::string faults_command(const BenchOptions& o) {
  std::string c = "butterfly bench run faults";
  if (o.smoke) {
    c += " --smoke";
  } else {
    c += " --faults-rate " + fixed(o.faults_rate, 0) + " --faults-phase-s " + fixed(o.faults_phase_s, 1) + " --faults-fp-s " + fixed(o.faults_fp_s, 1);
  }
  if (o.json_out) c += " --json --out " + o.out;
  return c;
}

}  // namespace

int run_faults(const BenchOptions& o) {
  Settings s{o.faults_rate, o.faults_phase_s, o.faults_fp_s, o.smoke};
  if (o.smoke) s = {50, 1.5, 1.5, true};
  if (s.rate < 1 || s.rate > 5000) fail("--faults-rate must be 1..5000 queries/s");
  if (s.phase_s < 1 || s.phase_s > 600) fail("--faults-phase-s must be 1..600 s");
  if (s.fp_s < 0.5 || s.fp_s > 600) fail("--faults-fp-s must be 0.5..600 s");
  const auto machine = machine_json();
  const std::string command = faults_command(o);
  std::cout << "butterfly bench run faults: seed sections 4.1 (scenarios A, B, C) and 4.2, real loopback clusters of instant:4 "
               "workers, the head's defaults (heartbeat " << runtime::HeadOptions{}.heartbeat_ms << " ms x "
            << runtime::HeadOptions{}.heartbeat_missed_max << ", round timeout " << cluster_round_timeout_ms_default << " ms)\n";
  print_machine(machine, command);
  const fs::path work = make_work_dir(o);
  const Outcome a = scenario_a(s, work);
  std::vector<Outcome> b;
  for (const std::string kind : {"wrong", "equivocate"}) b.push_back(scenario_b(s, work, kind));
  const Outcome fp = false_positives(s, work);
  const Outcome c = scenario_c(s, work);
  std::vector<Outcome> limits;
  limits.push_back(limits_test(s, work, "1: 2 colluders", 2, "collude"));
  limits.push_back(limits_test(s, work, "2: 2 different liars", 2, "wrong"));
  limits.push_back(limits_test(s, work, "3: 3 colluders (> f)", 3, "collude"));
  std::vector<std::string> problems;
  std::vector<const Outcome*> all = {&a, &fp, &c};
  for (const auto& x : b) all.push_back(&x);
  for (const auto& x : limits) all.push_back(&x);
  for (const Outcome* x : all) {
    problems.insert(problems.end(), x->problems.begin(), x->problems.end());
  }
  if (!o.keep && o.dir.empty()) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  json aj = a.j, cj = c.j, bj = json::array(), lj = json::array();
  for (const auto& x : b) bj.push_back(x.j);
  for (const auto& x : limits) lj.push_back(x.j);
  std::cout << "\n" << (problems.empty() ? "every scenario met Butterfly's guarantees" : std::to_string(problems.size()) + " problem(s):") << "\n";
  for (const auto& p : problems) std::cout << "  " << p << "\n";
  const json rep = report(s, a, b, fp, c, limits);
  for (json* x : {&aj, &cj}) x->erase("plot");
  for (auto& x : bj) x.erase("plot");
  const json result = {{"suite", "faults"}, {"machine", machine}, {"command", command},
                       {"settings", {{"rate", s.rate}, {"phase_s", s.phase_s}, {"fp_s", s.fp_s}, {"smoke", s.smoke},
                                     {"poll_ms", poll_period_us / 1000.0}, {"connections", connections}}},
                       {"scenario_a", aj}, {"scenario_b", bj}, {"false_positives", fp.j}, {"scenario_c", cj},
                       {"limits_n7", lj}, {"problems", problems}, {"report", rep}};
  if (o.json_out) write_results(o, "faults", result);
  return problems.empty() ? exit_ok : exit_failed;
}

}  // namespace bf::cli::bench
