// The Z3 models of core/ functions, exposed so tests can evaluate them on concrete inputs and
// compare with the C++ code (differential tests): the proof is only as good as the model's
// faithfulness, and these tie the two together. Each evaluates the very term the obligations use.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace bf::verified::model {

struct ReputationOut {
  std::uint32_t value = 0;
  bool isolated = false;
};
// core::reputation_update; event is the core::ReputationEvent value (0 agree ... 3 equivocate).
ReputationOut reputation_update(std::uint32_t value, bool isolated, unsigned event);

struct TallyState {
  std::uint64_t responders = 0, equivocators = 0, cluster_signers = 0;
};
// core::Tally::record's effect on the masks for worker w; same_answer: w's new answer equals the
// one it already gave (only meaningful when w already responded). cluster_signers is the mask of
// the cluster w's recorded answer belongs to (or would join).
TallyState tally_record(TallyState s, std::uint32_t w, bool same_answer);

struct MemberIn {
  std::uint32_t worker = 0;
  std::uint32_t reputation = 0;
};
// core::fusion::weights_from_reputation; nullopt when the model's width checks fire.
std::optional<std::vector<std::uint32_t>> weights_from_reputation(const std::vector<MemberIn>& members);

// core::fusion::fuse_mean (any vocabulary size here); nullopt when a width check fires.
std::optional<std::vector<std::uint32_t>> fuse_mean(const std::vector<std::uint32_t>& weights,
                                                    const std::vector<std::vector<std::uint32_t>>& dists);

// core::fusion::fuse_median and fuse_trimmed_mean (integer models); nullopt when a width check fires.
std::optional<std::int64_t> fuse_median(const std::vector<std::int64_t>& values);
std::optional<std::int64_t> fuse_trimmed_mean(const std::vector<std::int64_t>& values, std::uint32_t trim);

// core::fixed::exp2_q31's Q62 fraction product (integer model) and final rounding (bit-vector
// model), composed; x in [log2_min, 0].
std::uint32_t exp2_q31(std::int32_t x);

}  // namespace bf::verified::model
