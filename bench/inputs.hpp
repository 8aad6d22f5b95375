// Fixed benchmark inputs: everything is generated once, in setup, from bench::input_seed with
// SplitMix64 (fully specified, so the inputs are the same bytes on every platform and standard
// library). Nothing here runs inside a timed loop.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/fusion.hpp"
#include "core/quorum.hpp"
#include "core/reputation.hpp"
#include "core/tally.hpp"

namespace bf::bench {

inline constexpr std::uint64_t input_seed = 0xB077E5F1'2026'1123ULL;

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fully specified, good enough for test inputs.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, bound) for bound << 2^64.
  std::uint64_t below(std::uint64_t bound) noexcept { return next() % bound; }
  std::uint32_t between(std::uint32_t low, std::uint32_t high) noexcept {  // inclusive
    return low + static_cast<std::uint32_t>(below(std::uint64_t{high} - low + 1));
  }

 private:
  std::uint64_t state_;
};

[[noreturn]] inline void setup_failed(const char* what) {
  std::fprintf(stderr, "bench setup failed: %s\n", what);
  std::abort();
}

template <typename T>
void shuffle(std::vector<T>& values, SplitMix64& rng) {
  for (std::size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[rng.below(i)]);
}

inline core::AnswerId random_answer(SplitMix64& rng) {
  core::AnswerId id{};
  for (auto& byte : id) byte = static_cast<std::uint8_t>(rng.next());
  return id;
}

// One round of a group of n workers with f = faults_max(n): the n - f honest workers give one
// answer, each of the f Byzantine workers a different one, arriving in a seeded order. With the
// safe quorum (n=4: q=3, n=16: q=11) the honest answer is decided with exactly q signers.
struct RoundInputs {
  core::Membership membership;
  std::vector<core::AnswerId> answer_of;  // by worker index
  std::vector<core::WorkerIndex> arrival;  // the order record() is called in
  core::RoundStatus status;
};

inline RoundInputs make_round(std::uint32_t n, std::uint64_t seed) {
  SplitMix64 rng(seed);
  const std::uint32_t f = core::faults_max(n);
  auto membership = core::make_membership(n, f);
  if (!membership) setup_failed(membership.error().message.c_str());
  RoundInputs round;
  round.membership = *membership;
  const core::AnswerId honest = random_answer(rng);
  round.answer_of.assign(n, honest);
  std::vector<core::WorkerIndex> workers(n);
  for (std::uint32_t w = 0; w < n; ++w) workers[w] = w;
  shuffle(workers, rng);
  for (std::uint32_t k = 0; k < f; ++k) round.answer_of[workers[k]] = random_answer(rng);
  round.arrival = workers;
  shuffle(round.arrival, rng);
  round.status = core::RoundStatus{0, core::limits::rounds_default, n, false};
  return round;
}

// n members with distinct worker indices in [0, 64) and reputations in [exclude_below, one].
inline std::vector<core::fusion::Member> make_members(std::uint32_t n, SplitMix64& rng) {
  std::vector<core::WorkerIndex> indices(core::limits::workers_max);
  for (std::uint32_t w = 0; w < core::limits::workers_max; ++w) indices[w] = w;
  shuffle(indices, rng);
  std::vector<core::fusion::Member> members(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    members[i] = core::fusion::Member{indices[i], rng.between(core::ReputationParams::exclude_below,
                                                               core::ReputationParams::one)};
  }
  return members;
}

// Q31 distributions shaped like a language model's next-token output: a Zipf-like law (p ~ 1/rank)
// over a token ranking shared by all workers, with each worker's entries perturbed by a factor in
// [0.5, 1.5], then quantised to sum exactly to prob_unit (the deficit on the largest entry).
inline std::vector<std::vector<std::uint32_t>> make_distributions(std::uint32_t n, std::uint32_t vocabulary,
                                                                  SplitMix64& rng) {
  std::vector<std::uint32_t> rank(vocabulary);
  for (std::uint32_t t = 0; t < vocabulary; ++t) rank[t] = t;
  shuffle(rank, rng);
  std::vector<std::vector<std::uint32_t>> distributions(n, std::vector<std::uint32_t>(vocabulary));
  std::vector<double> mass(vocabulary);
  for (auto& out : distributions) {
    double total = 0;
    for (std::uint32_t t = 0; t < vocabulary; ++t) {
      const double perturbation = 0.5 + static_cast<double>(rng.below(1u << 20)) / static_cast<double>(1u << 20);
      mass[t] = perturbation / static_cast<double>(rank[t] + 1);
      total += mass[t];
    }
    std::uint64_t sum = 0;
    for (std::uint32_t t = 0; t < vocabulary; ++t) {
      out[t] = static_cast<std::uint32_t>(mass[t] / total * static_cast<double>(core::fusion::prob_unit));
      sum += out[t];
    }
    if (sum > core::fusion::prob_unit) setup_failed("distribution quantisation overshot");
    const auto largest = std::max_element(out.begin(), out.end());
    *largest += static_cast<std::uint32_t>(core::fusion::prob_unit - sum);
  }
  return distributions;
}

}  // namespace bf::bench
