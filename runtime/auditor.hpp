// The auditor (spec/certificate.md, "What the auditor checks"): re-checks a certificate, an
// equivocation record or a whole log against a membership, trusting nothing else. Reads no
// network and no clock; the only inputs are bytes, the membership and optionally proofs/MANIFEST.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/certificate.hpp"
#include "runtime/crypto.hpp"
#include "runtime/membership_file.hpp"

namespace bf::runtime {

enum class CheckState { pass, fail, skip };
const char* check_state_name(CheckState s) noexcept;

struct Check {
  std::string name;  // encoding, membership, quorum, answer-ids, worker-signatures, signers,
                     // decision, fusion, head-signature, task-checks, proofs; with
                     // `cert verify --z3` also "z3 <ID>" and "task <i>"
  CheckState state = CheckState::pass;
  std::string detail;
};

struct Report {
  std::vector<Check> checks;
  std::optional<core::cert::Certificate> certificate;  // when it decoded
  Digest hash{};                                       // blake2b of the bytes
  [[nodiscard]] bool ok() const;
  [[nodiscard]] const Check* first_failure() const;
};

struct VerifyOptions {
  // Invariant id -> sha256 of proofs/<ID>.smt2, from proofs/MANIFEST; unset: the proofs check is skipped.
  std::optional<std::map<std::string, Digest>> manifest;
};

Report verify_certificate(std::span<const std::uint8_t> bytes, const Membership& membership,
                          const VerifyOptions& options = {});
Report verify_equivocation(std::span<const std::uint8_t> bytes, const Membership& membership);
// A membership transition record against the OLD membership: encoding, old digest, cluster id and
// epoch order, and the old head's signature. Checks: encoding, old-membership, epoch, head-signature.
Report verify_membership_transition(std::span<const std::uint8_t> bytes, const Membership& from);

// proofs/MANIFEST: "<sha256 hex>  <ID>.smt2" lines.
Result<std::map<std::string, Digest>> read_manifest(const std::filesystem::path& path);

struct LogEntry {
  std::string file;
  Report report;
};
struct LogReport {
  // *.cert in name order, each *.transition just before the first certificate that needs it,
  // then *.equivocation (each checked under the membership its digest names).
  std::vector<LogEntry> entries;
  std::optional<std::string> broken;  // the first broken link or failed entry, in words
  [[nodiscard]] bool ok() const { return !broken.has_value(); }
};
inline constexpr std::size_t log_files_max = 100000;
Result<LogReport> verify_log(const std::filesystem::path& dir, const Membership& membership,
                             const VerifyOptions& options = {});

// JSON renderings for people (`butterfly cert show`).
nlohmann::json certificate_json(const core::cert::Certificate& c, const Digest& hash);
nlohmann::json equivocation_json(const core::cert::EquivocationRecord& e);
nlohmann::json report_json(const Report& r);

}  // namespace bf::runtime
