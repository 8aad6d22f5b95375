// Choosing the next token from logits: greedy, or temperature with top-k and top-p, driven by our
// own seeded PRNG (xoshiro256**, seeded through splitmix64) so a seed gives the same tokens on
// every platform and standard library. Also the top-k distribution in Q31 for token-level fusion
// across workers (runtime TokenProbability, core/fusion.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/result.hpp"

namespace bf::model {

inline constexpr std::uint32_t q31_one = 1U << 31;  // a Q31 distribution sums to exactly this
inline constexpr std::size_t sampler_top_k_max = 1U << 16;

struct SamplerConfig {
  float temperature = 0.0F;  // 0: greedy (argmax, lowest id on ties)
  std::size_t top_k = 0;     // 0: no top-k cut
  float top_p = 1.0F;        // 1: no nucleus cut
  std::uint64_t seed = 0;
};
// Checks ranges: temperature in [0, 100], top_p in (0, 1], top_k <= sampler_top_k_max.
core::Status validate(const SamplerConfig& config);

class Rng {  // xoshiro256**
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  double uniform();  // [0, 1) with 53 random bits
 private:
  std::uint64_t s_[4];
};

class Sampler {
 public:
  explicit Sampler(SamplerConfig config);  // precondition: validate(config)
  std::int32_t sample(std::span<const float> logits);
  const SamplerConfig& config() const { return config_; }

 private:
  SamplerConfig config_;
  Rng rng_;
  std::vector<std::pair<float, std::int32_t>> candidates_;
  std::vector<double> probs_;
};

std::int32_t argmax(std::span<const float> logits);

struct TokenQ31 {
  std::int32_t token;
  std::uint32_t q31;
};
// The k most likely tokens under softmax(logits / temperature) renormalised over those k (ties:
// lower id first), as Q31 probabilities summing to exactly 2^31: each is rounded down and the
// deficit goes to the largest entry. temperature <= 0 counts as 1. Sorted by probability,
// descending. k is capped at the vocabulary and at sampler_top_k_max.
std::vector<TokenQ31> top_k_q31(std::span<const float> logits, std::size_t k, float temperature = 1.0F);

}  // namespace bf::model
