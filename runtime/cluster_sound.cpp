#include "runtime/cluster_sound.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <system_error>

#include "runtime/auditor.hpp"
#include "runtime/crypto.hpp"

namespace bf::runtime::audio {
namespace {

using core::Errc;
using core::Error;

bool isolated_in(const core::cert::Certificate& c, std::size_t w) {
  return w < c.reputation.size() && c.reputation[w].isolated;
}

std::optional<double> mtime_ms(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  return static_cast<double>(st.st_mtim.tv_sec) * 1000.0 + static_cast<double>(st.st_mtim.tv_nsec) / 1e6;
}

}  // namespace

std::vector<Event> events_from_records(std::span<const LogRecord> records) {
  std::vector<Event> events;
  const core::cert::Certificate* previous = nullptr;
  double previous_time = 0;
  for (const auto& r : records) {
    const auto& c = r.certificate;
    const double t = previous != nullptr ? std::max(r.time_ms, previous_time) : r.time_ms;
    const double latency = previous != nullptr ? t - previous_time : -1;
    auto add = [&](EventKind kind, std::optional<std::uint32_t> worker) { events.push_back(Event{t, kind, worker, latency}); };
    if (c.rounds.size() > 1) add(EventKind::debate_started, std::nullopt);
    if (!c.rounds.empty()) {
      core::SignerMask first_round = 0;
      for (const auto& a : c.rounds.front().answers) {
        if (a.worker < 64) first_round |= core::SignerMask{1} << a.worker;
      }
      for (std::uint32_t w = 0; w < c.n && w < 64; ++w) {
        const bool eligible = previous != nullptr ? !isolated_in(*previous, w) : !isolated_in(c, w);
        if (eligible && (first_round & (core::SignerMask{1} << w)) == 0) add(EventKind::worker_slow, w);
      }
    }
    std::vector<std::uint32_t> byzantine(r.equivocators.begin(), r.equivocators.end());
    if (c.outcome == core::Outcome::decided && !c.rounds.empty()) {
      for (const auto& a : c.rounds.back().answers) {
        if (a.answer != c.decided_answer) byzantine.push_back(a.worker);
      }
    }
    std::sort(byzantine.begin(), byzantine.end());
    byzantine.erase(std::unique(byzantine.begin(), byzantine.end()), byzantine.end());
    for (const auto w : byzantine) {
      if (w < c.n) add(EventKind::byzantine_detected, w);
    }
    for (std::uint32_t w = 0; w < c.n; ++w) {
      const bool was = previous != nullptr && isolated_in(*previous, w);
      if (isolated_in(c, w) && !was) add(EventKind::isolation, w);
    }
    switch (c.outcome) {
      case core::Outcome::decided: add(EventKind::query_decided, std::nullopt); break;
      case core::Outcome::no_consensus: add(EventKind::no_consensus, std::nullopt); break;
      case core::Outcome::no_quorum: add(EventKind::partition, std::nullopt); break;
      default: break;
    }
    previous = &c;
    previous_time = t;
  }
  return events;
}

core::Result<LogEvents> events_from_log(const std::filesystem::path& dir, std::size_t last) {
  auto bad = [](std::string m) { return Error{Errc::invalid_argument, std::move(m)}; };
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return bad(dir.string() + " is not a directory; give the head's certificate log (the cluster's DIR/log)");
  }
  std::vector<std::filesystem::path> certs;
  std::vector<std::filesystem::path> equivocations;
  std::size_t seen = 0;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    if (++seen > log_files_max) return bad(dir.string() + " holds more than " + std::to_string(log_files_max) + " files");
    const auto& p = it->path();
    if (p.extension() == ".cert") certs.push_back(p);
    if (p.extension() == ".equivocation") equivocations.push_back(p);
  }
  if (ec) return bad("cannot list " + dir.string() + ": " + ec.message());
  if (certs.empty()) return bad(dir.string() + " has no *.cert files; is it the head's --log-dir?");
  std::sort(certs.begin(), certs.end());  // zero-padded sequence numbers sort by name
  const std::size_t keep = std::min({certs.size(), std::max<std::size_t>(last, 1), sound_certificates_max});
  LogEvents out;
  out.skipped = certs.size() - keep;
  certs.erase(certs.begin(), certs.begin() + static_cast<std::ptrdiff_t>(out.skipped));

  std::map<core::cert::Digest, std::vector<core::WorkerIndex>> equivocators;  // by query id
  for (const auto& p : equivocations) {
    auto bytes = read_file(p, core::cert::record_bytes_max, "equivocation record");
    if (!bytes) return bytes.error();
    auto e = core::cert::decode_equivocation(*bytes);
    if (!e) return bad(p.string() + ": " + e.error().message);
    equivocators[e->query_id].push_back(e->worker);
  }
  std::vector<LogRecord> records;
  records.reserve(certs.size());
  for (const auto& p : certs) {
    auto bytes = read_file(p, core::cert::record_bytes_max, "certificate");
    if (!bytes) return bytes.error();
    auto c = core::cert::decode_certificate(*bytes);
    if (!c) return bad(p.string() + ": " + c.error().message);
    if (c->n == 0 || c->n > workers_max) return bad(p.string() + ": n = " + std::to_string(c->n) + " is outside 1.." + std::to_string(workers_max));
    LogRecord r;
    r.time_ms = mtime_ms(p).value_or(0);
    if (auto it = equivocators.find(c->query_id); it != equivocators.end()) r.equivocators = it->second;
    r.certificate = std::move(*c);
    records.push_back(std::move(r));
  }
  out.certificates = records.size();
  out.workers = records.back().certificate.n;
  out.events = events_from_records(records);
  if (out.events.size() > events_max) return bad("the log gives more than " + std::to_string(events_max) + " events; use --last with fewer certificates");
  return out;
}

}  // namespace bf::runtime::audio
