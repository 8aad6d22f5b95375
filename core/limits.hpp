// Every bound core/ relies on, named with its unit. Exceeding one is a handled error, not a surprise.
#pragma once

#include <cstdint>

namespace bf::core::limits {
// Signer sets are 64-bit masks, so a consensus group has at most 64 workers. Larger deployments
// shard into several groups (DESIGN.md, "Distribution at scale").
inline constexpr std::uint32_t workers_max = 64;
// Debate rounds per query, the default R and its ceiling.
inline constexpr std::uint32_t rounds_default = 3;
inline constexpr std::uint32_t rounds_max = 8;
// Distributions fused per token step: the default model's vocabulary is 49,152 entries.
inline constexpr std::uint32_t vocabulary_max = 1u << 20;
}  // namespace bf::core::limits
