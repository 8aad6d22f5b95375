// Fusion properties (spec/invariants.md F1-F6), against core/fusion.hpp's documented semantics.
//
// Generators: reputations in [100000, 1000000] millionths (and, one case in four, anywhere in the
// documented domain 1..2^32-1); cluster sizes 1..16, sometimes up to 64; distributions in Q31 that
// sum exactly to 2^31 (positive raw integers renormalised with a deficit fix-up, in four shapes:
// flat, wide, peaked, sparse with zeros); vocabularies of 1..64; honest numeric values with
// |v| <= 2^40, Byzantine values anywhere in int64 (fuse_median / fuse_trimmed_mean accept every
// int64: the mean of two is formed without overflow and the trimmed sum is 128-bit).
//
// F6 compares every fuser's bytes with an independent reimplementation of the documented rule in
// this file (128-bit arithmetic, written from fusion.hpp rather than fusion.cpp), so the bytes are
// shown to be a function of the inputs alone; each fuser also runs twice on fresh copies.
// Where fusion.hpp leaves a choice open, the reference follows the choice fusion.cpp documents
// at its top: the rounding deficit goes to the largest *floored* entry (ties: lowest worker index
// for weights, lowest token index for distributions).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <vector>

#include "core/fixed.hpp"
#include "core/fusion.hpp"
#include "tests/property/support.hpp"

namespace bf::test {
namespace {

namespace fusion = core::fusion;
using fusion::Distribution;
using fusion::Member;
constexpr std::uint64_t kU = fusion::weight_unit;
constexpr std::uint64_t kP = fusion::prob_unit;
constexpr std::int64_t kHonestBound = std::int64_t{1} << 40;
constexpr std::int64_t kMin64 = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax64 = std::numeric_limits<std::int64_t>::max();

// ------------------------------------------------------------------------------------------------
// Independent reference arithmetic.

__int128 floor_div(__int128 a, __int128 b) {  // b > 0
  __int128 q = a / b;
  if (a % b != 0 && a < 0) --q;
  return q;
}

// floor(raw_i * unit / sum raw) with the deficit on the largest floored entry, ties to the smallest
// key. Every product in 128 bits.
template <typename Key>
std::vector<std::uint32_t> ref_normalise(const std::vector<unsigned __int128>& raw, std::uint64_t unit, Key key) {
  unsigned __int128 total = 0;
  for (const auto r : raw) total += r;
  std::vector<std::uint32_t> out(raw.size());
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    out[i] = static_cast<std::uint32_t>(raw[i] * unit / total);
    sum += out[i];
  }
  std::size_t holder = 0;
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i] > out[holder] || (out[i] == out[holder] && key(i) < key(holder))) holder = i;
  }
  out[holder] += static_cast<std::uint32_t>(unit - sum);
  return out;
}

std::vector<std::uint32_t> ref_weights(const std::vector<Member>& members) {
  std::vector<unsigned __int128> raw;
  for (const Member& m : members) raw.push_back(m.reputation);
  return ref_normalise(raw, kU, [&](std::size_t i) { return members[i].worker; });
}

// Floored weighted mean per token, before the deficit.
std::vector<std::uint32_t> ref_mean_floors(const std::vector<std::uint32_t>& w,
                                           const std::vector<std::vector<std::uint32_t>>& d) {
  std::vector<std::uint32_t> out(d[0].size());
  for (std::size_t t = 0; t < out.size(); ++t) {
    unsigned __int128 s = 0;
    for (std::size_t i = 0; i < d.size(); ++i) s += static_cast<unsigned __int128>(w[i]) * d[i][t];
    out[t] = static_cast<std::uint32_t>(s / kU);
  }
  return out;
}

std::vector<std::uint32_t> ref_mean(const std::vector<std::uint32_t>& w, const std::vector<std::vector<std::uint32_t>>& d) {
  std::vector<std::uint32_t> floors = ref_mean_floors(w, d);
  std::uint64_t sum = 0;
  for (const auto f : floors) sum += f;
  // Normalising already-floored values to their own total is the identity; add the deficit by hand.
  std::size_t holder = 0;
  for (std::size_t t = 1; t < floors.size(); ++t) {
    if (floors[t] > floors[holder]) holder = t;
  }
  floors[holder] += static_cast<std::uint32_t>(kP - sum);
  return floors;
}

