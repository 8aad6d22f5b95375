#include "model/sampler.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

namespace bf::model {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Higher logit first; equal logits: lower id first, so the order is total and deterministic.
bool before(const std::pair<float, std::int32_t>& a, const std::pair<float, std::int32_t>& b) {
  return a.first != b.first ? a.first > b.first : a.second < b.second;
}

}  // namespace

core::Status validate(const SamplerConfig& c) {
  if (!(c.temperature >= 0.0F && c.temperature <= 100.0F)) {
    return core::Error{core::Errc::invalid_argument, "temperature must be in [0, 100] (0 = greedy)"};
  }
  if (!(c.top_p > 0.0F && c.top_p <= 1.0F)) {
    return core::Error{core::Errc::invalid_argument, "top-p must be in (0, 1] (1 = off)"};
  }
  if (c.top_k > sampler_top_k_max) {
    return core::Error{core::Errc::invalid_argument,
                       "top-k must be at most " + std::to_string(sampler_top_k_max) + " (0 = off)"};
  }
  return core::Ok{};
}

Rng::Rng(std::uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::int32_t argmax(std::span<const float> logits) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<std::int32_t>(best);
}

Sampler::Sampler(SamplerConfig config) : config_(config), rng_(config.seed) { assert(validate(config).ok()); }

std::int32_t Sampler::sample(std::span<const float> logits) {
  assert(!logits.empty());
  if (config_.temperature == 0.0F) return argmax(logits);
  candidates_.clear();
  for (std::size_t i = 0; i < logits.size(); ++i) candidates_.emplace_back(logits[i], static_cast<std::int32_t>(i));
  std::size_t k = config_.top_k == 0 ? candidates_.size() : std::min(config_.top_k, candidates_.size());
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(k), candidates_.end(), before);
  candidates_.resize(k);
  // Softmax in double over the survivors; the order of summation is fixed, so results are
  // reproducible for a given build.
  probs_.resize(k);
  const double max = candidates_[0].first;
  double sum = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    probs_[i] = std::exp((static_cast<double>(candidates_[i].first) - max) / config_.temperature);
    sum += probs_[i];
  }
  if (config_.top_p < 1.0F) {  // the smallest prefix whose mass reaches top_p
    double mass = 0.0;
    std::size_t keep = 0;
    while (keep < k) {
      mass += probs_[keep] / sum;
      ++keep;
      if (mass >= static_cast<double>(config_.top_p)) break;
    }
    k = keep;
    sum = std::accumulate(probs_.begin(), probs_.begin() + static_cast<std::ptrdiff_t>(k), 0.0);
  }
  const double r = rng_.uniform() * sum;
  double acc = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    acc += probs_[i];
    if (r < acc) return candidates_[i].second;
  }
  return candidates_[k - 1].second;  // r rounded onto the total
}

std::vector<TokenQ31> top_k_q31(std::span<const float> logits, std::size_t k, float temperature) {
  if (logits.empty() || k == 0) return {};
  const double t = temperature > 0.0F ? temperature : 1.0;
  k = std::min({k, logits.size(), sampler_top_k_max});
  std::vector<std::pair<float, std::int32_t>> c;
  c.reserve(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) c.emplace_back(logits[i], static_cast<std::int32_t>(i));
  std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(k), c.end(), before);
  std::vector<double> p(k);
  double sum = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    p[i] = std::exp((static_cast<double>(c[i].first) - static_cast<double>(c[0].first)) / t);
    sum += p[i];
  }
  std::vector<TokenQ31> out(k);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < k; ++i) {
    const double scaled = std::floor(p[i] / sum * static_cast<double>(q31_one));
    out[i] = {c[i].second, static_cast<std::uint32_t>(std::min(scaled, static_cast<double>(q31_one)))};
    total += out[i].q31;
  }
  // Rounding down leaves a deficit (never a surplus beyond float noise, clamped here); the largest
  // entry, first in order, absorbs it so the sum is exactly 2^31.
  if (total > q31_one) {
    std::uint64_t excess = total - q31_one;
    for (auto it = out.rbegin(); it != out.rend() && excess > 0; ++it) {
      const std::uint64_t take = std::min<std::uint64_t>(excess, it->q31);
      it->q31 -= static_cast<std::uint32_t>(take);
      excess -= take;
    }
  } else {
    out[0].q31 += static_cast<std::uint32_t>(q31_one - total);
  }
  return out;
}

}  // namespace bf::model
