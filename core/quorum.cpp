#include "core/quorum.hpp"

#include <string>

#include "core/contract.hpp"
#include "core/limits.hpp"

namespace bf::core {

const char* quorum_rule_name(QuorumRule rule) noexcept {
  return rule == QuorumRule::safe ? "safe" : "seed-2f+1";
}

Result<Membership> make_membership(std::uint32_t n, std::uint32_t f, QuorumRule rule,
                                   bool allow_unsafe_rule) {
  if (n == 0) {
    return Error{Errc::invalid_membership, "a membership needs at least one worker (n = 0 given)"};
  }
  if (n > limits::workers_max) {
    return Error{Errc::too_many_workers,
                 "n = " + std::to_string(n) + " exceeds the group limit of " +
                     std::to_string(limits::workers_max) +
                     " workers; shard the workers into several consensus groups"};
  }
  if (3 * static_cast<std::uint64_t>(f) >= n) {
    return Error{Errc::invalid_membership,
                 "f = " + std::to_string(f) + " is not below n/3 for n = " + std::to_string(n) +
                     "; Byzantine tolerance needs 3f < n, so use f <= " +
                     std::to_string(faults_max(n)) + " or add workers"};
  }
  const std::uint32_t q = quorum_of(rule, n, f);
  if (!quorum_is_safe(n, f, q) && !allow_unsafe_rule) {
    return Error{Errc::invalid_membership,
                 std::string("quorum rule ") + quorum_rule_name(rule) + " gives q = " +
                     std::to_string(q) + " for n = " + std::to_string(n) + ", f = " +
                     std::to_string(f) + ", which lets two conflicting answers both decide; use " +
                     "the safe rule (q = " + std::to_string(quorum_safe(n, f)) + ")"};
  }
  Membership m{n, f, q, rule};
  BF_ENSURE("Q3", rule != QuorumRule::safe || m.q + m.f <= m.n);
  BF_ENSURE("Q1", rule != QuorumRule::safe || 2 * m.q >= m.n + m.f + 1);
  return m;
}

}  // namespace bf::core