std::vector<std::uint32_t> ref_sctt(const std::vector<std::uint32_t>& w, const std::vector<std::vector<std::uint32_t>>& d) {
  const bool unanimous = std::all_of(d.begin(), d.end(), [&](const auto& x) { return x == d[0]; });
  if (unanimous) return d[0];
  const std::size_t vocab = d[0].size();
  std::vector<std::int64_t> level(vocab);
  std::int64_t level_max = core::fixed::log2_min;
  for (std::size_t t = 0; t < vocab; ++t) {
    __int128 s = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      s += static_cast<__int128>(w[i]) * core::fixed::log2_q16(std::max<std::uint32_t>(d[i][t], 1));
    }
    level[t] = static_cast<std::int64_t>(floor_div(s, static_cast<__int128>(kU)));
    level_max = std::max(level_max, level[t]);
  }
  std::vector<unsigned __int128> e(vocab);
  for (std::size_t t = 0; t < vocab; ++t) {
    e[t] = core::fixed::exp2_q31(static_cast<std::int32_t>(level[t] - level_max));
  }
  return ref_normalise(e, kP, [](std::size_t t) { return t; });
}

std::vector<std::uint32_t> ref_attention(const std::vector<Member>& members, const std::vector<std::uint32_t>& sim,
                                         std::uint32_t temperature) {
  const std::size_t m = members.size();
  if (m == 1) return {static_cast<std::uint32_t>(kU)};
  std::vector<std::int64_t> score(m);
  for (std::size_t i = 0; i < m; ++i) {
    std::int64_t s = 0;
    for (std::size_t j = 0; j < m; ++j) {
      if (j != i) s += sim[i * m + j];
    }
    score[i] = s / static_cast<std::int64_t>(m - 1);
  }
  const std::int64_t best = *std::max_element(score.begin(), score.end());
  std::vector<unsigned __int128> e(m);
  for (std::size_t i = 0; i < m; ++i) {
    const auto exponent = floor_div(static_cast<__int128>(score[i] - best) * core::fixed::log2e_q16, temperature);
    e[i] = core::fixed::exp2_q31(static_cast<std::int32_t>(exponent));
  }
  return ref_normalise(e, kU, [&](std::size_t i) { return members[i].worker; });
}

std::int64_t ref_median(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  const __int128 two = static_cast<__int128>(v[(v.size() - 1) / 2]) + v[v.size() / 2];
  return static_cast<std::int64_t>(floor_div(two, 2));
}

std::int64_t ref_trimmed_mean(std::vector<std::int64_t> v, std::uint32_t trim) {
  std::sort(v.begin(), v.end());
  __int128 s = 0;
  for (std::size_t i = trim; i + trim < v.size(); ++i) s += v[i];
  return static_cast<std::int64_t>(floor_div(s, static_cast<__int128>(v.size() - 2 * std::size_t{trim})));
}

// ------------------------------------------------------------------------------------------------
// Generators.

std::size_t gen_cluster_size() {
  return *rc::gen::weightedOneOf<std::size_t>(
      {{4, rc::gen::inRange<std::size_t>(1, 17)}, {1, rc::gen::inRange<std::size_t>(17, 65)}});
}

