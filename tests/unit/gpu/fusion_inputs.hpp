// Random, valid inputs for the fusion tests: weights from core's reputation rule and Q31
// distributions that sum exactly to 2^31 (with zeros and ties, the cases rounding is sensitive to).
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "core/fusion.hpp"

namespace bf::gpu::test {

struct FusionInputs {
  std::vector<std::uint32_t> weights;        // n, sums to 2^24
  std::vector<std::uint32_t> distributions;  // n rows of vocabulary, each sums to 2^31
  std::size_t vocabulary = 0;

  [[nodiscard]] std::vector<core::fusion::Distribution> rows() const {
    std::vector<core::fusion::Distribution> r;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      r.emplace_back(distributions.data() + i * vocabulary, vocabulary);
    }
    return r;
  }
};

// Q31 quantisation of non-negative masses (not all zero): floor, deficit on the largest (lowest index).
inline void quantise(std::span<const std::uint64_t> mass, std::span<std::uint32_t> out) {
  std::uint64_t total = 0;
  for (const std::uint64_t m : mass) total += m;
  std::uint64_t sum = 0;
  for (std::size_t t = 0; t < mass.size(); ++t) {
    out[t] = static_cast<std::uint32_t>(mass[t] * core::fusion::prob_unit / total);
    sum += out[t];
  }
  const auto largest = static_cast<std::size_t>(std::max_element(out.begin(), out.end()) - out.begin());
  out[largest] += static_cast<std::uint32_t>(core::fusion::prob_unit - sum);
}

inline FusionInputs random_inputs(std::mt19937_64& rng, std::size_t n, std::size_t vocabulary) {
  FusionInputs in;
  in.vocabulary = vocabulary;
  std::vector<core::fusion::Member> members;
  std::uniform_int_distribution<std::uint32_t> reputation(1, 1'000'000);
  for (std::size_t i = 0; i < n; ++i) members.push_back({static_cast<std::uint32_t>(i), reputation(rng)});
  in.weights.resize(n);
  if (!core::fusion::weights_from_reputation(members, in.weights)) in.weights.clear();

  in.distributions.resize(n * vocabulary);
  std::uniform_int_distribution<int> shape(0, 3);
  std::uniform_int_distribution<std::uint64_t> mass(0, 1'000'000);
  std::vector<std::uint64_t> masses(vocabulary);
  for (std::size_t i = 0; i < n; ++i) {
    const int kind = shape(rng);
    for (std::size_t t = 0; t < vocabulary; ++t) {
      switch (kind) {
        case 0: masses[t] = mass(rng); break;                          // dense
        case 1: masses[t] = (mass(rng) % 10 == 0) ? mass(rng) : 0; break;  // sparse, many zeros
        case 2: masses[t] = 7; break;                                   // uniform: every entry ties
        default: masses[t] = mass(rng) % 4; break;                      // few levels, many ties
      }
    }
    masses[rng() % vocabulary] += 1;  // never all zero
    quantise(masses, std::span<std::uint32_t>(in.distributions).subspan(i * vocabulary, vocabulary));
  }
  return in;
}

}  // namespace bf::gpu::test
