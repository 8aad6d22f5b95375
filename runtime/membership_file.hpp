// Membership files (spec/membership.md): the JSON carrier of a core::cert::MembershipRecord and its
// digest, BLAKE2b-256 of the canonical binary encoding.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/certificate.hpp"
#include "runtime/crypto.hpp"

namespace bf::runtime {

inline constexpr std::size_t membership_file_bytes_max = 1u << 20;

// How a worker runs the built-in model (seed section 3's specialists: logic, pattern, formal,
// creative): system prompt, sampling temperature and seed. Deployment detail like the address: not
// in the canonical encoding or the digest (a worker reads its own entry; auditors check signatures,
// never prompts). An empty name means none is declared.
struct Specialist {
  std::string name;
  std::string system_prompt;
  float temperature = 0.0F;  // 0: greedy
  std::uint64_t seed = 0;
};
inline constexpr std::size_t specialist_name_bytes_max = 64;
inline constexpr std::size_t specialist_system_bytes_max = 4096;
inline constexpr float specialist_temperature_max = 2.0F;
// The temperature as membership_json writes it: the float's shortest decimal form as a double,
// so 0.2F is written 0.2 (not 0.20000000298023224) and reads back as the same float.
double temperature_for_json(float temperature);

struct Membership {
  core::cert::MembershipRecord record;
  Bytes canonical;  // encode_membership(record)
  Digest digest{};  // blake2b(canonical)
  // Optional "host:port" per worker (index = position), "" when absent. Deployment detail, not
  // part of the canonical encoding or the digest: authentication is by key, never by address.
  std::vector<std::string> addresses;
  std::vector<Specialist> specialists;  // per worker (index = position); name "" when absent
};

inline constexpr std::size_t address_bytes_max = 255;

// Sets worker `id`'s address; an error if there is no such worker or the address is not
// "host:port" (host non-empty, port 1..65535, at most address_bytes_max bytes).
core::Status set_worker_address(Membership& m, std::string_view id, std::string_view address);
// Sets worker `id`'s specialist; an error naming the field if there is no such worker, the name is
// empty, not [A-Za-z0-9._-] or too long, the system prompt too long, or the temperature not in 0..2.
core::Status set_worker_specialist(Membership& m, std::string_view id, Specialist specialist);
core::Status check_specialist(const Specialist& s);
// Checks the "host:port" shape only (no name resolution).
core::Status check_address(std::string_view address);

// Builds a membership: sorts workers by id, computes q = quorum_safe(n, f), encodes and digests.
Result<Membership> make_membership_record(const std::string& cluster_id, std::uint64_t epoch,
                                          std::uint32_t f, const PublicKey& head_key,
                                          std::vector<core::cert::MemberKey> workers);
// A membership from its record as it stands (no sorting, q as given): encodes and digests it;
// an error when the record is not canonical. Addresses start empty.
Result<Membership> membership_from_record(core::cert::MembershipRecord record);
nlohmann::json membership_json(const Membership& m);
Result<Membership> membership_from_json(const nlohmann::json& j);
Result<Membership> read_membership_file(const std::filesystem::path& path);

}  // namespace bf::runtime
