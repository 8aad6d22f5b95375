// butterfly bench run scaling (issue 9; the seed's sections 3.3 "Scaling Efficiency", 5.1 "Strong
// Scaling" and 5.2 "Weak Scaling"). Real loopback clusters of separate processes, as `cluster
// start` makes them, with two worker models:
//
//   fixed:MS         a synthetic model that answers after exactly MS ms of sleep (no CPU), so the
//                    time that is not MS is coordination: head, loopback, the workers' protocol work.
//   builtin:smollm2  the real model in Butterfly's CPU runtime (if the model file is fetched), with
//                    a short answer budget; every worker shares this machine's cores.
//
//   strong   one query at a time, K per n: latency, speedup T(1)/T(n), efficiency, head overhead.
//   weak     open loop at a fixed offered load per worker (rate = per-worker x n): achieved rate,
//            efficiency, latency, errors, head CPU per query; once with workers that can run
//            enough model calls at once, once with one model call at a time per worker.
//   limit    closed loop at the largest n: the head's saturation throughput with the synthetic model.
//
// Butterfly is an ensemble: every query goes to every worker and each worker runs the whole query.
// The report's notes say what that means for the seed's tables.
#include "cli/bench_common.hpp"
#include "core/quorum.hpp"
#include "model/model_paths.hpp"

