// Quorum arithmetic properties (spec/invariants.md Q1; Q3 is in tally_properties.cpp because it
// is about reaching a decision through the tally).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/quorum.hpp"
#include "tests/property/support.hpp"

namespace bf::test {
namespace {

using core::Membership;
using core::signer_count;

// The smallest q with (a) q >= 2f+1 and (b) two q-sets of n workers sharing >= f+1 workers,
// found by search, not by the formula under test.
std::uint64_t smallest_safe_quorum_by_search(std::uint64_t n, std::uint64_t f) {
  for (std::uint64_t q = 1; q <= n; ++q) {
    const std::uint64_t least_overlap = 2 * q > n ? 2 * q - n : 0;
    if (q >= 2 * f + 1 && least_overlap >= f + 1) return q;
  }
  return 0;  // none: only when 3f >= n
}

// Q1: for every safe membership, any two quorums share at least f+1 workers. The two quorums are
// drawn adversarially (the second avoids the first as far as it can, so the overlap is the least
// possible, 2q - n) and also at random; and q is the smallest size with that property, so the
// check is not passed by an oversized quorum.
RC_GTEST_PROP(Quorum, Q1_any_two_quorums_share_f_plus_1, ()) {
  const Membership m = gen_membership();
  const SignerMask everyone = all_workers(m.n);

  const SignerMask a = random_subset_of(everyone, m.q);
  // The adversary's quorum: as many workers outside `a` as possible, the rest from inside it.
  const std::uint32_t outside = std::min(m.q, m.n - m.q);
  const SignerMask b = random_subset_of(everyone & ~a, outside) | random_subset_of(a, m.q - outside);
  const SignerMask c = random_subset_of(everyone, m.q);
  RC_ASSERT(signer_count(b) == m.q);
  RC_TAG(signer_count(a & b) == m.f + 1 ? "overlap exactly f+1" : "overlap above f+1");

  RC_ASSERT(signer_count(a & b) >= m.f + 1);
  RC_ASSERT(signer_count(a & c) >= m.f + 1);
  RC_ASSERT(signer_count(b & c) >= m.f + 1);
  // ... so each pair of quorums shares an honest worker, whichever f are Byzantine.
  const SignerMask byzantine = random_subset_of(everyone, m.f);
  RC_ASSERT(signer_count(a & b & ~byzantine) >= 1);

  // Minimality: one fewer is either below 2f+1 or admits two (q-1)-sets sharing only f workers.
  RC_ASSERT(m.q == smallest_safe_quorum_by_search(m.n, m.f));
  RC_ASSERT(m.q >= 1);
  const std::uint32_t smaller = m.q - 1;
  const std::uint32_t least_overlap = 2 * smaller > m.n ? 2 * smaller - m.n : 0;
  RC_ASSERT(smaller < 2 * m.f + 1 || least_overlap <= m.f);
}

// The formula beyond the 64-worker group limit (it is also used by `butterfly quorum table`):
// quorum_safe equals the searched smallest safe quorum, quorum_is_safe accepts it, and the seed's
// 2f+1 is judged safe exactly when n <= 3f+1.
RC_GTEST_PROP(Quorum, SafeFormulaIsTheSmallestSafeQuorumForLargeGroups, ()) {
  const auto n = *rc::gen::inRange<std::uint32_t>(1, 20'001);
  const std::uint32_t f = *rc::gen::inRange<std::uint32_t>(0, core::faults_max(n) + 1);
  const std::uint32_t q = core::quorum_safe(n, f);
  RC_ASSERT(q == smallest_safe_quorum_by_search(n, f));
  RC_ASSERT(core::quorum_is_safe(n, f, q));
  RC_ASSERT(q == 1 || !core::quorum_is_safe(n, f, q - 1));
  RC_ASSERT(core::quorum_is_safe(n, f, core::quorum_seed(n, f)) == (n <= 3 * f + 1));
}

}  // namespace
}  // namespace bf::test