std::uint32_t gen_reputation_value(bool wide) {
  if (!wide) return *rc::gen::inRange<std::uint32_t>(100'000, 1'000'001);
  return static_cast<std::uint32_t>(*rc::gen::weightedOneOf<std::uint64_t>(
      {{3, rc::gen::inRange<std::uint64_t>(1, std::uint64_t{1} << 32)},
       {1, rc::gen::element(std::uint64_t{1}, std::uint64_t{0xFFFFFFFFu}, std::uint64_t{100'000}, std::uint64_t{1'000'000})}}));
}

// m members with distinct worker indices anywhere in 0..63.
std::vector<Member> gen_members(std::size_t m) {
  const bool wide = *rc::gen::inRange(0, 4) == 0;
  const std::vector<std::size_t> workers = permutation(core::limits::workers_max);
  std::vector<Member> out;
  for (std::size_t i = 0; i < m; ++i) {
    out.push_back(Member{static_cast<WorkerIndex>(workers[i]), gen_reputation_value(wide)});
  }
  return out;
}

std::size_t gen_vocab() { return *rc::gen::inRange<std::size_t>(1, 65); }

// A Q31 distribution over `vocab` tokens summing exactly to 2^31.
std::vector<std::uint32_t> gen_distribution(std::size_t vocab) {
  const int shape = *rc::gen::inRange(0, 4);
  std::vector<unsigned __int128> raw(vocab);
  for (auto& r : raw) {
    switch (shape) {
      case 0: r = *rc::gen::inRange<std::uint64_t>(1, 1001); break;                        // flat
      case 1: r = *rc::gen::inRange<std::uint64_t>(0, std::uint64_t{1} << 31); break;      // wide
      case 2: r = *rc::gen::inRange<std::uint64_t>(0, 4); break;                          // peaked
      default: r = *rc::gen::inRange(0, 4) == 0 ? *rc::gen::inRange<std::uint64_t>(1, 1u << 20) : 0; break;  // sparse
    }
  }
  if (shape == 2) raw[*rc::gen::inRange<std::size_t>(0, vocab)] = static_cast<unsigned __int128>(1) << 40;
  unsigned __int128 total = 0;
  for (const auto r : raw) total += r;
  if (total == 0) raw[*rc::gen::inRange<std::size_t>(0, vocab)] = 1;
  return ref_normalise(raw, kP, [](std::size_t t) { return t; });
}

std::vector<std::vector<std::uint32_t>> gen_distributions(std::size_t m, std::size_t vocab) {
  std::vector<std::vector<std::uint32_t>> out;
  for (std::size_t i = 0; i < m; ++i) out.push_back(gen_distribution(vocab));
  return out;
}

// Weights summing to 2^24, drawn independently of weights_from_reputation: arbitrary raw weights
// (zeros allowed), or all of it on one member.
std::vector<std::uint32_t> gen_weights(std::size_t m) {
  std::vector<unsigned __int128> raw(m);
  if (*rc::gen::inRange(0, 5) == 0) {
    raw[*rc::gen::inRange<std::size_t>(0, m)] = 1;
  } else {
    for (auto& r : raw) r = *rc::gen::inRange<std::uint64_t>(0, 1u << 20);
    raw[*rc::gen::inRange<std::size_t>(0, m)] += 1;
  }
  return ref_normalise(raw, kU, [](std::size_t i) { return i; });
}

// A symmetric m x m similarity matrix with entries in [0, 2^16].
std::vector<std::uint32_t> gen_similarity(std::size_t m) {
  std::vector<std::uint32_t> s(m * m);
  const bool extremes = *rc::gen::inRange(0, 4) == 0;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = i; j < m; ++j) {
      const std::uint32_t v = extremes ? *rc::gen::element(std::uint32_t{0}, fusion::similarity_one)
                                       : *rc::gen::inRange<std::uint32_t>(0, fusion::similarity_one + 1);
      s[i * m + j] = v;
      s[j * m + i] = v;
    }
  }
  return s;
}

std::uint32_t gen_temperature() {
  return *rc::gen::weightedOneOf<std::uint32_t>(
      {{3, rc::gen::inRange<std::uint32_t>(fusion::temperature_min_q16, 1u << 20)},
       {1, rc::gen::element(fusion::temperature_min_q16, fusion::temperature_default_q16, std::uint32_t{1u << 16})}});
}

std::int64_t gen_honest_value() { return *rc::gen::inRange<std::int64_t>(-kHonestBound, kHonestBound + 1); }

std::int64_t gen_wild_value() {
  return *rc::gen::weightedOneOf<std::int64_t>({{2, rc::gen::arbitrary<std::int64_t>()},
                                                {1, rc::gen::element(kMin64, kMin64 + 1, kMax64 - 1, kMax64, std::int64_t{0})},
                                                {1, rc::gen::inRange<std::int64_t>(-kHonestBound, kHonestBound + 1)}});
}

std::vector<Distribution> views(const std::vector<std::vector<std::uint32_t>>& d) {
  std::vector<Distribution> out;
  for (const auto& x : d) out.emplace_back(x.data(), x.size());
  return out;
}

// ------------------------------------------------------------------------------------------------
// Calls with fresh buffers.

std::vector<std::uint32_t> weights_of(const std::vector<Member>& members) {
  std::vector<std::uint32_t> w(members.size(), 0xDEADBEEF);
  const core::Status s = fusion::weights_from_reputation(members, w);
  RC_ASSERT(s.ok());
  return w;
}

std::vector<std::uint32_t> attention_of(const std::vector<Member>& members, const std::vector<std::uint32_t>& sim,
                                        std::uint32_t temperature) {
  std::vector<std::uint32_t> w(members.size(), 0xDEADBEEF);
  const core::Status s = fusion::attention_weights(members, sim, temperature, w);
  RC_ASSERT(s.ok());
  return w;
}

std::vector<std::uint32_t> mean_of(const std::vector<std::uint32_t>& w, const std::vector<std::vector<std::uint32_t>>& d) {
  std::vector<std::uint32_t> out(d[0].size(), 0xDEADBEEF);
  const auto v = views(d);
  const core::Status s = fusion::fuse_mean(w, v, out);
  RC_ASSERT(s.ok());
  return out;
}

std::vector<std::uint32_t> sctt_of(const std::vector<std::uint32_t>& w, const std::vector<std::vector<std::uint32_t>>& d) {
  std::vector<std::uint32_t> out(d[0].size(), 0xDEADBEEF);
  std::vector<std::int32_t> scratch(d[0].size(), -1);
  const auto v = views(d);
  const core::Status s = fusion::fuse_sctt(w, v, out, scratch);
  RC_ASSERT(s.ok());
  return out;
}

std::int64_t median_of(const std::vector<std::int64_t>& values) {
  std::vector<std::int64_t> scratch(values.size());
  const auto r = fusion::fuse_median(values, scratch);
  RC_ASSERT(r.ok());
  return *r;
}

std::int64_t trimmed_of(const std::vector<std::int64_t>& values, std::uint32_t trim) {
  std::vector<std::int64_t> scratch(values.size());
  const auto r = fusion::fuse_trimmed_mean(values, trim, scratch);
  RC_ASSERT(r.ok());
  return *r;
}

fusion::VoteResult vote_of(const std::vector<Member>& members, const std::vector<AnswerId>& answers) {
  const auto r = fusion::weighted_vote(members, answers);
  RC_ASSERT(r.ok());
  return *r;
}

std::uint64_t sum_of(const std::vector<std::uint32_t>& v) {
  std::uint64_t s = 0;
  for (const auto x : v) s += x;
  return s;
}

template <typename T>
std::vector<T> permuted(const std::vector<T>& v, const std::vector<std::size_t>& p) {
  std::vector<T> out;
  for (const std::size_t i : p) out.push_back(v[i]);
  return out;
}

// Similarity matrix for the members reordered by p (row/column k is old member p[k]).
std::vector<std::uint32_t> permuted_matrix(const std::vector<std::uint32_t>& s, const std::vector<std::size_t>& p) {
  const std::size_t m = p.size();
  std::vector<std::uint32_t> out(m * m);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < m; ++j) out[i * m + j] = s[p[i] * m + p[j]];
  }
  return out;
}

std::vector<std::uint32_t> by_worker(const std::vector<Member>& members, const std::vector<std::uint32_t>& w) {
  std::vector<std::uint32_t> out(core::limits::workers_max, 0);
  for (std::size_t i = 0; i < members.size(); ++i) out[members[i].worker] = w[i];
  return out;
}

template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// ------------------------------------------------------------------------------------------------
// F1-F6.

// F1: weights (from reputation and from attention) are non-negative and sum exactly to 2^24, and
// fused distributions (mean and SCTT) sum exactly to 2^31, with no entry wrapping past its unit.
RC_GTEST_PROP(Fusion, F1_weights_are_a_simplex, ()) {
  const std::size_t m = gen_cluster_size();
  const std::vector<Member> members = gen_members(m);
  for (const auto& w : {weights_of(members), attention_of(members, gen_similarity(m), gen_temperature())}) {
    RC_ASSERT(w.size() == m);
    RC_ASSERT(sum_of(w) == kU);
    for (const auto x : w) RC_ASSERT(x <= kU);
  }
  const std::size_t vocab = gen_vocab();
  const auto d = gen_distributions(m, vocab);
  const bool from_reputation = *rc::gen::arbitrary<bool>();
  const std::vector<std::uint32_t> w = from_reputation ? weights_of(members) : gen_weights(m);
  for (const auto& out : {mean_of(w, d), sctt_of(w, d)}) {
    RC_ASSERT(out.size() == vocab);
    RC_ASSERT(sum_of(out) == kP);
    for (const auto x : out) RC_ASSERT(x <= kP);
  }
}

// F2: with m >= 2f+1 values of which at most f are Byzantine (anywhere in int64, placed anywhere),
// the median and the trimmed mean with trim in [f, (m-1)/2] lie within [min honest, max honest].
RC_GTEST_PROP(Fusion, F2_numeric_within_honest_range, ()) {
  const auto f = *rc::gen::inRange<std::uint32_t>(0, 11);
  const auto m = *rc::gen::inRange<std::uint32_t>(2 * f + 1, 2 * f + 12);
  const std::uint32_t b = *rc::gen::arbitrary<bool>() ? f : *rc::gen::inRange<std::uint32_t>(0, f + 1);
  std::vector<std::int64_t> values;
  std::int64_t lo = kMax64;
  std::int64_t hi = kMin64;
  for (std::uint32_t i = 0; i < m - b; ++i) {
    values.push_back(gen_honest_value());
    lo = std::min(lo, values.back());
    hi = std::max(hi, values.back());
  }
  // The adversary pushes all to one side half of the time: the hardest case for the range.
  const int side = *rc::gen::inRange(0, 3);
  for (std::uint32_t i = 0; i < b; ++i) {
    values.push_back(side == 0 ? kMax64 - *rc::gen::inRange<std::int64_t>(0, 3)
                     : side == 1 ? kMin64 + *rc::gen::inRange<std::int64_t>(0, 3)
                                 : gen_wild_value());
  }
  values = shuffled(std::move(values));
  RC_ASSERT(fusion::check_admissible(fusion::RuleId::median, m, f).ok());

  const std::int64_t median = median_of(values);
  RC_ASSERT(median >= lo);
  RC_ASSERT(median <= hi);
  const auto trim = *rc::gen::inRange<std::uint32_t>(f, (m - 1) / 2 + 1);
  RC_ASSERT(fusion::check_admissible(fusion::RuleId::trimmed_mean, m, f, trim).ok());
  const std::int64_t trimmed = trimmed_of(values, trim);
  RC_ASSERT(trimmed >= lo);
  RC_ASSERT(trimmed <= hi);
}

// F3: changing one input by delta moves the median by at most |delta| and the trimmed mean by at
// most ceil(|delta| / (m - 2 trim)); changing one member's distribution by delta_t at token t moves
// the weighted-mean entry by at most w_i |delta_t| / U + 1 before renormalisation (the output is
// checked to equal those pre-renormalisation floors everywhere but the one deficit holder) and by at
// most w_i |delta_t| / U + V after it (the deficit, below V, may move to or from the entry).
RC_GTEST_PROP(Fusion, F3_lipschitz_bound, ()) {
  // Numeric rules; values anywhere in int64 one case in four (no overflow is part of the claim).
  {
    const auto m = *rc::gen::inRange<std::size_t>(1, 41);
    const bool wild = *rc::gen::inRange(0, 4) == 0;
    std::vector<std::int64_t> values;
    for (std::size_t i = 0; i < m; ++i) values.push_back(wild ? gen_wild_value() : gen_honest_value());
    const auto i = *rc::gen::inRange<std::size_t>(0, m);
    // delta keeps the changed value inside int64.
    const __int128 v = values[i];
    const auto lo = static_cast<std::int64_t>(std::max<__int128>(-(__int128{1} << 62), kMin64 - v));
    const auto hi = static_cast<std::int64_t>(std::min<__int128>(__int128{1} << 62, kMax64 - v));
    const std::int64_t delta = *rc::gen::weightedOneOf<std::int64_t>(
        {{1, rc::gen::inRange<std::int64_t>(std::max<std::int64_t>(lo, -3), std::min<std::int64_t>(hi, 3) + 1)},
         {2, rc::gen::inRange<std::int64_t>(std::max<std::int64_t>(lo, -2 * kHonestBound),
                                            std::min<std::int64_t>(hi, 2 * kHonestBound) + 1)},
         {1, rc::gen::inRange<std::int64_t>(lo, hi)}});
    std::vector<std::int64_t> changed = values;
    changed[i] = static_cast<std::int64_t>(v + delta);
    const __int128 size = delta < 0 ? -static_cast<__int128>(delta) : delta;

    const __int128 median_move = static_cast<__int128>(median_of(changed)) - median_of(values);
    RC_ASSERT((median_move < 0 ? -median_move : median_move) <= size);

    const auto trim = *rc::gen::inRange<std::uint32_t>(0, static_cast<std::uint32_t>((m - 1) / 2) + 1);
    const auto kept = static_cast<__int128>(m - 2 * std::size_t{trim});
    const __int128 trimmed_move = static_cast<__int128>(trimmed_of(changed, trim)) - trimmed_of(values, trim);
    RC_ASSERT((trimmed_move < 0 ? -trimmed_move : trimmed_move) <= (size + kept - 1) / kept);
  }
  // Weighted mean of distributions.
  {
    const std::size_t m = gen_cluster_size();
    const std::size_t vocab = gen_vocab();
    const std::vector<std::uint32_t> w = *rc::gen::arbitrary<bool>() ? weights_of(gen_members(m)) : gen_weights(m);
    const auto d = gen_distributions(m, vocab);
    const auto i = *rc::gen::inRange<std::size_t>(0, m);
    auto changed = d;
    if (*rc::gen::arbitrary<bool>() && vocab > 1) {
      // A small move of probability mass between two tokens.
      const auto from = *rc::gen::inRange<std::size_t>(0, vocab);
      const auto to = (from + *rc::gen::inRange<std::size_t>(1, vocab)) % vocab;
      const std::uint32_t amount = std::min(changed[i][from], *rc::gen::inRange<std::uint32_t>(0, 1u << 16));
      changed[i][from] -= amount;
      changed[i][to] += amount;
    } else {
      changed[i] = gen_distribution(vocab);
    }
    const auto out = mean_of(w, d);
    const auto out_changed = mean_of(w, changed);
    const auto pre = ref_mean_floors(w, d);
    const auto pre_changed = ref_mean_floors(w, changed);
    for (const auto& [o, p] : {std::pair{&out, &pre}, std::pair{&out_changed, &pre_changed}}) {
      std::size_t differ = 0;
      for (std::size_t t = 0; t < vocab; ++t) {
        if ((*o)[t] != (*p)[t]) {
          ++differ;
          RC_ASSERT((*o)[t] > (*p)[t]);
          RC_ASSERT((*o)[t] - (*p)[t] < vocab);  // the deficit is below V
        }
      }
      RC_ASSERT(differ <= 1u);
    }
    for (std::size_t t = 0; t < vocab; ++t) {
      const std::int64_t delta = static_cast<std::int64_t>(changed[i][t]) - d[i][t];
      const auto bound = static_cast<unsigned __int128>(w[i]) * static_cast<std::uint64_t>(delta < 0 ? -delta : delta);
      const std::int64_t pre_move = std::abs(static_cast<std::int64_t>(pre_changed[t]) - pre[t]);
      const std::int64_t post_move = std::abs(static_cast<std::int64_t>(out_changed[t]) - out[t]);
      RC_ASSERT(static_cast<unsigned __int128>(pre_move) * kU <= bound + kU);
      RC_ASSERT(static_cast<unsigned __int128>(post_move) * kU <= bound + kU * vocab);
    }
  }
}

// F4: unanimous inputs come back unchanged: equal values through median and trimmed mean, equal
// distributions through the weighted mean and SCTT (under any weights), one answer through the
// vote (with the whole cluster's reputation); equal reputations, or equal agreement, give uniform
// weights floor(U/m) with the deficit U mod m on the lowest worker index.
RC_GTEST_PROP(Fusion, F4_unanimous_inputs_unchanged, ()) {
  const std::size_t m = gen_cluster_size();
  const std::int64_t v = *rc::gen::arbitrary<bool>() ? gen_wild_value() : gen_honest_value();
  const std::vector<std::int64_t> values(m, v);
  RC_ASSERT(median_of(values) == v);
  RC_ASSERT(trimmed_of(values, *rc::gen::inRange<std::uint32_t>(0, static_cast<std::uint32_t>((m - 1) / 2) + 1)) == v);

  const std::size_t vocab = gen_vocab();
  const std::vector<std::uint32_t> d = gen_distribution(vocab);
  const std::vector<std::vector<std::uint32_t>> same(m, d);
  std::vector<Member> members = gen_members(m);
  const std::vector<std::uint32_t> w = *rc::gen::arbitrary<bool>() ? weights_of(members) : gen_weights(m);
  RC_ASSERT(mean_of(w, same) == d);
  RC_ASSERT(sctt_of(w, same) == d);

  const AnswerId answer = answer_id(*rc::gen::inRange<std::uint32_t>(0, 100));
  const fusion::VoteResult vote = vote_of(members, std::vector<AnswerId>(m, answer));
  std::uint64_t total = 0;
  for (const Member& x : members) total += x.reputation;
  RC_ASSERT(vote.answer == answer);
  RC_ASSERT(vote.weight == total);

  // Uniform weights.
  const std::uint32_t r = gen_reputation_value(*rc::gen::arbitrary<bool>());
  for (Member& x : members) x.reputation = r;
  const auto lowest = static_cast<std::size_t>(
      std::min_element(members.begin(), members.end(), [](const Member& a, const Member& b) { return a.worker < b.worker; }) -
      members.begin());
  std::vector<std::uint32_t> uniform(m, static_cast<std::uint32_t>(kU / m));
  uniform[lowest] += static_cast<std::uint32_t>(kU % m);
  RC_ASSERT(weights_of(members) == uniform);
  std::vector<std::uint32_t> sim(m * m, *rc::gen::inRange<std::uint32_t>(0, fusion::similarity_one + 1));
  for (std::size_t k = 0; k < m; ++k) sim[k * m + k] = *rc::gen::inRange<std::uint32_t>(0, fusion::similarity_one + 1);
  RC_ASSERT(attention_of(members, sim, gen_temperature()) == uniform);
}

// F5: reordering the members together with their data leaves every output unchanged: weights per
// worker index, the vote, fused distributions, numeric results.
RC_GTEST_PROP(Fusion, F5_input_order_does_not_matter, ()) {
  const std::size_t m = gen_cluster_size();
  const std::vector<Member> members = gen_members(m);
  const std::vector<std::size_t> p = permutation(m);
  const std::vector<Member> members_p = permuted(members, p);

  RC_ASSERT(by_worker(members, weights_of(members)) == by_worker(members_p, weights_of(members_p)));
  const auto sim = gen_similarity(m);
  const std::uint32_t temperature = gen_temperature();
  RC_ASSERT(by_worker(members, attention_of(members, sim, temperature)) ==
            by_worker(members_p, attention_of(members_p, permuted_matrix(sim, p), temperature)));

  // Few distinct answers, so that ties in support actually happen.
  std::vector<AnswerId> answers;
  const auto distinct = *rc::gen::inRange<std::uint32_t>(1, 4);
  for (std::size_t i = 0; i < m; ++i) answers.push_back(answer_id(*rc::gen::inRange<std::uint32_t>(0, distinct)));
  if (*rc::gen::arbitrary<bool>()) {  // equal reputations: ties decided by the answer id alone
    std::vector<Member> equal = members;
    for (Member& x : equal) x.reputation = members[0].reputation;
    const auto a = vote_of(equal, answers);
    const auto b = vote_of(permuted(equal, p), permuted(answers, p));
    RC_ASSERT(a.answer == b.answer && a.weight == b.weight);
  }
  const auto a = vote_of(members, answers);
  const auto b = vote_of(members_p, permuted(answers, p));
  RC_ASSERT(a.answer == b.answer);
  RC_ASSERT(a.weight == b.weight);

  const std::size_t vocab = gen_vocab();
  const auto d = gen_distributions(m, vocab);
  const std::vector<std::uint32_t> w = *rc::gen::arbitrary<bool>() ? weights_of(members) : gen_weights(m);
  RC_ASSERT(mean_of(w, d) == mean_of(permuted(w, p), permuted(d, p)));
  RC_ASSERT(sctt_of(w, d) == sctt_of(permuted(w, p), permuted(d, p)));

  std::vector<std::int64_t> values;
  for (std::size_t i = 0; i < m; ++i) values.push_back(*rc::gen::arbitrary<bool>() ? gen_wild_value() : gen_honest_value());
  RC_ASSERT(median_of(values) == median_of(permuted(values, p)));
  const auto trim = *rc::gen::inRange<std::uint32_t>(0, static_cast<std::uint32_t>((m - 1) / 2) + 1);
  RC_ASSERT(trimmed_of(values, trim) == trimmed_of(permuted(values, p), trim));
}

// F6: every fuser gives the same bytes on two calls with fresh copies of its inputs, and those
// bytes equal an independent 128-bit reimplementation of the documented rule (so they depend on
// the inputs alone, with no intermediate overflow), including at the edges of the domain
// (64 members, reputations up to 2^32-1, one-hot weights, peaked and sparse distributions,
// minimum temperature, int64 extremes).
RC_GTEST_PROP(Fusion, F6_same_inputs_same_bytes, ()) {
  const std::size_t m = gen_cluster_size();
  const std::vector<Member> members = gen_members(m);
  const auto members_copy = members;
  const auto w = weights_of(members);
  RC_ASSERT(same_bytes(w, weights_of(members_copy)));
  RC_ASSERT(w == ref_weights(members));

  const auto sim = gen_similarity(m);
  const std::uint32_t temperature = gen_temperature();
  const auto att = attention_of(members, sim, temperature);
  RC_ASSERT(same_bytes(att, attention_of(members_copy, std::vector<std::uint32_t>(sim), temperature)));
  RC_ASSERT(att == ref_attention(members, sim, temperature));

  // The vote, half of the time with equal reputations so that ties (to the smallest id) are common.
  std::vector<Member> voters = members;
  if (*rc::gen::arbitrary<bool>()) {
    for (Member& x : voters) x.reputation = members[0].reputation;
  }
  std::vector<AnswerId> answers;
  for (std::size_t i = 0; i < m; ++i) answers.push_back(answer_id(*rc::gen::inRange<std::uint32_t>(0, 4)));
  std::map<AnswerId, std::uint64_t> support;
  for (std::size_t i = 0; i < m; ++i) support[answers[i]] += voters[i].reputation;
  const auto best = std::max_element(support.begin(), support.end(),  // first maximum = smallest id
                                     [](const auto& x, const auto& y) { return x.second < y.second; });
  const auto vote = vote_of(voters, answers);
  RC_ASSERT(vote.answer == best->first);
  RC_ASSERT(vote.weight == best->second);

  const std::size_t vocab = gen_vocab();
  const auto d = gen_distributions(m, vocab);
  const std::vector<std::uint32_t> weights = *rc::gen::arbitrary<bool>() ? w : gen_weights(m);
  const auto mean = mean_of(weights, d);
  RC_ASSERT(same_bytes(mean, mean_of(std::vector<std::uint32_t>(weights), std::vector<std::vector<std::uint32_t>>(d))));
  RC_ASSERT(mean == ref_mean(weights, d));
  const auto sctt = sctt_of(weights, d);
  RC_ASSERT(same_bytes(sctt, sctt_of(std::vector<std::uint32_t>(weights), std::vector<std::vector<std::uint32_t>>(d))));
  RC_ASSERT(sctt == ref_sctt(weights, d));

  std::vector<std::int64_t> values;
  for (std::size_t i = 0; i < m; ++i) values.push_back(*rc::gen::arbitrary<bool>() ? gen_wild_value() : gen_honest_value());
  RC_ASSERT(median_of(values) == ref_median(values));
  RC_ASSERT(median_of(values) == median_of(std::vector<std::int64_t>(values)));
  const auto trim = *rc::gen::inRange<std::uint32_t>(0, static_cast<std::uint32_t>((m - 1) / 2) + 1);
  RC_ASSERT(trimmed_of(values, trim) == ref_trimmed_mean(values, trim));
  RC_ASSERT(trimmed_of(values, trim) == trimmed_of(std::vector<std::int64_t>(values), trim));
}

// ------------------------------------------------------------------------------------------------
// Beyond the catalogue.

// SCTT is what it says: the normalised weighted geometric mean, within the fixed-point error the
// headers document (log2 to 2 Q16 units, the floor of the weighted log, exp2 rounding), i.e. a
// relative error of ~1e-4 plus a few Q31 units and the deficit. This catches a wrong formula that
// the byte-for-byte reference (which shares log2_q16/exp2_q31) would share.
RC_GTEST_PROP(Fusion, ScttTracksTheRealGeometricMean, ()) {
  const std::size_t m = *rc::gen::inRange<std::size_t>(1, 9);
  const std::size_t vocab = gen_vocab();
  const auto d = gen_distributions(m, vocab);
  const auto w = gen_weights(m);
  const auto out = sctt_of(w, d);
  std::vector<long double> level(vocab);
  for (std::size_t t = 0; t < vocab; ++t) {
    long double s = 0;
    for (std::size_t i = 0; i < m; ++i) {
      s += static_cast<long double>(w[i]) / kU * std::log2(static_cast<long double>(std::max<std::uint32_t>(d[i][t], 1)) / kP);
    }
    level[t] = s;
  }
  const long double top = *std::max_element(level.begin(), level.end());
  long double total = 0;
  for (auto& l : level) total += (l = std::exp2(l - top));
  for (std::size_t t = 0; t < vocab; ++t) {
    const long double want = level[t] / total * kP;
    const long double tolerance = 1e-4L * want + static_cast<long double>(vocab) + 4;
    RC_ASSERT(std::fabs(static_cast<long double>(out[t]) - want) <= tolerance);
  }
}

// Out-of-domain inputs are refused with an error, never fused: weights that do not sum to U, a
// distribution that does not sum to 2^31, a member listed twice, a zero reputation.
RC_GTEST_PROP(Fusion, OutOfDomainInputsAreRefused, ()) {
  const std::size_t m = *rc::gen::inRange<std::size_t>(2, 17);
  const std::size_t vocab = *rc::gen::inRange<std::size_t>(2, 33);
  auto w = gen_weights(m);
  auto d = gen_distributions(m, vocab);
  std::vector<std::uint32_t> out(vocab);
  std::vector<std::int32_t> scratch(vocab);
  const int which = *rc::gen::inRange(0, 2);
  if (which == 0) {
    w[*rc::gen::inRange<std::size_t>(0, m)] += *rc::gen::inRange<std::uint32_t>(1, 1000);
  } else {
    d[*rc::gen::inRange<std::size_t>(0, m)][*rc::gen::inRange<std::size_t>(0, vocab)] += 1;
  }
  const auto v = views(d);
  RC_ASSERT(!fusion::fuse_mean(w, v, out).ok());
  RC_ASSERT(!fusion::fuse_sctt(w, v, out, scratch).ok());

  std::vector<Member> members = gen_members(m);
  std::vector<std::uint32_t> weights(m);
  if (*rc::gen::arbitrary<bool>()) {
    members[*rc::gen::inRange<std::size_t>(1, m)].worker = members[0].worker;
  } else {
    members[*rc::gen::inRange<std::size_t>(0, m)].reputation = 0;
  }
  RC_ASSERT(!fusion::weights_from_reputation(members, weights).ok());
  RC_ASSERT(!fusion::weighted_vote(members, std::vector<AnswerId>(m, answer_id(0))).ok());
}

}  // namespace
}  // namespace bf::test
