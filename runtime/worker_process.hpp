// The worker process (`butterfly worker`): listens, runs the authenticated handshake with the
// head (net::accept_head), feeds Asks to WorkerLogic, runs the model on a small thread pool off
// the io_context, sends signed answers, answers heartbeats, performs the transport attacks of
// --byzantine malformed/replay on the raw socket, logs one line per event to stderr (never key
// material) and stops cleanly on SIGTERM/SIGINT with exit 0. A newer authenticated head
// connection replaces the old one (a restarted head simply dials again). With --head the worker
// dials a listening head itself (net::dial_head), for workers the head cannot reach.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "runtime/membership_file.hpp"

namespace bf::runtime {

struct WorkerOptions {
  std::filesystem::path key_file;
  std::filesystem::path membership_file;
  std::string listen;  // "host:port"; empty: this worker's address in the membership
  // "host:port" of a head started with --listen: this worker dials it (reconnecting with backoff)
  // instead of waiting to be dialled; with it, the worker listens only when --listen is given.
  std::string head;
  std::string model;   // runtime/answer_model.hpp spec
  std::string byzantine = "none";
  std::uint64_t seed = 0;
  std::uint32_t slow_ms = 0;
  std::uint32_t model_timeout_ms = 30'000;
  std::uint32_t model_threads = 2;  // concurrent model runs
  // Built-in model (builtin:smollm2 or FILE.gguf): the specialist's system prompt and sampling.
  std::string system_prompt;
  std::uint32_t max_tokens = 48;
  float temperature = 0.0F;
  std::uint32_t compute_threads = 1;
  // Whether --system, --temperature and --seed were given: those not given come from this
  // worker's specialist in the membership file, when it declares one.
  bool system_prompt_given = false;
  bool temperature_given = false;
  bool seed_given = false;
};

// The options after this worker's specialist (membership entry) fills what the command line left.
WorkerOptions apply_specialist(WorkerOptions options, const Specialist& specialist);

// Runs until SIGTERM or SIGINT; returns the process exit code.
int run_worker(const WorkerOptions& options);

}  // namespace bf::runtime
