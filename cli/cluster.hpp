// The local loopback cluster of `butterfly cluster start|stop`, shared with `butterfly bench run`
// (cli/cmd_bench.cpp), which starts the same cluster with its own model and head flags.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace bf::cli {

inline constexpr std::uint32_t cluster_round_timeout_ms_default = 2000;

struct StartOptions {
  std::uint32_t workers = 4;
  int f = -1;
  std::uint32_t byzantine = 0;
  std::string kind = "wrong";
  std::string model;
  std::string dir = "butterfly-cluster";
  std::uint32_t base_port = 0;
  std::uint32_t round_timeout_ms = cluster_round_timeout_ms_default;
  std::uint32_t heartbeat_ms = 50;  // the head's default (runtime/head_process.hpp)
  std::uint32_t wait_ms = 20'000;
  std::string manifest;
  bool json_out = false;
  bool quiet = false;                  // print nothing on success (callers read DIR/cluster.json)
  std::vector<std::string> head_args;  // extra flags for `butterfly head`
  std::vector<std::string> worker_args;  // extra flags for every `butterfly worker` (bench run scaling, accuracy)
};

// Starts the cluster in o.dir and waits for every worker to connect. DIR/cluster.json records the
// pids, addresses and each process's command line ("args"). Failures print a message and throw
// Exit (cli.hpp).
int run_cluster_start(const StartOptions& o);
// Starts this binary with ARGS (args[0] is the program name) in its own session, stdin from
// /dev/null, stdout and stderr appended to LOG. Failures print "butterfly COMMAND: ..." and throw Exit.
pid_t spawn_detached(const std::string& command, const std::vector<std::string>& args, const std::filesystem::path& log);
// SIGTERM to every process of DIR/cluster.json, SIGKILL after 5 s.
int run_cluster_stop(const std::string& dir_text, bool json_out, bool quiet = false);

}  // namespace bf::cli
