#include "runtime/fusion_replay.hpp"

#include <string>
#include <vector>

namespace bf::runtime {

namespace cc = core::cert;
namespace fusion = core::fusion;

core::Result<cc::Bytes> fuse_decided_cluster(const cc::Certificate& c, fusion::RuleId rule,
                                             std::uint32_t trim) {
  std::vector<const cc::SignedAnswer*> cluster;
  for (const auto& a : c.rounds.back().answers) {
    if (((c.decided_signers >> a.worker) & 1U) != 0) cluster.push_back(&a);
  }
  const auto count = static_cast<std::uint32_t>(cluster.size());
  if (auto ok = fusion::check_admissible(rule, count, c.f, trim); !ok) return ok.error();
  if (rule == fusion::RuleId::weighted_vote) {
    std::vector<fusion::Member> members;
    std::vector<core::AnswerId> ids;
    for (const auto* a : cluster) {
      members.push_back({a->worker, c.reputation[a->worker].value});
      ids.push_back(a->answer);
    }
    auto vote = fusion::weighted_vote(members, ids);
    if (!vote) return vote.error();
    return cc::Bytes(vote->answer.begin(), vote->answer.end());
  }
  if (rule != fusion::RuleId::median && rule != fusion::RuleId::trimmed_mean) {
    return core::Error{core::Errc::invalid_argument, std::string("fusion rule ") +
                                                         fusion::rule_name(rule) +
                                                         " is not certified in version 1"};
  }
  if (c.agreement != cc::AgreementRule::numeric) {
    return core::Error{core::Errc::invalid_argument, "numeric fusion needs the numeric agreement rule"};
  }
  std::vector<std::int64_t> values, scratch(cluster.size());
  for (const auto* a : cluster) {
    auto v = cc::i64_from(a->payload, "a numeric answer");
    if (!v) return v.error();
    values.push_back(*v);
  }
  auto fused = rule == fusion::RuleId::median ? fusion::fuse_median(values, scratch)
                                              : fusion::fuse_trimmed_mean(values, trim, scratch);
  if (!fused) return fused.error();
  return cc::i64_bytes(*fused);
}

}  // namespace bf::runtime