namespace bf::cli::bench {
namespace {

constexpr std::uint32_t real_query_timeout_ms = 180'000;
constexpr std::uint32_t synthetic_query_timeout_ms = 30'000;
constexpr std::uint32_t smoke_queries = 5;
constexpr double smoke_weak_s = 1.5;
constexpr std::uint32_t limit_connections = 128;  // enough to saturate a head (Little: C / latency)
constexpr std::uint32_t model_threads_max = 64;   // butterfly worker --model-threads

// The seed's tables, typed from ../shared/seeds/butterfly-benchmarks.txt (claims, not results).
const json& seed_3_3() {
  static const json t = {{"columns", {"workers", "speedup", "efficiency (%)"}},
                         {"rows", {{2, 1.8, 90}, {4, 3.7, 92}, {8, 4.2, 53}, {16, 5.1, 32}}}};
  return t;
}
const json& seed_5_1() {
  static const json t = {{"columns", {"workers", "latency (ms)", "speedup", "efficiency (%)", "overhead (ms)"}},
                         {"rows", {{1, 247, 1.0, 100, 0}, {2, 134, 1.8, 90, 13}, {4, 67, 3.7, 92, 18},
                                   {8, 39, 6.3, 79, 24}, {16, 28, 8.8, 55, 47}}}};
  return t;
}
const json& seed_5_2() {
  static const json t = {{"columns", {"workers", "load per worker (queries/s)", "total throughput (queries/s)", "efficiency (%)"}},
                         {"rows", {{2, 5.0, 9.7, 97}, {4, 5.0, 19.1, 95}, {8, 5.0, 37.2, 93}, {16, 5.0, 71.8, 90}}}};
  return t;
}
constexpr double seed_serial_fraction = 0.19;  // seed 5.1 "Amdahl's Law Analysis": s = 0.19

double amdahl(double s, double n) { return 1.0 / (s + (1.0 - s) / n); }

// ---- the worker logs ----

// The model times a worker logged ("model done job J in X ms", runtime/worker_process.cpp), in order.
std::vector<double> model_runs_ms(const fs::path& log) {
  std::vector<double> out;
  std::ifstream in(log);
  const std::string marker = "model done job ";
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find(marker);
    if (at == std::string::npos) continue;
    const auto in_at = line.find(" in ", at + marker.size());
    if (in_at == std::string::npos) continue;
    double ms = 0;
    const char* first = line.data() + in_at + 4;
    const auto [end, err] = std::from_chars(first, line.data() + line.size(), ms);
    if (err == std::errc{} && end != first) out.push_back(ms);
  }
  return out;
}

// ---- strong scaling ----

struct StrongSpec {
  std::string label;  // "synthetic" or "real"
  std::string model;
  std::uint32_t queries = 0;
  double model_ms = -1;  // the model's known time (fixed:MS), else -1
  std::vector<std::string> worker_args;
  std::uint32_t query_timeout_ms = synthetic_query_timeout_ms;
  std::function<std::string(std::uint64_t)> body_of;
};

double timing(const json& t, const char* stage) { return t.contains(stage) && t[stage].is_number() ? t[stage].get<double>() : -1; }

// One cluster of n workers; one warm-up query, then spec.queries one after another.
json strong_once(const StrongSpec& spec, const fs::path& work, std::uint32_t n) {
  const fs::path dir = work / ("strong-" + spec.label + "-n" + std::to_string(n));
  Cluster cluster(dir, n, 0, "wrong", spec.model, {}, cluster_round_timeout_ms_default, spec.worker_args);
  Client client(cluster.endpoint());
  std::vector<double> latency_us, head_us, wait_us, total_us, commit_us, non_model_us;
  std::map<std::string, std::uint64_t> outcomes, errors;
  double rounds_sum = 0;
  std::uint64_t answered = 0;
  std::string first_error;
  std::uint64_t rounds_all = 0;  // every query's rounds, warm-up included: asks per worker
  for (std::uint32_t k = 0; k <= spec.queries; ++k) {
    const bool warmup = k == 0;
    const auto t0 = Clock::now();
    const auto r = client.call(bhttp::verb::post, "/v1/query", spec.body_of(k), spec.query_timeout_ms);
    const double us = us_between(t0, Clock::now());
    std::string error;
    json reply;
    if (!r.ok) {
      error = "io: " + r.body;
    } else if (r.status != 200) {
      error = "http " + std::to_string(r.status);
    } else {
      reply = json::parse(r.body, nullptr, false);
      if (reply.is_discarded() || !reply.contains("timings_us")) error = "reply without timings_us";
    }
    if (error.empty()) rounds_all += reply.value("rounds", std::uint64_t{1});
    if (warmup) continue;
    if (!error.empty()) {
      ++errors[error];
      if (first_error.empty()) first_error = r.body.substr(0, 300);
      continue;
    }
    ++answered;
    const auto& t = reply["timings_us"];
    latency_us.push_back(us);
    head_us.push_back(timing(t, "head"));
    wait_us.push_back(timing(t, "wait"));
    total_us.push_back(timing(t, "total"));
    commit_us.push_back(timing(t, "commit"));
    if (spec.model_ms >= 0) non_model_us.push_back(us - spec.model_ms * 1000);
    ++outcomes[reply.value("outcome", std::string("unknown"))];
    rounds_sum += static_cast<double>(reply.value("rounds", 1));
  }
  // Workers that did not decide may still be running the last query's model: let them finish.
  std::vector<std::vector<double>> runs(n);
  const auto logs_deadline = Clock::now() + std::chrono::milliseconds(spec.model_ms >= 0 ? 2000 : 60'000);
  for (;;) {
    bool complete = true;
    for (std::uint32_t w = 0; w < n; ++w) {
      const std::string id = "worker-" + std::string(w + 1 < 10 ? "0" : "") + std::to_string(w + 1);
      runs[w] = model_runs_ms(dir / "logs" / (id + ".log"));
      complete = complete && runs[w].size() >= rounds_all;
    }
    if (complete || Clock::now() >= logs_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Per round, the slowest worker's model time and the deciding one's (the q-th fastest: the head
  // decides on the q-th matching answer), when every worker logged one run per round (queries one
  // at a time, so the k-th run of every worker is the k-th round).
  const std::uint32_t q = core::quorum_safe(n, (n - 1) / 3);
  std::vector<double> all_runs, slowest_ms, deciding_ms;
  bool matched = rounds_all > 0;
  for (const auto& v : runs) {
    all_runs.insert(all_runs.end(), v.begin(), v.end());
    matched = matched && v.size() == rounds_all;
  }
  // Pairs a measured query with its round when no query debated (one round each).
  const bool one_round_each = matched && rounds_all == spec.queries + 1 && answered == spec.queries;
  if (matched) {
    for (std::size_t i = 1; i < rounds_all; ++i) {  // round 0 is the warm-up query's when one_round_each
      std::vector<double> times;
      for (const auto& v : runs) times.push_back(v[i]);
      std::sort(times.begin(), times.end());
      slowest_ms.push_back(times.back());
      deciding_ms.push_back(times[q - 1]);
    }
  }
  const auto lat = summarize(latency_us);
  const auto head = summarize(head_us);
  const auto slow = summarize(slowest_ms);
  const auto deciding = summarize(deciding_ms);
  std::uint64_t error_count = 0;
  json errors_json = json::object();
  for (const auto& [kind, count] : errors) {
    error_count += count;
    errors_json[kind] = count;
  }
  json outcomes_json = json::object();
  for (const auto& [kind, count] : outcomes) outcomes_json[kind] = count;
  // Client latency minus the deciding worker's model time: what coordination adds (HTTP, the
  // head, loopback, the workers' verify and sign). Real model: per query when the logs pair up.
  double non_model_p50_ms = -1;
  if (spec.model_ms >= 0) {
    non_model_p50_ms = summarize(non_model_us).p50 / 1000;
  } else if (one_round_each) {
    std::vector<double> diff;
    for (std::size_t i = 0; i < latency_us.size() && i < deciding_ms.size(); ++i) diff.push_back(latency_us[i] / 1000 - deciding_ms[i]);
    non_model_p50_ms = summarize(diff).p50;
  }
  std::cout << "  " << spec.label << " n = " << n << " (f = " << (n - 1) / 3 << "): " << answered << " queries, latency p50 "
            << fixed(lat.p50 / 1000, 1) << " ms, p95 " << fixed(lat.p95 / 1000, 1) << " ms; head overhead p50 "
            << fixed(head.p50 / 1000, 2) << " ms (commit " << fixed(summarize(commit_us).p50 / 1000, 2) << ")";
  if (non_model_p50_ms >= 0) std::cout << "; non-model time p50 " << fixed(non_model_p50_ms, 1) << " ms";
  if (!all_runs.empty()) std::cout << "; model run p50 " << fixed(summarize(all_runs).p50, 0) << " ms";
  if (error_count > 0) std::cout << "; " << error_count << " ERRORS (first: " << first_error << ")";
  std::cout << std::endl;  // flushed: progress for a user watching a log
  return {{"n", n},
          {"f", (n - 1) / 3},
          {"model", spec.model},
          {"worker_args", spec.worker_args},
          {"queries", spec.queries},
          {"answered", answered},
          {"errors", error_count},
          {"errors_by_kind", errors_json},
          {"outcomes", outcomes_json},
          {"rounds_mean", answered > 0 ? rounds_sum / static_cast<double>(answered) : 0.0},
          {"latency_us", summary_json(lat)},
          {"head_us", summary_json(head)},
          {"wait_us", summary_json(summarize(wait_us))},
          {"total_us", summary_json(summarize(total_us))},
          {"commit_us", summary_json(summarize(commit_us))},
          {"non_model_p50_ms", non_model_p50_ms},
          {"model_ms_known", spec.model_ms},
          {"model_runs_ms", summary_json(summarize(all_runs))},
          {"model_runs_matched_per_round", matched},
          {"quorum", q},
          {"slowest_model_ms_per_query", summary_json(slow)},
          {"deciding_model_ms_per_query", summary_json(deciding)},
          {"non_model_paired_per_query", spec.model_ms >= 0 || one_round_each}};
}

// Speedup and efficiency against the run at n = 1 (or the smallest n), by latency p50.
void add_speedup(json& runs) {
  if (runs.empty()) return;
  const double base = runs[0]["latency_us"]["p50"].get<double>();
  const double base_n = runs[0]["n"].get<double>();
  for (auto& r : runs) {
    const double p50 = r["latency_us"]["p50"].get<double>();
    const double speedup = p50 > 0 ? base / p50 : 0;
    r["speedup"] = speedup;
    r["speedup_base_n"] = base_n;
    r["efficiency"] = speedup / (r["n"].get<double>() / base_n);
  }
}

json strong_series(const StrongSpec& spec, const fs::path& work, const std::vector<std::uint32_t>& counts) {
  json runs = json::array();
  for (std::uint32_t n : counts) runs.push_back(strong_once(spec, work, n));
  add_speedup(runs);
  return runs;
}

// ---- weak scaling and the head's limit ----

struct LoadRun {
  std::string variant;
  std::uint32_t n = 0;
  double rate = 0;  // 0: closed loop
  std::uint32_t connections = 0;
  std::uint32_t model_threads = 0;
  double duration_s = 0;
};

json load_once(const BenchOptions& o, const fs::path& work, const LoadRun& run) {
  const std::string model = "fixed:" + std::to_string(o.scaling_model_ms);
  Cluster cluster(work / (run.variant + "-n" + std::to_string(run.n)), run.n, 0, "wrong", model, {},
                  cluster_round_timeout_ms_default, {"--model-threads", std::to_string(run.model_threads)});
  LoadSpec spec;
  spec.endpoint = cluster.endpoint();
  spec.duration_s = run.duration_s;
  spec.warmup_s = o.smoke ? 0.5 : o.warmup_s;
  spec.concurrency = run.connections;
  spec.rate = run.rate;
  // Throughput = answers that arrived within the measured window / its length. (r.ok counts every
  // query sent in the window, however late its answer: an overloaded open loop would look as fast
  // as its offered rate.)
  std::uint64_t in_window = 0;
  Clock::time_point window_from, window_to;
  spec.on_reply = [&](const QueryRecord& q) {
    if (q.status == 200 && q.done >= window_from && q.done < window_to) ++in_window;
  };
  LoadGenerator gen(spec);
  // CPU seconds so far: head, the n workers together, this process (the load generator).
  const auto cpu_now = [&] {
    std::vector<double> v = {cpu_seconds(cluster.head_pid()), 0.0, cpu_seconds(::getpid())};
    for (std::size_t w = 0; w < cluster.n(); ++w) v[1] += cpu_seconds(cluster.worker_pid(w));
    return v;
  };
  const auto cpu0 = cpu_now();
  window_from = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec.warmup_s));
  window_to = window_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec.duration_s));
  const auto run_start = Clock::now();
  auto r = gen.run();
  const auto cpu1 = cpu_now();
  // Cores this benchmark's processes kept busy on average (others' work on the machine not counted).
  const double cores_busy = (cpu1[0] - cpu0[0] + cpu1[1] - cpu0[1] + cpu1[2] - cpu0[2]) / (us_between(run_start, Clock::now()) / 1e6);
  const double achieved = static_cast<double>(in_window) / spec.duration_s;
  std::uint64_t errors = 0;
  json errors_json = json::object();
  for (const auto& [kind, count] : r.errors) {
    errors += count;
    errors_json[kind] = count;
  }
  const auto lat = summarize(r.latency_us);
  // Warm-up queries used the head too: divide by every answered query.
  const double all_answered = static_cast<double>(std::max<std::uint64_t>(1, gen.answered_total_));
  const double head_cpu_us = (cpu1[0] - cpu0[0]) * 1e6 / all_answered;
  const double workers_cpu_us = (cpu1[1] - cpu0[1]) * 1e6 / all_answered;
  const double loadgen_cpu_us = (cpu1[2] - cpu0[2]) * 1e6 / all_answered;
  const double offered = run.rate;
  std::cout << "  " << run.variant << " n = " << run.n << ": "
            << (run.rate > 0 ? "offered " + fixed(offered, 1) + " queries/s, " : "closed loop, " + std::to_string(run.connections) + " connections, ")
            << "achieved " << fixed(achieved, 1) << " queries/s";
  if (run.rate > 0) std::cout << " (" << fixed(100 * achieved / offered, 0) << "%)";
  std::cout << ", latency p50 " << fixed(lat.p50 / 1000, 1) << " ms, p99 " << fixed(lat.p99 / 1000, 1) << " ms, "
            << errors << " errors, CPU per query: head " << fixed(head_cpu_us, 0) << " us, workers " << fixed(workers_cpu_us, 0)
            << " us, load generator " << fixed(loadgen_cpu_us, 0) << " us (" << fixed(cores_busy, 2)
            << " cores busy); model threads per worker "
            << run.model_threads << "\n";
  if (!gen.first_error_.empty()) std::cout << "    first error reply: " << gen.first_error_ << "\n";
  std::cout.flush();
  return {{"variant", run.variant},
          {"n", run.n},
          {"f", (run.n - 1) / 3},
          {"model", model},
          {"worker_model_threads", run.model_threads},
          {"worker_capacity_qps", static_cast<double>(run.model_threads) * 1000.0 / std::max(1.0, static_cast<double>(o.scaling_model_ms))},
          {"mode", run.rate > 0 ? "open" : "closed"},
          {"offered_qps", offered},
          {"offered_per_worker_qps", run.rate > 0 ? offered / run.n : 0.0},
          {"connections", run.connections},
          {"measured_s", r.measured_s},
          {"sent", r.sent},
          {"answered", r.ok},
          {"answered_within_window", in_window},
          {"achieved_qps", achieved},
          {"efficiency", run.rate > 0 ? achieved / offered : 0.0},
          {"errors", errors},
          {"errors_by_kind", errors_json},
          {"latency_us", summary_json(lat)},
          {"head_cpu_us_per_query", head_cpu_us},
          {"workers_cpu_us_per_query", workers_cpu_us},
          {"load_generator_cpu_us_per_query", loadgen_cpu_us},
          {"cores_busy", cores_busy}};
}

std::uint32_t threads_for(double concurrent) {
  return std::clamp<std::uint32_t>(static_cast<std::uint32_t>(std::ceil(concurrent)), 2, model_threads_max);
}

// ---- the report ----

double p50_ms(const json& r) { return r["latency_us"]["p50"].get<double>() / 1000; }

json strong_rows(const json& runs, const std::string& label) {
  json rows = json::array();
  for (const auto& r : runs) {
    rows.push_back({r["n"], label, r["answered"], p50_ms(r), r["latency_us"]["p95"].get<double>() / 1000, r["speedup"],
                    100 * r["efficiency"].get<double>(), r["head_us"]["p50"].get<double>() / 1000,
                    r["commit_us"]["p50"].get<double>() / 1000, r["non_model_p50_ms"].get<double>() >= 0 ? r["non_model_p50_ms"] : json("n/a"), r["errors"]});
  }
  return rows;
}

json series_of(const std::string& name, const json& runs, const std::function<double(const json&)>& y) {
  json xs = json::array(), ys = json::array();
  for (const auto& r : runs) {
    xs.push_back(r["n"]);
    ys.push_back(y(r));
  }
  return {{"name", name}, {"x", xs}, {"y", ys}};
}

json seed_series(const std::string& name, const json& seed, std::size_t column) {
  json xs = json::array(), ys = json::array();
  for (const auto& row : seed["rows"]) {
    xs.push_back(row[0]);
    ys.push_back(row[column]);
  }
  return {{"name", name}, {"x", xs}, {"y", ys}};
}

json make_report(const BenchOptions& o, const json& synthetic, const json& real, const std::string& real_skipped,
                 const json& weak, const json& limit) {
  const std::string ms = std::to_string(o.scaling_model_ms);
  const std::string ensemble =
      "Butterfly is an ensemble, not a model split: every query goes to every one of the n workers, each runs the "
      "whole query, and the head decides when q(n, f) matching answers have arrived (README, DESIGN.md). Adding "
      "workers adds redundancy and fault tolerance; it cannot divide a query's work, so latency cannot fall below "
      "one worker's model time and speedup T(1)/T(n) cannot exceed 1.";
  const double amdahl_max = 1.0 / seed_serial_fraction;
  std::string amdahl_note = "Super-linear speedup is not reproduced, and the seed's own figures contradict its analysis: with its s = " +
                            fixed(seed_serial_fraction, 2) + ", Amdahl's law caps speedup at 1/s = " + fixed(amdahl_max, 1) +
                            "x for any n, and gives";
  for (const double n : {2.0, 4.0, 8.0, 16.0}) amdahl_note += " " + fixed(amdahl(seed_serial_fraction, n), 2) + "x at n = " + fixed(n, 0) + ",";
  amdahl_note += " yet 5.1 claims 1.8x, 3.7x, 6.3x and 8.8x (and 3.3 3.7x at n = 4). \"Ensemble accuracy improvements\" "
                 "change what an answer is worth, not how fast it arrives.";
  const std::string cores = "All processes (load generator, head, n workers) share this machine's " +
                            std::to_string(std::thread::hardware_concurrency()) + " cores.";
  const std::string real_note =
      real.empty() ? "Real model: not run (" + real_skipped + ")."
                   : "Real model builtin:smollm2 (SmolLM2-135M Q4_1, Butterfly's CPU runtime), --max-tokens " +
                         std::to_string(o.scaling_max_tokens) + ", one compute thread per worker, specialists' system prompts as "
                         "`cluster start` gives them, agreement numeric, round timeout 60 s. Its n workers each run the "
                         "full model on the same " + std::to_string(std::thread::hardware_concurrency()) +
                         " cores, so beyond n = cores its latency measures CPU contention, not coordination.";
  json tables = json::array();
  json rows_3_3 = json::array();
  for (const auto* runs : {&synthetic, &real}) {
    const std::string label = runs == &synthetic ? "fixed:" + ms : "builtin:smollm2";
    for (const auto& r : *runs) rows_3_3.push_back({r["n"], label, p50_ms(r), r["speedup"], 100 * r["efficiency"].get<double>()});
  }
  tables.push_back({{"id", "3.3-scaling-efficiency"},
                    {"seed_section", "3.3 Large Cluster: Scaling Efficiency"},
                    {"title", "Speedup T(1)/T(n) and efficiency by latency p50, one query at a time"},
                    {"columns", {"workers", "model", "latency p50 (ms)", "speedup", "efficiency (%)"}},
                    {"rows", rows_3_3},
                    {"seed", seed_3_3()},
                    {"notes", {ensemble,
                               "The seed's 3.3 setup is \"Custom 200B split into 8 workers\" on 8 H100s: a model split "
                               "(tensor/pipeline parallelism) that Butterfly does not do, on hardware not available here.",
                               amdahl_note, real_note}}});
  json rows_5_1 = strong_rows(synthetic, "fixed:" + ms);
  for (const auto& row : strong_rows(real, "builtin:smollm2")) rows_5_1.push_back(row);
  tables.push_back({{"id", "5.1-strong"},
                    {"seed_section", "5.1 Strong Scaling (Fixed Problem Size)"},
                    {"title", "Strong scaling: one query at a time, n workers"},
                    {"columns", {"workers", "model", "queries", "latency p50 (ms)", "latency p95 (ms)", "speedup", "efficiency (%)",
                                 "head overhead p50 (ms)", "of which commit p50 (ms)", "non-model time p50 (ms)", "errors"}},
                    {"rows", rows_5_1},
                    {"seed", seed_5_1()},
                    {"notes", {ensemble,
                               "Latency: client side, POST /v1/query to the whole reply, over K distinct queries sent one "
                               "after another after one warm-up query. Speedup = latency p50 at the smallest n / at n; "
                               "efficiency = speedup / (n / smallest n).",
                               "Head overhead = the reply's timings_us.head = total - wait (spec/http.md): the head's own time "
                               "for the query (dispatch, decide, commit with fsync, reply); commit = timings_us.commit, the certificate's write "
                               "and fsyncs, which the reply waits for. Non-model time = client latency - "
                               "the deciding worker's model time, i.e. what coordination adds: HTTP, the head, loopback and the "
                               "workers' verify+sign. For fixed:" + ms + " the model time is exactly " + ms + " ms (it sleeps " +
                                   ms + " ms on the worker's model thread). For the real model it is, per query, the q-th fastest "
                                   "worker's logged model time (worker logs, \"model done ... in X ms\"), since the head decides on "
                                   "the q-th matching answer, not the slowest (q = 1, 2, 3 at n = 1, 2, 4); \"n/a\" where the logs "
                                   "do not pair one run per worker with each query (a debate round or a missing line).",
                               "The seed's fixed query is \"Prove that there are infinitely many primes\"; here the synthetic "
                               "model's time does not depend on the text, and the real model gets \"What is 2+2?\" with a short "
                               "answer budget so its answers can agree (numeric agreement) and the suite fits its time budget.",
                               amdahl_note, cores, real_note}}});
  json rows_5_2 = json::array();
  for (const auto& r : weak) {
    rows_5_2.push_back({r["n"], r["variant"], r["worker_model_threads"], r["offered_per_worker_qps"], r["offered_qps"], r["achieved_qps"],
                        100 * r["efficiency"].get<double>(), r["latency_us"]["p50"].get<double>() / 1000,
                        r["latency_us"]["p99"].get<double>() / 1000, r["errors"], r["head_cpu_us_per_query"]});
  }
  const std::string per_worker = fixed(o.scaling_per_worker_qps, 1);
  tables.push_back({{"id", "5.2-weak"},
                    {"seed_section", "5.2 Weak Scaling (Fixed Load per Worker)"},
                    {"title", "Weak scaling: open loop at " + per_worker + " queries/s per worker x n, fixed:" + ms + " workers"},
                    {"columns", {"workers", "variant", "model threads per worker", "offered per worker (queries/s)", "offered total (queries/s)",
                                 "achieved (queries/s)", "efficiency (%)", "latency p50 (ms)", "latency p99 (ms)", "errors",
                                 "head CPU per query (us)"}},
                    {"rows", rows_5_2},
                    {"seed", seed_5_2()},
                    {"notes", {"What this measures: the seed's weak scaling assumes each query goes to one worker, so n workers at "
                               "5 queries/s each serve 5n queries/s. In Butterfly every query goes to every worker, so offering "
                               "5n queries/s makes each worker run 5n queries/s, not 5: the work per worker grows with n and the "
                               "cluster's work with n^2. The seed's \"load per worker\" does not transfer; what does is the offered "
                               "total rate, and that is what the rows give (offered total = " + per_worker + " x n).",
                               "Variant \"concurrent\": each worker may run as many fixed:" + ms + " calls at once as the offered "
                               "rate needs (--model-threads, at least 2x rate x " + ms + " ms; sleeping costs no CPU), so the "
                               "rows measure the head's coordination at a growing rate and fan-out. Variant \"serial\": one "
                               "model call at a time per worker (--model-threads 1), like a single-stream model server: a "
                               "worker serves at most 1000 / " + ms + " queries/s, and so does the whole cluster, whatever n.",
                               "Efficiency = achieved / offered total. Latency counts from each query's scheduled time (open "
                               "loop), so queueing shows. Head CPU per query = the head process's user+system CPU over the "
                               "run / answered queries (warm-up included).",
                               cores}}});
  json limit_rows = json::array();
  for (const auto& r : limit) {
    limit_rows.push_back({r["n"], r["model"], r["connections"], r["worker_model_threads"], r["achieved_qps"],
                          r["latency_us"]["p50"].get<double>() / 1000, r["latency_us"]["p99"].get<double>() / 1000,
                          r["errors"], r["head_cpu_us_per_query"], r["workers_cpu_us_per_query"],
                          r["load_generator_cpu_us_per_query"], r["cores_busy"]});
  }
  tables.push_back({{"id", "5.2-head-limit"},
                    {"seed_section", "5.2 Weak Scaling: Head Node Scaling Limit"},
                    {"title", "The head's saturation throughput, fixed:" + ms + " workers, closed loop"},
                    {"columns", {"workers", "model", "connections", "model threads per worker", "achieved (queries/s)",
                                 "latency p50 (ms)", "latency p99 (ms)", "errors", "head CPU per query (us)",
                                 "workers' CPU per query (us, all n)", "load generator CPU per query (us)",
                                 "cores busy (this run's processes)"}},
                    {"rows", limit_rows},
                    {"seed", {{"columns", {"head cores", "head peak CPU (%)", "saturation (queries/s)"}}, {"rows", {{64, 92, 80}}}}},
                    {"notes", {"Closed loop with " + std::to_string(limit_connections) + " connections, so the load "
                               "generator offers more than the head can serve (Little's law: up to " +
                               std::to_string(limit_connections) + " / latency); workers can run up to " +
                               std::to_string(model_threads_max) + " model calls each at once, so the head or the shared "
                               "cores are the limit: CPU per query of each party and the cores this run's processes kept busy "
                               "(their CPU seconds / wall seconds; other load on the machine is not counted but competes) say "
                               "which. The overhead suite measures the same limit with instant workers "
                               "(bench/results/overhead.json, docs/benchmarks.md \"Cluster head\"): the model's fixed time "
                               "changes latency, not the head's work per query.",
                               "The seed's 80 queries/s was on a 64-core head; here the head shares " +
                                   std::to_string(std::thread::hardware_concurrency()) +
                                   " cores with the load generator and every worker.", cores}}});
  json plots = json::array();
  json latency_series = {series_of("fixed:" + ms + " p50", synthetic, p50_ms)};
  if (!real.empty()) latency_series.push_back(series_of("builtin:smollm2 p50", real, p50_ms));
  latency_series.push_back(seed_series("seed 5.1 (claimed)", seed_5_1(), 1));
  plots.push_back({{"id", "scaling-strong-latency"},
                   {"title", "Strong scaling: latency p50 vs workers, one query at a time"},
                   {"x_label", "workers"},
                   {"y_label", "latency p50 (ms)"},
                   {"kind", "line"},
                   {"series", latency_series}});
  json speedup_series = {series_of("fixed:" + ms, synthetic, [](const json& r) { return r["speedup"].get<double>(); })};
  if (!real.empty()) speedup_series.push_back(series_of("builtin:smollm2", real, [](const json& r) { return r["speedup"].get<double>(); }));
  speedup_series.push_back(series_of("ideal (speedup = n)", synthetic, [](const json& r) { return r["n"].get<double>(); }));
  speedup_series.push_back(series_of("Amdahl, the seed's s = 0.19", synthetic,
                                     [](const json& r) { return amdahl(seed_serial_fraction, r["n"].get<double>()); }));
  speedup_series.push_back(seed_series("seed 5.1 (claimed)", seed_5_1(), 2));
  plots.push_back({{"id", "scaling-speedup"},
                   {"title", "Speedup T(1)/T(n) vs workers"},
                   {"x_label", "workers"},
                   {"y_label", "speedup"},
                   {"kind", "line"},
                   {"series", speedup_series}});
  json weak_series = json::array();
  for (const std::string variant : {"concurrent", "serial"}) {
    json runs = json::array();
    for (const auto& r : weak) {
      if (r["variant"] == variant) runs.push_back(r);
    }
    if (!runs.empty()) {
      weak_series.push_back(series_of("achieved, " + variant + " workers", runs, [](const json& r) { return r["achieved_qps"].get<double>(); }));
    }
  }
  {
    json runs = json::array();
    for (const auto& r : weak) {
      if (r["variant"] == "concurrent") runs.push_back(r);
    }
    weak_series.push_back(series_of("offered", runs, [](const json& r) { return r["offered_qps"].get<double>(); }));
  }
  weak_series.push_back(seed_series("seed 5.2 (claimed)", seed_5_2(), 2));
  plots.push_back({{"id", "scaling-weak-throughput"},
                   {"title", "Weak scaling: throughput vs workers at " + per_worker + " queries/s per worker offered"},
                   {"x_label", "workers"},
                   {"y_label", "queries/s"},
                   {"kind", "line"},
                   {"series", weak_series}});
  return {{"tables", tables}, {"plots", plots}};
}

std::string scaling_command(const BenchOptions& o) {
  std::string c = "butterfly bench run scaling";
  if (o.smoke) c += " --smoke";
  if (o.workers_given) c += " --workers " + o.workers;
  c += " --scaling-model-ms " + std::to_string(o.scaling_model_ms) + " --scaling-queries " + std::to_string(o.scaling_queries) +
       " --scaling-per-worker-qps " + fixed(o.scaling_per_worker_qps, 1) + " --scaling-real-workers " +
       (o.scaling_real_workers.empty() ? "none" : o.scaling_real_workers) + " --scaling-real-queries " +
       std::to_string(o.scaling_real_queries) + " --scaling-max-tokens " + std::to_string(o.scaling_max_tokens) +
       " --duration-s " + fixed(o.duration_s, 1) + " --warmup-s " + fixed(o.warmup_s, 1);
  if (o.json_out) c += " --json --out " + o.out;
  return c;
}

std::uint64_t errors_in(const json& runs) {
  std::uint64_t e = 0;
  for (const auto& r : runs) e += r["errors"].get<std::uint64_t>();
  return e;
}

}  // namespace

