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
};

// Builds a membership: sorts workers by id, computes q = quorum_safe(n, f), encodes and digests.
Result<Membership> make_membership_record(const std::string& cluster_id, std::uint64_t epoch,
                                          std::uint32_t f, const PublicKey& head_key,
                                          std::vector<core::cert::MemberKey> workers);
nlohmann::json membership_json(const Membership& m);
Result<Membership> membership_from_json(const nlohmann::json& j);
Result<Membership> read_membership_file(const std::filesystem::path& path);

}  // namespace bf::runtime
