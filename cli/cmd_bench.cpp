// butterfly bench run overhead|detection: the cluster head's benchmarks (issue 5 "Performance",
// issue 9 suites `overhead` and `faults`). Each suite starts a real loopback cluster of separate
// processes (the same one `butterfly cluster start` makes, cli/cluster.hpp) with `instant:`
// workers, so no model time is in the figures, measures it from this process, and stops it.
//
//   overhead   an HTTP load generator (Beast, in this process, one thread) against POST /v1/query:
//              closed loop (C keep-alive connections, each sends its next query when the last
//              answer arrives) or open loop (--rate: queries scheduled at a fixed rate, latency
//              counted from the scheduled time so a slow head cannot hide its queueing). Reports
//              achieved QPS, errors by kind, client latency and the head's own per-stage split
//              (the "timings_us" of each reply, spec/http.md).
//   detection  crash (SIGKILL of a worker), partition (SIGSTOP: the worker's traffic stops while
//              its sockets stay open) and Byzantine (a worker that lies or equivocates) detection
//              times over repeated trials, with the head's default timeouts.
#include "cli/bench_common.hpp"

namespace bf::cli {
namespace {

using namespace bench;  // NOLINT(google-build-using-namespace): the suites live beside their tools


// ---- overhead ----

std::string overhead_command(const BenchOptions& o) {
  std::string c = "butterfly bench run overhead --workers " + o.workers + " --duration-s " + fixed(o.duration_s, 1) +
                   " --concurrency " + std::to_string(o.concurrency);
  if (o.rate > 0) c += " --rate " + fixed(o.rate, 0);
  if (o.json_out) c += " --json --out " + o.out;
  return c;
}

// The head's stages as the issue names them, from the reply's timings_us (spec/http.md).
struct StageRow {
  const char* name;
  std::vector<const char*> parts;  // summed per query
  const char* meaning;
};
const std::vector<StageRow>& stage_rows() {
  static const std::vector<StageRow> rows = {
      {"network", {"wait"}, "Asks sent until the deciding answer is taken up: loopback, the workers' verify+sign, the head's handling of the other answers and queueing"},
      {"consensus+fusion", {"decide"}, "the logic call that verified the deciding answer, tallied, decided, fused and signed the certificate"},
      {"commit", {"commit"}, "certificate file write+fsync and the group directory fsync"},
      {"scheduling", {"dispatch", "reply"}, "submit and encode the Asks, then wake the request and build the reply"},
      {"head overhead", {"head"}, "all of the head's time for the query except `network` (total - wait)"},
      {"head excl. commit", {"dispatch", "decide", "reply"}, "the head's work on the query's path without the wait for the disk (dispatch + decide + reply)"},
      {"head total", {"total"}, "request handler entry to reply built (excludes HTTP parsing and the socket write)"},
  };
  return rows;
}

json run_overhead_once(const BenchOptions& o, const fs::path& work, std::uint32_t n) {
  Cluster cluster(work / ("overhead-n" + std::to_string(n)), n, 0, "wrong");
  LoadSpec spec;
  spec.endpoint = cluster.endpoint();
  spec.duration_s = o.duration_s;
  spec.warmup_s = o.warmup_s;
  spec.concurrency = o.concurrency;
  spec.rate = o.rate;
  // CPU used per answered query by each party: independent of what else shares the cores.
  const auto cpu_now = [&] {
    std::vector<double> v = {cpu_seconds(cluster.head_pid()), 0.0, cpu_seconds(::getpid())};
    for (std::size_t w = 0; w < cluster.n(); ++w) v[1] += cpu_seconds(cluster.worker_pid(w));
    return v;
  };
  LoadGenerator gen(spec);
  const auto cpu_before = cpu_now();
  auto r = gen.run();
  const auto cpu_after = cpu_now();
  Client status_client(cluster.endpoint());
  const auto status = status_client.call(bhttp::verb::get, "/v1/status", "", 5000);
  std::size_t eligible = 0;
  if (const auto sj = json::parse(status.body, nullptr, false); !sj.is_discarded() && sj.contains("workers")) {
    for (const auto& w : sj["workers"]) eligible += w.value("eligible", false) && w.value("connected", false) ? 1 : 0;
  }
  const double qps = static_cast<double>(r.ok) / r.measured_s;
  std::uint64_t errors = 0;
  json errors_json = json::object();
  for (const auto& [kind, count] : r.errors) {
    errors += count;
    errors_json[kind] = count;
  }
  json stages = json::object();
  for (const auto& [name, values] : r.stages_us) stages[name] = summary_json(summarize(values));
  json split = json::array();
  std::cout << "\nn = " << n << " (f = " << (n - 1) / 3 << "), " << (o.rate > 0 ? "open loop at " + fixed(o.rate, 0) + " queries/s, " : "closed loop, ")
            << o.concurrency << " connections, " << fixed(r.measured_s, 1) << " s measured after " << fixed(o.warmup_s, 1)
            << " s warm-up\n";
  std::cout << "  achieved: " << fixed(qps, 0) << " queries/s (" << r.ok << " answered, " << errors << " errors)\n";
  for (const auto& [kind, count] : r.errors) std::cout << "    error " << kind << ": " << count << "\n";
  if (!gen.first_error_.empty()) std::cout << "    first error reply: " << gen.first_error_ << "\n";
  const auto lat = summarize(r.latency_us);
  // The warm-up's queries are in the CPU figures too: divide by every answered query.
  const double all_answered = static_cast<double>(std::max<std::uint64_t>(1, gen.answered_total_));
  json cpu = {{"head_us_per_query", (cpu_after[0] - cpu_before[0]) * 1e6 / all_answered},
              {"workers_us_per_query", (cpu_after[1] - cpu_before[1]) * 1e6 / all_answered},
              {"load_generator_us_per_query", (cpu_after[2] - cpu_before[2]) * 1e6 / all_answered}};
  std::cout << "  CPU per query: head " << fixed(cpu["head_us_per_query"].get<double>(), 0) << " us, " << n
            << " workers together " << fixed(cpu["workers_us_per_query"].get<double>(), 0) << " us, load generator "
            << fixed(cpu["load_generator_us_per_query"].get<double>(), 0) << " us\n";
  std::cout << "  workers eligible and connected at the end: " << eligible << " of " << n << "\n";
  std::cout << "  client latency: p50 " << fixed(lat.p50 / 1000, 3) << " ms, p99 " << fixed(lat.p99 / 1000, 3)
            << " ms, max " << fixed(lat.max / 1000, 3) << " ms\n";
  std::cout << "  head stages (from each reply's timings_us), p50 / p99 ms:\n";
  for (const auto& row : stage_rows()) {
    std::vector<double> per_query;
    const auto& first = r.stages_us[row.parts[0]];
    per_query.resize(first.size(), 0.0);
    for (const char* part : row.parts) {
      const auto& v = r.stages_us[part];
      for (std::size_t i = 0; i < per_query.size() && i < v.size(); ++i) per_query[i] += v[i];
    }
    const auto s = summarize(per_query);
    std::cout << "    " << row.name << std::string(18 - std::min<std::size_t>(17, std::string(row.name).size()), ' ')
              << fixed(s.p50 / 1000, 3) << " / " << fixed(s.p99 / 1000, 3) << "\n";
    split.push_back({{"stage", row.name}, {"parts", row.parts}, {"meaning", row.meaning}, {"us", summary_json(s)}});
  }
  return {{"n", n},
          {"f", (n - 1) / 3},
          {"mode", o.rate > 0 ? "open" : "closed"},
          {"rate_target", o.rate},
          {"connections", o.concurrency},
          {"measured_s", r.measured_s},
          {"warmup_s", o.warmup_s},
          {"sent", r.sent},
          {"answered", r.ok},
          {"qps", qps},
          {"errors", errors},
          {"errors_by_kind", errors_json},
          {"replies_without_timings", r.missing_timings},
          {"latency_us", summary_json(lat)},
          {"cpu", cpu},
          {"eligible_workers_at_end", eligible},
          {"head_timings_us", stages},
          {"stages", split}};
}

// The tables and plots of docs/results.md (scripts/bench_report.py): the head's per-stage split
// beside the seed's 5.1 "Overhead breakdown (16 workers)", and the throughput beside its 5.2 head
// saturation figure.
json overhead_report(const BenchOptions& o, const json& runs) {
  const std::string loop = o.rate > 0 ? "open loop at " + fixed(o.rate, 0) + " queries/s" : "closed loop, " + std::to_string(o.concurrency) + " connections";
  const std::string id = o.rate > 0 ? "overhead-open" : "overhead";
  json stage_rows = json::array();
  json qps_rows = json::array();
  json p50 = json::array(), p99 = json::array(), ns = json::array();
  for (const auto& r : runs) {
    for (const auto& st : r["stages"]) {
      stage_rows.push_back({r["n"], st["stage"], st["us"]["p50"].get<double>() / 1000, st["us"]["p99"].get<double>() / 1000});
    }
    qps_rows.push_back({r["n"], r["qps"], r["errors"], r["latency_us"]["p50"].get<double>() / 1000,
                        r["latency_us"]["p99"].get<double>() / 1000, r["cpu"]["head_us_per_query"]});
    ns.push_back(r["n"]);
    p50.push_back(r["latency_us"]["p50"].get<double>() / 1000);
    p99.push_back(r["latency_us"]["p99"].get<double>() / 1000);
  }
  const std::string why =
      "Instant workers (model instant:4): no model time, so every millisecond is the head, the workers' "
      "protocol work (verify, sign) and loopback. Load generator, head and n workers share this machine's cores.";
  json tables = json::array();
  tables.push_back({{"id", id + "-stages"},
                    {"seed_section", "5.1 Strong Scaling: overhead breakdown (16 workers)"},
                    {"title", "Head overhead per query by stage (" + loop + ")"},
                    {"columns", {"workers", "stage", "p50 (ms)", "p99 (ms)"}},
                    {"rows", stage_rows},
                    {"seed", {{"columns", {"workers", "stage", "claimed (ms)"}},
                              {"rows", {{16, "network communication", 23}, {16, "consensus protocol", 12},
                                        {16, "fusion computation", 8}, {16, "scheduling", 4}, {16, "total", 47}}}}},
                    {"notes", {why,
                               "Stages from each reply's timings_us (spec/http.md): network = wait for the deciding answer "
                               "(includes the workers' verify+sign and queueing); consensus+fusion = the logic call that "
                               "tallies, decides, fuses and signs the certificate; commit = certificate write + fsync; "
                               "scheduling = dispatch + reply. The seed does not say how it split its stages."}}});
  tables.push_back({{"id", id + "-throughput"},
                    {"seed_section", "5.2 Weak Scaling: head node scaling limit"},
                    {"title", "Head throughput and client latency (" + loop + ")"},
                    {"columns", {"workers", "queries/s", "errors", "latency p50 (ms)", "latency p99 (ms)", "head CPU per query (us)"}},
                    {"rows", qps_rows},
                    {"seed", {{"columns", {"cores", "claimed saturation (queries/s)"}}, {"rows", {{64, 80}}}}},
                    {"notes", {why, o.rate > 0 ? "Open loop: the rate is offered, latency counts from the scheduled send time."
                                               : "Closed loop: each connection sends its next query when its last answer arrives, "
                                                 "so the achieved rate is the saturation throughput on this machine."}}});
  json plots = json::array();
  plots.push_back({{"id", id + "-latency"},
                   {"title", "Client latency vs workers, instant workers (" + loop + ")"},
                   {"x_label", "workers"},
                   {"y_label", "latency (ms)"},
                   {"kind", "line"},
                   {"series", {{{"name", "p50"}, {"x", ns}, {"y", p50}}, {{"name", "p99"}, {"x", ns}, {"y", p99}}}}});
  return {{"tables", tables}, {"plots", plots}};
}

int run_overhead(const BenchOptions& o) {
  const auto counts = parse_workers(o.workers);
  const auto machine = machine_json();
  const std::string command = overhead_command(o);
  std::cout << "butterfly bench run overhead: instant workers (model instant:4, no process per query), head and "
               "workers as separate processes on loopback\n";
  print_machine(machine, command);
  const fs::path work = make_work_dir(o);
  json runs = json::array();
  std::uint64_t errors = 0;
  for (std::uint32_t n : counts) {
    runs.push_back(run_overhead_once(o, work, n));
    errors += runs.back()["errors"].get<std::uint64_t>();
  }
  if (!o.keep && o.dir.empty()) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  const json result = {{"suite", "overhead"}, {"machine", machine}, {"command", command}, {"runs", runs},
                       {"definitions", "timings_us per reply, spec/http.md; latency_us: client side, from the send "
                                       "(closed loop) or the scheduled time (open loop) to the whole reply read"},
                       {"report", overhead_report(o, runs)}};
  if (o.json_out) write_results(o, o.rate > 0 ? "overhead-open" : "overhead", result);
  return errors == 0 ? exit_ok : exit_failed;
}

// ---- detection ----
// (worker_connected, wait_state and detections are in cli/bench_common.hpp: faults uses them too)

struct Trials {
  std::vector<double> ms;
  std::vector<double> queries;  // Byzantine: queries sent until the detection
  std::uint32_t missed = 0;
};

json trials_json(const std::string& kind, const Trials& t, double seed_ms, const std::string& definition) {
  const auto s = summarize(t.ms);
  json j = {{"fault", kind}, {"trials", t.ms.size() + t.missed}, {"detected", t.ms.size()}, {"missed", t.missed},
            {"ms", summary_json(s)}, {"samples_ms", t.ms}, {"seed_claim_ms", seed_ms}, {"target_ms", seed_ms / 5},
            {"target_met", t.missed == 0 && !t.ms.empty() && s.p95 <= seed_ms / 5}, {"definition", definition}};
  if (!t.queries.empty()) j["queries_until_detected"] = summary_json(summarize(t.queries));
  std::cout << "  " << kind << ": p50 " << fixed(s.p50, 1) << " ms, p95 " << fixed(s.p95, 1) << " ms, max "
            << fixed(s.max, 1) << " ms over " << t.ms.size() << " trials" << (t.missed ? " (" + std::to_string(t.missed) + " missed)" : "")
            << "; seed claims " << fixed(seed_ms, 0) << " ms, target " << fixed(seed_ms / 5, 1) << " ms: "
            << (j["target_met"].get<bool>() ? "met" : "MISSED") << "\n";
  return j;
}

// Crash (SIGKILL) or partition (SIGSTOP) of worker t % n in each trial.
Trials process_fault_trials(Cluster& cluster, std::uint32_t trials, bool partition) {
  Client client(cluster.endpoint());
  Trials t;
  for (std::uint32_t i = 0; i < trials; ++i) {
    const std::size_t w = i % cluster.n();
    // Every trial starts from a whole cluster: the last trial's worker is back too.
    for (const std::size_t v : {w, (i + cluster.n() - 1) % cluster.n()}) {
      if (!wait_state(client, v, 1, 10'000)) fail("worker " + std::to_string(v) + " did not (re)connect within 10 s", exit_failed);
    }
    const pid_t pid = cluster.worker_pid(w);
    const auto t0 = Clock::now();
    ::kill(pid, partition ? SIGSTOP : SIGKILL);
    const auto seen = wait_state(client, w, 0, 10'000);
    if (seen) {
      t.ms.push_back(us_between(t0, *seen) / 1000.0);
    } else {
      ++t.missed;
    }
    if (partition) {
      ::kill(pid, SIGCONT);
    } else {
      ::waitpid(pid, nullptr, 0);
      cluster.restart_worker(w);
    }
  }
  if (!wait_state(client, (trials - 1) % cluster.n(), 1, 10'000)) fail("a worker did not reconnect within 10 s", exit_failed);
  return t;
}

// A fresh cluster per trial (the head's reputation isolates a lying worker after a few queries,
// and a restarted head resumes that reputation from its log). Queries go one after another from
// this thread while another polls /metrics every 0.5 ms, so the time is the head's detection and
// not the certificate's commit that the reply waits for.
Trials byzantine_trials(const BenchOptions& o, const fs::path& work, std::uint32_t n, const std::string& kind) {
  Trials t;
  const std::vector<std::string> kinds = {"wrong-answer", "equivocation", "invalid-signature", "malformed", "isolated"};
  for (std::uint32_t i = 0; i < o.trials; ++i) {
    Cluster cluster(work / ("byzantine-" + kind + "-" + std::to_string(i)), n, 1, kind);
    Client client(cluster.endpoint());
    const double before = detections(client, kinds);
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> seen_at_ns{-1};
    const auto t0 = Clock::now();
    std::thread poller([&, endpoint = cluster.endpoint()] {
      Client metrics(endpoint);
      while (!stop.load()) {
        if (detections(metrics, kinds) > before) {
          seen_at_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
          return;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    });
    int sent = 0;
    for (int q = 1; q <= 50 && seen_at_ns.load() < 0; ++q) {
      const auto r = client.call(bhttp::verb::post, "/v1/query", R"({"query": "2+2? )" + std::to_string(q) + R"("})", 30'000);
      sent = q;
      if (!r.ok) break;
    }
    // The last reply may come before the poller's next look: give it a moment.
    for (int k = 0; k < 200 && seen_at_ns.load() < 0; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stop = true;
    poller.join();
    if (seen_at_ns.load() >= 0) {
      t.ms.push_back(static_cast<double>(seen_at_ns.load()) / 1e6);
      t.queries.push_back(sent);
    } else {
      ++t.missed;
    }
  }
  return t;
}

// Detection times beside the seed's 4.1 figures (crash 247 ms "recovery", Byzantine 156 ms,
// partition 1,247 ms) and the issue's target of each at least 5x faster.
json detection_report(const json& faults) {
  json rows = json::array();
  json names = json::array(), p50 = json::array(), seed = json::array();
  for (const auto& f : faults) {
    rows.push_back({f["fault"], f["trials"], f["detected"], f["ms"]["p50"], f["ms"]["p95"], f["ms"]["max"], f["seed_claim_ms"],
                    f["target_ms"], f["target_met"] ? "met" : "missed"});
    names.push_back(f["fault"]);
    p50.push_back(f["ms"]["p50"]);
    seed.push_back(f["seed_claim_ms"]);
  }
  json tables = json::array();
  tables.push_back({{"id", "detection"},
                    {"seed_section", "4.1 Worker Failure Scenarios (detection times)"},
                    {"title", "Time to detect a fault, head defaults, instant workers"},
                    {"columns", {"fault", "trials", "detected", "p50 (ms)", "p95 (ms)", "max (ms)", "seed claim (ms)", "target: seed / 5 (ms)", "target"}},
                    {"rows", rows},
                    {"seed", {{"columns", {"fault", "claimed (ms)"}},
                              {"rows", {{"crash (recovery time: view change + query retry)", 247},
                                        {"Byzantine (time to detect)", 156},
                                        {"partition (detected, timeout)", 1247}}}}},
                    {"notes", {"Each fault's definition is in bench/results/detection.json (\"definition\"). Crash: the kernel "
                               "closes a killed process's sockets, so the head sees it at once. Partition: SIGSTOP, sockets stay "
                               "open, found by the heartbeat deadline. Byzantine: a fresh cluster per trial, time from the "
                               "first query until the head counts a detection.",
                               "The seed's 247 ms is a recovery time, not a detection time; the faults suite measures recovery."}}});
  json plots = json::array();
  plots.push_back({{"id", "detection"},
                   {"title", "Detection time p50 vs the seed's claim"},
                   {"x_label", "fault"},
                   {"y_label", "ms"},
                   {"kind", "bar"},
                   {"series", {{{"name", "Butterfly p50 (measured)"}, {"x", names}, {"y", p50}},
                               {{"name", "seed (claimed)"}, {"x", names}, {"y", seed}}}}});
  return {{"tables", tables}, {"plots", plots}};
}

int run_detection(const BenchOptions& o) {
  const auto counts = parse_workers(o.workers);
  const std::uint32_t n = counts.front();
  if (n < 4) fail("detection needs --workers 4 or more (f >= 1), so the cluster keeps deciding with one worker down");
  const auto machine = machine_json();
  std::string command = "butterfly bench run detection --workers " + std::to_string(n) + " --trials " + std::to_string(o.trials);
  if (o.json_out) command += " --json --out " + o.out;
  std::cout << "butterfly bench run detection: n = " << n << ", instant workers, the head's default timeouts (heartbeat "
            << runtime::HeadOptions{}.heartbeat_ms << " ms x " << runtime::HeadOptions{}.heartbeat_missed_max << " missed)\n";
  print_machine(machine, command);
  const fs::path work = make_work_dir(o);
  json faults = json::array();
  {
    Cluster cluster(work / "crash-partition", n, 0, "wrong");
    const auto crash = process_fault_trials(cluster, o.trials, false);
    faults.push_back(trials_json("crash", crash, 247,
                                 "SIGKILL of a worker until the head's GET /v1/status (polled every 0.5 ms) first shows it "
                                 "disconnected; the kernel closes the dead process's sockets, so the head sees the "
                                 "connection end"));
    const auto partition = process_fault_trials(cluster, o.trials, true);
    faults.push_back(trials_json("partition", partition, 1247,
                                 "SIGSTOP of a worker (its sockets stay open and its traffic stops) until GET "
                                 "/v1/status first shows it disconnected: the heartbeat deadline (silence, "
                                 "counted from the worker's last frame, longer than heartbeat_ms x "
                                 "heartbeat_missed_max, checked every heartbeat_ms)"));
  }
  for (const std::string kind : {"wrong", "equivocate"}) {
    const auto t = byzantine_trials(o, work, n, kind);
    faults.push_back(trials_json("byzantine-" + kind, t, 156,
                                 "a fresh cluster with one --byzantine " + kind + " worker, queries sent one after "
                                 "another: from the first query's send until /metrics (polled every 0.5 ms) "
                                 "counts a detection (wrong-answer, equivocation, invalid-signature, malformed "
                                 "or isolated)"));
  }
  if (!o.keep && o.dir.empty()) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  const json result = {{"suite", "detection"}, {"machine", machine}, {"command", command}, {"n", n},
                       {"head_defaults", {{"heartbeat_ms", runtime::HeadOptions{}.heartbeat_ms},
                                          {"heartbeat_missed_max", runtime::HeadOptions{}.heartbeat_missed_max},
                                          {"round_timeout_ms", cluster_round_timeout_ms_default}}},
                       {"faults", faults},
                       {"report", detection_report(faults)}};
  if (o.json_out) write_results(o, "detection", result);
  bool all_detected = true;
  for (const auto& f : faults) all_detected = all_detected && f["missed"].get<std::uint32_t>() == 0;
  return all_detected ? exit_ok : exit_failed;
}

// Every suite of `butterfly bench run`: name, runner. The runners of the other suites are in
// cli/bench_SUITE.cpp (declared in cli/bench_common.hpp).
struct SuiteEntry {
  const char* name;
  int (*run)(const BenchOptions&);
};
const std::vector<SuiteEntry>& suites() {
  static const std::vector<SuiteEntry> table = {
      {"overhead", run_overhead},
      {"detection", run_detection},
      {"faults", run_faults},
      {"accuracy", run_accuracy},
      {"scaling", run_scaling},
  };
  return table;
}

}  // namespace

void add_bench_commands(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks of a real local cluster (head overhead, detection times)");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchOptions>();
  std::vector<std::string> names;
  std::string names_text;
  for (const auto& s : suites()) {
    names.emplace_back(s.name);
    names_text += (names_text.empty() ? "" : ", ") + std::string(s.name);
  }
  CLI::App* run = bench->add_subcommand("run", "Run a benchmark suite: " + names_text);
  run->add_option("SUITE", o->suite, names_text)->required()->check(CLI::IsMember(names));
  run->add_option("--workers", o->workers, "Worker counts n, comma separated (default 4,16; detection uses the first; scaling 1,2,4,8,16)")
      ->each([o](const std::string&) { o->workers_given = true; });
  run->add_option("--duration-s", o->duration_s, "overhead: measured seconds per n (default 10)")->check(CLI::Range(0.1, duration_s_max));
  run->add_option("--warmup-s", o->warmup_s, "overhead: seconds of load before measuring (default 1)")->check(CLI::Range(0.0, 60.0));
  run->add_option("--concurrency", o->concurrency, "overhead: HTTP connections (default 32)")->check(CLI::Range(1u, concurrency_max));
  run->add_option("--rate", o->rate, "overhead: open loop at this many queries/s (default: closed loop)")->check(CLI::Range(0.0, 1e6));
  run->add_option("--trials", o->trials, "detection: trials per fault (default 10)")->check(CLI::Range(1u, trials_max));
  run->add_flag("--json", o->json_out,
                "Also write the results as JSON: --out DIR/overhead.json (overhead-open.json with --rate), detection.json");
  run->add_option("--out", o->out, "Where --json writes (default bench/results)");
  run->add_option("--dir", o->dir, "Where the clusters go (default: a new temporary directory, removed afterwards)");
  run->add_flag("--keep", o->keep, "Keep the clusters' directories (logs, certificates)");
  run->add_option("--data", o->accuracy_data, "accuracy: directory of arith.jsonl, formal.jsonl, arc-*.jsonl (default data)");
  run->add_option("--items", o->accuracy_items, "accuracy: items per set (default 5; 1 with --smoke)")->check(CLI::Range(1u, 100'000u));
  run->add_flag("--smoke", o->smoke, "A short run of the suite that still takes every code path (CI)");
  run->add_option("--faults-rate", o->faults_rate, "faults: open-loop queries/s during each scenario (default 100)")->check(CLI::Range(1.0, 5000.0));
  run->add_option("--faults-phase-s", o->faults_phase_s, "faults: seconds before, during and after each fault (default 10)")->check(CLI::Range(1.0, 600.0));
  run->add_option("--faults-fp-s", o->faults_fp_s, "faults: seconds of closed-loop load on an honest cluster, false positives (default 10)")->check(CLI::Range(0.5, 600.0));
  run->add_option("--scaling-model-ms", o->scaling_model_ms, "scaling: the synthetic worker model fixed:MS (default 50)")->check(CLI::Range(1u, 10'000u));
  run->add_option("--scaling-queries", o->scaling_queries, "scaling: queries one at a time per n, synthetic model (default 20)")->check(CLI::Range(1u, trials_max));
  run->add_option("--scaling-per-worker-qps", o->scaling_per_worker_qps, "scaling: weak scaling's offered queries/s per worker (default 5)")->check(CLI::Range(0.01, 1000.0));
  run->add_option("--scaling-real-workers", o->scaling_real_workers, "scaling: n with builtin:smollm2, or none (default 1,2,4)");
  run->add_option("--scaling-real-queries", o->scaling_real_queries, "scaling: queries one at a time per n, real model (default 4)")->check(CLI::Range(1u, trials_max));
  run->add_option("--scaling-max-tokens", o->scaling_max_tokens, "scaling: the real model's answer budget in tokens (default 16)")->check(CLI::Range(1u, 512u));
  run->footer(
      "Examples:\n"
      "  butterfly bench run overhead                     n = 4 and 16, closed loop, 32 connections, 10 s each\n"
      "  butterfly bench run overhead --workers 4 --rate 2000 --duration-s 5\n"
      "  butterfly bench run detection --trials 10 --json --out bench/results\n"
      "  butterfly bench run faults --json               crash, Byzantine and partition scenarios under load (~4 min)\n"
      "  butterfly bench run scaling --smoke             n = 1, 2, 4 with fixed:50 workers, under 40 s\n"
      "Everything runs on this machine: the load generator, the head and the workers share its cores.");
  run->callback([o] {
    action() = [o] {
      for (const auto& s : suites()) {
        if (o->suite == s.name) return s.run(*o);
      }
      return exit_usage;  // unreachable: CLI11 checked the name
    };
  });
}

}  // namespace bf::cli