int run_scaling(const BenchOptions& o) {
  if (o.scaling_model_ms < 1 || o.scaling_model_ms > 10'000) fail("--scaling-model-ms must be 1..10000");
  if (o.scaling_queries < 1 || o.scaling_queries > trials_max) fail("--scaling-queries must be 1..1000");
  if (o.scaling_real_queries < 1 || o.scaling_real_queries > trials_max) fail("--scaling-real-queries must be 1..1000");
  if (!(o.scaling_per_worker_qps > 0) || o.scaling_per_worker_qps > 1000) fail("--scaling-per-worker-qps must be above 0 and at most 1000");
  const auto counts = o.smoke && !o.workers_given ? std::vector<std::uint32_t>{1, 2, 4}
                                                  : parse_workers(o.workers_given ? o.workers : "1,2,4,8,16");
  std::vector<std::uint32_t> weak_counts;
  for (std::uint32_t n : counts) {
    if (n >= 2) weak_counts.push_back(n);
  }
  std::vector<std::uint32_t> real_counts;
  std::string real_skipped;
  if (o.smoke) {
    real_skipped = "--smoke runs the synthetic model only";
  } else if (o.scaling_real_workers == "none" || o.scaling_real_workers.empty()) {
    real_skipped = "--scaling-real-workers none";
  } else {
    real_counts = parse_workers(o.scaling_real_workers);
    const auto path = model::resolve_model_spec("builtin:smollm2");
    if (!path) {
      real_skipped = "the model file is missing: " + path.error().message + "; run scripts/fetch-model";
      real_counts.clear();
    }
  }
  const auto machine = machine_json();
  const std::string command = scaling_command(o);
  const std::string ms = std::to_string(o.scaling_model_ms);
  std::cout << "butterfly bench run scaling: strong and weak scaling with a synthetic worker model (fixed:" << ms
            << ": answers after " << ms << " ms of sleep) and the real model; every query goes to every worker\n";
  print_machine(machine, command);
  const fs::path work = make_work_dir(o);

  std::cout << "strong scaling, fixed:" << ms << ", " << (o.smoke ? smoke_queries : o.scaling_queries)
            << " queries one at a time per n:\n";
  StrongSpec synthetic_spec{"synthetic", "fixed:" + ms, o.smoke ? smoke_queries : o.scaling_queries,
                            static_cast<double>(o.scaling_model_ms), {}, synthetic_query_timeout_ms, default_query_body};
  const json synthetic = strong_series(synthetic_spec, work, counts);

  json real = json::array();
  if (real_counts.empty()) {
    std::cout << "strong scaling, builtin:smollm2: skipped (" << real_skipped << ")\n";
  } else {
    std::cout << "strong scaling, builtin:smollm2 (--max-tokens " << o.scaling_max_tokens << "), " << o.scaling_real_queries
              << " queries one at a time per n; the workers share " << std::thread::hardware_concurrency() << " cores:\n";
    StrongSpec real_spec{"real", "builtin:smollm2", o.scaling_real_queries, -1,
                         {"--max-tokens", std::to_string(o.scaling_max_tokens)}, real_query_timeout_ms,
                         [](std::uint64_t k) {
                           return json{{"query", "What is 2+2? Reply with just the number. (question " + std::to_string(k + 1) + ")"},
                                       {"agreement", "numeric"}}.dump();
                         }};
    real = strong_series(real_spec, work, real_counts);
  }

  const double weak_s = o.smoke ? smoke_weak_s : o.duration_s;
  std::cout << "weak scaling, fixed:" << ms << ", open loop at " << fixed(o.scaling_per_worker_qps, 1)
            << " queries/s per worker x n, " << fixed(weak_s, 1) << " s per n:\n";
  json weak = json::array();
  for (const std::string variant : {"concurrent", "serial"}) {
    for (std::uint32_t n : weak_counts) {
      LoadRun run;
      run.variant = variant;
      run.n = n;
      run.rate = o.scaling_per_worker_qps * n;
      const double in_model = run.rate * o.scaling_model_ms / 1000.0;  // calls in progress per worker (Little)
      run.model_threads = variant == "serial" ? 1 : threads_for(2 * in_model);
      // Connections: twice the queries in flight when latency is the model time plus 50 ms.
      run.connections = std::clamp<std::uint32_t>(
          static_cast<std::uint32_t>(std::ceil(2 * run.rate * (o.scaling_model_ms / 1000.0 + 0.05))), 4, concurrency_max);
      // The serial variant overloads its workers on purpose: a shorter run keeps its backlog short.
      run.duration_s = variant == "serial" ? std::min(weak_s, 5.0) : weak_s;
      weak.push_back(load_once(o, work, run));
    }
  }

  json limit = json::array();
  if (!counts.empty()) {
    const std::uint32_t n = *std::max_element(counts.begin(), counts.end());
    std::cout << "head saturation, fixed:" << ms << ", n = " << n << ", closed loop:\n";
    LoadRun run;
    run.variant = "limit";
    run.n = n;
    run.connections = o.smoke ? 16 : limit_connections;
    run.model_threads = model_threads_max;
    run.duration_s = o.smoke ? smoke_weak_s : o.duration_s;
    limit.push_back(load_once(o, work, run));
  }

  if (!o.keep && o.dir.empty()) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  // The serial variant's overload is the point of it: its errors do not fail the suite.
  std::uint64_t errors = errors_in(synthetic) + errors_in(real) + errors_in(limit);
  for (const auto& r : weak) {
    if (r["variant"] == "concurrent") errors += r["errors"].get<std::uint64_t>();
  }
  const json result = {{"suite", "scaling"},
                       {"machine", machine},
                       {"command", command},
                       {"smoke", o.smoke},
                       {"synthetic_model", "fixed:" + ms},
                       {"strong_synthetic", synthetic},
                       {"strong_real", real},
                       {"strong_real_skipped", real_skipped},
                       {"weak", weak},
                       {"head_limit", limit},
                       {"errors", errors},
                       {"definitions",
                        "latency_us: client side; head_us: the reply's timings_us.head (total - wait, spec/http.md); "
                        "non_model_p50_ms: client latency - the deciding (q-th fastest) worker's model time, -1 when the "
                        "logs do not pair up; model_runs_ms: every model run the workers logged; slowest/deciding_model_ms_"
                        "per_query: per round after the warm-up query's; achieved_qps (weak, limit): answers that "
                        "arrived within the measured window / its length; latency counts from the scheduled send (open loop)"},
                       {"report", make_report(o, synthetic, real, real_skipped, weak, limit)}};
  if (o.json_out) write_results(o, "scaling", result);
  std::cout << (errors == 0 ? "scaling: done, no errors\n" : "scaling: " + std::to_string(errors) + " ERRORS (see above)\n");
  return errors == 0 ? exit_ok : exit_failed;
}

}  // namespace bf::cli::bench
