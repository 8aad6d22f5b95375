// The head process (`butterfly head`): hosts HeadLogic on one io_context thread, dials every
// worker at its membership address with reconnect and exponential backoff, heartbeats each
// connection (a silent one is declared dead: crash detection), makes each finished query's
// certificate durable in the log directory BEFORE answering (group commit on a commit thread: a
// batch of certificates is written, then one syncfs and a directory fsync cover them all), resumes
// the chain from the log on restart, and serves the HTTP API (runtime/http_api.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/certificate.hpp"
#include "core/result.hpp"
#include "runtime/crypto.hpp"

namespace bf::runtime {

struct HeadOptions {
  std::filesystem::path key_file;
  std::filesystem::path membership_file;
  std::filesystem::path log_dir;
  std::filesystem::path manifest;  // proofs/MANIFEST; empty: find_manifest(), else none
  std::string http = "127.0.0.1:8080";
  // "host:port" where workers may dial in (`butterfly worker --head`); empty: only dial workers.
  // Workers without an address in the membership must dial in.
  std::string listen;
  std::uint32_t rounds_max = 3;
  std::uint32_t round_timeout_ms = 2000;
  // 50 ms x 3: a silent (hung, partitioned) worker is declared dead within 150-200 ms, 5x under
  // the seed's 1,247 ms (butterfly bench run detection); pings cost nothing on a LAN.
  std::uint32_t heartbeat_ms = 50;           // ping period per connection
  std::uint32_t heartbeat_missed_max = 3;    // silent this many periods: the connection is dead
  std::uint32_t backoff_min_ms = 50;         // reconnect delays double from here ...
  std::uint32_t backoff_max_ms = 1000;       // ... up to here
  std::uint32_t request_timeout_ms = 60'000;  // an HTTP query waiting longer gets 504
  double http_rate_per_s = 200;               // HTTP requests per second per client address (burst: twice)
};

// Where the chain continues (from the newest certificate in a log directory).
struct ChainResume {
  std::uint64_t next_sequence = 1;
  Digest previous_hash{};
  // After every certificate's reputation events (and logged equivocation evidence), replayed in
  // chain order: the head's state when it stopped. Empty: fresh.
  std::vector<core::cert::SnapshotEntry> reputation;
  std::filesystem::path last_file;  // empty: fresh log
};
// Reads the NNNNNN.cert files in DIR in sequence order; refuses a newest certificate of another
// membership.
Result<ChainResume> resume_chain(const std::filesystem::path& dir, const Digest& membership_digest);

// The invariants a certificate names, from proofs/MANIFEST (Q1-Q3 and F2 where present).
Result<std::vector<core::cert::InvariantRef>> invariants_from_manifest(const std::filesystem::path& manifest);

// proofs/MANIFEST of the source tree this binary was built in (BUILD/bin/butterfly ->
// ../../proofs/MANIFEST), if it is there; empty otherwise.
std::filesystem::path find_manifest();

// Runs until SIGTERM or SIGINT; returns the process exit code (0 after a clean stop). Logs one
// line per event to stderr.
int run_head(const HeadOptions& options);

}  // namespace bf::runtime
