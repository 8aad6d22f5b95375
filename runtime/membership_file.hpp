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

struct Membership {
  core::cert::MembershipRecord record;
  Bytes canonical;  // encode_membership(record)
  Digest digest{};  // blake2b(canonical)
  // Optional "host:port" per worker (index = position), "" when absent. Deployment detail, not
  // part of the canonical encoding or the digest: authentication is by key, never by address.
  std::vector<std::string> addresses;
};

inline constexpr std::size_t address_bytes_max = 255;

// Sets worker `id`'s address; an error if there is no such worker or the address is not
// "host:port" (host non-empty, port 1..65535, at most address_bytes_max bytes).
core::Status set_worker_address(Membership& m, std::string_view id, std::string_view address);
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
