// Cluster state as sound events (issue 8, "Audio"): a head's certificate log read in sequence
// order and turned into sonify.hpp events. The mapping is pure (events_from_records); reading
// the directory and the files' modification times is the I/O half (events_from_log).
//
// Per certificate, in this order: "debate started" when it took more than one round; "worker slow"
// for each eligible worker with no answer in the first round; "Byzantine detected" for each worker
// whose last-round answer lost a decided vote or that signed two answers (equivocation record);
// "isolation" for each worker the reputation snapshot newly marks isolated; then the outcome:
// decided -> "query decided", no consensus -> "no consensus", no quorum -> "partition".
// Certificates carry no clock, so an event's time is its file's modification time, and its
// latency is the time since the previous certificate was written (an upper bound on the query's
// latency when queries run one after another; unknown for the first).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/certificate.hpp"
#include "core/result.hpp"
#include "runtime/sonify.hpp"

namespace bf::runtime::audio {

struct LogRecord {
  double time_ms = 0;  // the file's modification time
  core::cert::Certificate certificate;
  std::vector<core::WorkerIndex> equivocators;  // workers with an equivocation record for this query
};

std::vector<Event> events_from_records(std::span<const LogRecord> records);

struct LogEvents {
  std::vector<Event> events;
  std::uint32_t workers = 0;     // n of the last certificate
  std::size_t certificates = 0;  // read
  std::size_t skipped = 0;       // older certificates left out by `last`
};
inline constexpr std::size_t sound_certificates_max = 2000;
// Reads DIR/*.cert (the last `last` by sequence, at most sound_certificates_max) and
// DIR/*.equivocation; decodes them (no signature checks: `butterfly log verify` audits).
core::Result<LogEvents> events_from_log(const std::filesystem::path& dir, std::size_t last);

}  // namespace bf::runtime::audio
