// Shared generators and checkers for the property tests (tests/property/*.cpp).
//
// Generators draw inside a running property (`*rc::gen::...`), so every choice shrinks and a
// failure replays from the seed RapidCheck prints (RC_PARAMS="replay=...").
// The checkers here are deliberately independent of core/'s own bookkeeping: they count signed
// answers the way an auditor holding the signatures would. testing_the_tester.cpp shows that the
// very same checkers report a violation when the quorum rule or the fault bound is broken.
#pragma once

#include <rapidcheck.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

#include "core/limits.hpp"
#include "core/quorum.hpp"
#include "core/tally.hpp"

namespace bf::test {

using core::AnswerId;
using core::SignerMask;
using core::WorkerIndex;

// A distinct, well-spread answer id for each small integer k; the order of ids follows k.
inline AnswerId answer_id(std::uint32_t k) {
  AnswerId a{};
  a[0] = static_cast<std::uint8_t>(k >> 8);
  a[1] = static_cast<std::uint8_t>(k);
  for (std::size_t i = 2; i < a.size(); ++i) a[i] = static_cast<std::uint8_t>((k * 131u + i * 7u) ^ 0x5au);
  return a;
}

inline SignerMask bit(WorkerIndex w) { return SignerMask{1} << w; }

inline SignerMask all_workers(std::uint32_t n) {
  return n >= 64 ? ~SignerMask{0} : (SignerMask{1} << n) - 1;
}

// A safe membership with 1 <= n <= n_max; f is the largest tolerated value half of the time,
// because the quorum bounds are tight there.
inline core::Membership gen_membership(std::uint32_t n_min = 1, std::uint32_t n_max = core::limits::workers_max) {
  const auto n = *rc::gen::inRange<std::uint32_t>(n_min, n_max + 1);
  const bool f_max = *rc::gen::arbitrary<bool>();
  const std::uint32_t f =
      f_max ? core::faults_max(n) : *rc::gen::inRange<std::uint32_t>(0, core::faults_max(n) + 1);
  const auto m = core::make_membership(n, f);
  RC_ASSERT(m.ok());
  return *m;
}

// Fisher-Yates with generated indices (shrinks towards the identity permutation).
template <typename T>
std::vector<T> shuffled(std::vector<T> v) {
  for (std::size_t i = v.size(); i > 1; --i) {
    const auto j = *rc::gen::inRange<std::size_t>(0, i);
    std::swap(v[i - 1], v[j]);
  }
  return v;
}

// A random permutation of 0..n-1.
inline std::vector<std::size_t> permutation(std::size_t n) {
  std::vector<std::size_t> p(n);
  std::iota(p.begin(), p.end(), std::size_t{0});
  return shuffled(std::move(p));
}

// A random set of exactly `size` workers out of `from` (a mask).
inline SignerMask random_subset_of(SignerMask from, std::uint32_t size) {
  std::vector<WorkerIndex> pool;
  for (WorkerIndex w = 0; w < 64; ++w) {
    if ((from & bit(w)) != 0) pool.push_back(w);
  }
  RC_ASSERT(size <= pool.size());
  pool = shuffled(std::move(pool));
  SignerMask out = 0;
  for (std::uint32_t i = 0; i < size; ++i) out |= bit(pool[i]);
  return out;
}

inline std::vector<WorkerIndex> members_of(SignerMask mask) {
  std::vector<WorkerIndex> out;
  for (WorkerIndex w = 0; w < 64; ++w) {
    if ((mask & bit(w)) != 0) out.push_back(w);
  }
  return out;
}

// One signed answer as it arrives at the head (signature already checked by runtime/).
struct Signed {
  WorkerIndex worker = 0;
  AnswerId answer{};
};

// The auditor's view: for each answer, the set of distinct workers holding a signature on it.
// A worker that signed two answers (equivocation) appears in both, as it would on two certificates.
inline std::map<AnswerId, SignerMask> signers_by_answer(const std::vector<Signed>& signatures) {
  std::map<AnswerId, SignerMask> out;
  for (const Signed& s : signatures) out[s.answer] |= bit(s.worker);
  return out;
}

struct Conflict {
  AnswerId first{};
  AnswerId second{};
  SignerMask first_signers = 0;
  SignerMask second_signers = 0;
};

// The safety checker: two different answers that each carry >= q distinct signatures, i.e. two
// certificates an auditor would both accept for the same (query, round). nullopt when there is none.
inline std::optional<Conflict> conflicting_quorums(const std::vector<Signed>& signatures, std::uint32_t q) {
  std::optional<std::pair<AnswerId, SignerMask>> seen;
  for (const auto& [answer, signers] : signers_by_answer(signatures)) {
    if (core::signer_count(signers) < q) continue;
    if (seen) return Conflict{seen->first, answer, seen->second, signers};
    seen = std::make_pair(answer, signers);
  }
  return std::nullopt;
}

// The same check on a live tally: how many clusters have reached q right now.
inline std::uint32_t clusters_at_quorum(const core::Tally& tally, std::uint32_t q) {
  std::uint32_t count = 0;
  for (std::uint32_t c = 0; c < tally.clusters(); ++c) {
    if (core::signer_count(tally.cluster_signers(c)) >= q) ++count;
  }
  return count;
}

}  // namespace bf::test
