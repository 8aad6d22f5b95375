// The fused output of a decided certificate, computed by core fusion over exactly the decided
// cluster's signed answers. The producer writes it and the auditor recomputes it with this same
// function, so the two cannot drift apart on how a rule reads its inputs.
#pragma once

#include <cstdint>

#include "core/certificate.hpp"
#include "core/fusion.hpp"

namespace bf::runtime {

// Needs c.outcome decided, c.decided_signers, c.rounds, c.reputation, c.f and c.agreement set.
// rule: weighted-vote (over answer ids), median or trimmed-mean (numeric payloads, micro-units).
core::Result<core::cert::Bytes> fuse_decided_cluster(const core::cert::Certificate& c,
                                                      core::fusion::RuleId rule, std::uint32_t trim);

}  // namespace bf::runtime
