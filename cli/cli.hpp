// Shared pieces of the `butterfly` command line: output style and the command registrations.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
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

// The chosen command's work. A command's parse callback only stores it; main runs it after the
// whole command line (including --no-color and --screen-reader) has been read.
std::function<int()>& action();

// Thrown by a command to exit with a code after printing its own output.
struct Exit {
  int code;
};

}  // namespace bf::cli
