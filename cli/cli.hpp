// Shared pieces of the `butterfly` command line: output style and the command registrations.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace bf::cli {

// How to print for people: colour only on a terminal and never when NO_COLOR is set
// (https://no-color.org) or --no-color / --screen-reader was given.
struct Style {
  bool color = false;
  bool screen_reader = false;
  std::string good(std::string_view s) const;  // green when coloured
  std::string bad(std::string_view s) const;   // red when coloured
  std::string dim(std::string_view s) const;
};

Style& style();

// Exit codes shared by every command.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;  // the command ran and the answer is "no" (FAILED, unsafe...)
inline constexpr int exit_usage = 2;   // the command line or an input file was wrong

void add_quorum_commands(CLI::App& app);
void add_prove_command(CLI::App& app);
void add_fuse_commands(CLI::App& app);
void add_cert_commands(CLI::App& app);  // key, membership, cert, log
void add_node_commands(CLI::App& app);  // worker, head
void add_cluster_commands(CLI::App& app);  // cluster start/stop/status, query ask
void add_gpu_commands(CLI::App& app);   // only in builds with CUDA (BUTTERFLY_HAVE_CUDA)
void add_model_commands(CLI::App& app);  // model info, generate
void add_sim_commands(CLI::App& app);    // sim run (deterministic simulator)
void add_bench_commands(CLI::App& app);  // bench run overhead|detection (cli/cmd_bench.cpp)
void add_completion_commands(CLI::App& app);  // completion bash|zsh|commands
void add_status_command(CLI::App& app);       // status: everything a local cluster remembers
void add_sound_commands(CLI::App& app);       // speak, sound render/legend/incident/tone

// Short --help (the flags the examples use) and recursive --help-all; set on the root before any
// subcommand is added, so every subcommand inherits both.
void install_help(CLI::App& root);

// Workers are called by phonetic names in every mode and every output: alpha, bravo, ... zulu,
// then alpha-2, bravo-2, ... `index` is the worker's position in the membership (0-based).
std::string phonetic_name(std::size_t index);
// "worker-03" -> its index 2 (the ids `cluster start` gives); other ids: nullopt.
std::optional<std::size_t> local_worker_index(std::string_view id);
// The name people see for a worker: "charlie" for "worker-03"; ids of other shapes are kept.
std::string worker_name(std::string_view id);

// One HTTP/1.1 request to a head with a deadline (defined in cli/cmd_cluster.cpp).
struct HttpResult {
  bool ok = false;
  unsigned status = 0;
  std::string body;  // or the error
};
HttpResult http_request(const std::string& address, bool post, const std::string& target, const std::string& body,
                        std::uint32_t timeout_ms);

// The chosen command's work. A command's parse callback only stores it; main runs it after the
// whole command line (including --no-color and --screen-reader) has been read.
std::function<int()>& action();

// Thrown by a command to exit with a code after printing its own output.
struct Exit {
  int code;
};

}  // namespace bf::cli
