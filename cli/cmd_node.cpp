// butterfly worker / head: the two long-running processes of a cluster (runtime/worker_process.*,
// runtime/head_process.*). Both log one line per event to stderr and exit 0 on SIGTERM/SIGINT.
#include <memory>

#include "cli/cli.hpp"
#include "runtime/head_process.hpp"
#include "runtime/worker_process.hpp"

namespace bf::cli {

void add_node_commands(CLI::App& app) {
  {
    auto o = std::make_shared<runtime::WorkerOptions>();
    auto key = std::make_shared<std::string>();
    auto membership = std::make_shared<std::string>();
    CLI::App* w = app.add_subcommand("worker", "Run a worker: answer the head's queries with a model");
    w->add_option("--key", *key, "This worker's key file")->required();
    w->add_option("--membership", *membership, "The membership file (this worker's key must be in it)")->required();
    w->add_option("--listen", o->listen, "HOST:PORT to listen on (default: this worker's address in the membership)");
    w->add_option("--head", o->head,
                  "HOST:PORT of a head started with --listen: dial it (with backoff) instead of waiting to be dialled");
    w->add_option("--model", o->model, "script:PATH, instant:TEXT (answers TEXT at once, for benchmarks), "
                  "fixed:MS[:TEXT] (answers TEXT, default 4, after sleeping MS ms; for benchmarks), openai:http://HOST:PORT[#MODEL], "
                  "builtin:smollm2 or FILE.gguf")
        ->required();
    w->add_option("--byzantine", o->byzantine,
                  "Test mode: none, wrong, random, equivocate, collude, slow, silent, malformed, replay");
    w->add_option("--seed", o->seed, "Seed for sampling and the random attack (default 0)");
    w->add_option("--slow-ms", o->slow_ms, "Delay of --byzantine slow, in ms");
    w->add_option("--model-timeout-ms", o->model_timeout_ms, "A model run longer than this fails (default 30000)")
        ->check(CLI::Range(1u, 600'000u));
    w->add_option("--model-threads", o->model_threads, "Concurrent model runs (default 2)")->check(CLI::Range(1u, 64u));
    w->add_option("--system", o->system_prompt,
                  "Built-in model: the system prompt (default: this worker's specialist in the membership, if any)");
    w->add_option("--max-tokens", o->max_tokens, "Built-in model: new tokens per answer (default 48)")
        ->check(CLI::Range(1u, 4096u));
    w->add_option("--temperature", o->temperature, "Built-in model: 0 is greedy (default); else sampled with --seed")
        ->check(CLI::Range(0.0, 100.0));
    w->add_option("--compute-threads", o->compute_threads, "Built-in model: threads per forward pass (default 1)")
        ->check(CLI::Range(1u, 256u));
    w->footer(
        "Examples:\n"
        "  butterfly worker --key alpha.key --membership membership.json --listen 127.0.0.1:7001 \\\n"
        "      --model openai:http://127.0.0.1:8081#smollm2\n"
        "  butterfly worker --key bravo.key --membership membership.json --model builtin:smollm2 \\\n"
        "      --system 'You are a careful logician. Answer briefly.'\n"
        "  butterfly worker --key delta.key --membership membership.json --model script:./answer.sh \\\n"
        "      --byzantine wrong\n"
        "  butterfly worker --key echo.key --membership membership.json --head 10.0.0.1:7000 --model instant:4\n"
        "      (dials a head started with --listen 10.0.0.1:7000; for workers the head cannot reach)");
    w->callback([=] {
      action() = [=] {
        o->key_file = *key;
        o->membership_file = *membership;
        o->system_prompt_given = w->count("--system") > 0;
        o->temperature_given = w->count("--temperature") > 0;
        o->seed_given = w->count("--seed") > 0;
        return runtime::run_worker(*o);
      };
    });
  }
  {
    auto o = std::make_shared<runtime::HeadOptions>();
    auto key = std::make_shared<std::string>();
    auto membership = std::make_shared<std::string>();
    auto log_dir = std::make_shared<std::string>();
    auto manifest = std::make_shared<std::string>();
    CLI::App* h = app.add_subcommand("head", "Run the head: dispatch queries, decide, certify, serve HTTP");
    h->add_option("--key", *key, "The head's key file")->required();
    h->add_option("--membership", *membership, "The membership file, with an address per worker")->required();
    h->add_option("--http", o->http, "HOST:PORT for the HTTP API (default 127.0.0.1:8080)");
    h->add_option("--listen", o->listen,
                  "HOST:PORT where workers may dial in (worker --head); workers without an address must");
    h->add_option("--log-dir", *log_dir, "Where certificates go (NNNNNN.cert); an existing log is resumed")->required();
    h->add_option("--manifest", *manifest, "proofs/MANIFEST: certificates name the proofs they rely on");
    h->add_option("--rounds", o->rounds_max, "Debate rounds at most (mode debate; default 3)")->check(CLI::Range(1u, 3u));
    h->add_option("--round-timeout-ms", o->round_timeout_ms, "A round closes at this deadline (default 2000)")
        ->check(CLI::Range(1u, 600'000u));
    h->add_option("--heartbeat-ms", o->heartbeat_ms, "Heartbeat period per connection (default 50)")
        ->check(CLI::Range(10u, 60'000u));
    h->add_option("--heartbeat-missed", o->heartbeat_missed_max,
                  "Silent periods before a connection is declared dead (default 3)")
        ->check(CLI::Range(1u, 100u));
    h->add_option("--backoff-max-ms", o->backoff_max_ms, "Reconnect delay cap (default 1000)")->check(CLI::Range(50u, 60'000u));
    h->add_option("--request-timeout-ms", o->request_timeout_ms, "HTTP queries waiting longer get 504 (default 60000)")
        ->check(CLI::Range(100u, 3'600'000u));
    h->add_option("--http-rate", o->http_rate_per_s,
                  "HTTP requests per second per client address, bursts of twice that (default 200)")
        ->check(CLI::Range(1.0, 1e9));
    h->footer(
        "Examples:\n"
        "  butterfly head --key head.key --membership membership.json --http 127.0.0.1:8080 --log-dir log\n"
        "  butterfly head --key head.key --membership membership.json --log-dir log --manifest proofs/MANIFEST \\\n"
        "      --round-timeout-ms 500 --heartbeat-ms 50\n"
        "  butterfly head --key head.key --membership membership.json --log-dir log --listen 0.0.0.0:7000\n"
        "      (workers without an address in the membership dial in with --head)");
    h->callback([=] {
      action() = [=] {
        o->key_file = *key;
        o->membership_file = *membership;
        o->log_dir = *log_dir;
        o->manifest = *manifest;
        return runtime::run_head(*o);
      };
    });
  }
}

}  // namespace bf::cli
