// Certificate benchmarks (issue 4): encode, decode and full verification without Z3 for n = 4, 7
// and 16. Each group's certificate is produced once in setup by the real producer (core tally,
// decide and median fusion, Ed25519 signatures from fixed seeds): every worker answers 42 except
// f Byzantine workers who answer 9000 and are outvoted. Verification dominates: n + 1 Ed25519
// signature checks per certificate. These benchmarks allocate (the auditor builds its report);
// they are not in the zero-allocation set.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/alloc_counter.hpp"
#include "core/quorum.hpp"
#include "runtime/auditor.hpp"
#include "runtime/producer.hpp"

namespace bf::bench {
namespace {

namespace cc = core::cert;
using runtime::Bytes;

struct CertFixture {
  runtime::Membership membership;
  runtime::Produced produced;
  bool ok = false;
};

CertFixture make_fixture(std::uint32_t n) {
  CertFixture fx;
  const std::uint32_t f = core::faults_max(n);
  std::vector<runtime::Keypair> keys;
  std::vector<cc::MemberKey> members;
  for (std::uint32_t i = 0; i < n; ++i) {
    runtime::Seed seed{};
    seed.fill(static_cast<std::uint8_t>(i + 1));
    keys.push_back(runtime::keypair_from_seed(seed));
    // Zero-padded so the membership's sort by id keeps worker index order.
    members.push_back({(i < 10 ? "w0" : "w") + std::to_string(i), keys.back().public_key});
  }
  runtime::Seed head_seed{};
  head_seed.fill(0x7f);
  const runtime::Keypair head = runtime::keypair_from_seed(head_seed);
  auto membership = runtime::make_membership_record("bench", 1, f, head.public_key, members);
  if (!membership) return fx;
  fx.membership = std::move(membership.value());

  runtime::ProduceRequest req;
  req.membership = &fx.membership;
  req.worker_keys = keys;
  req.head_key = head;
  const std::string query = "What is six times seven?";
  req.query = Bytes(query.begin(), query.end());
  req.agreement = cc::AgreementRule::numeric;
  req.rule = core::fusion::RuleId::median;
  runtime::RoundInput round;
  round.reachable = n;
  for (std::uint32_t w = 0; w < n; ++w) {
    const std::int64_t micro = w < n - f ? 42'000'000 : 9'000'000'000;
    round.answers.emplace_back(w, cc::i64_bytes(micro));
  }
  req.rounds = {round};
  auto produced = runtime::produce_certificate(req);
  if (!produced || produced->certificate.outcome != core::Outcome::decided) return fx;
  fx.produced = std::move(produced.value());
  fx.ok = runtime::verify_certificate(fx.produced.bytes, fx.membership).ok();
  return fx;
}

void BM_cert_encode(benchmark::State& state) {
  const CertFixture fx = make_fixture(static_cast<std::uint32_t>(state.range(0)));
  if (!fx.ok) return state.SkipWithError("fixture certificate does not verify");
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    auto bytes = cc::encode_certificate(fx.produced.certificate);
    benchmark::DoNotOptimize(bytes);
  }
  report_allocs(state, before);
  state.counters["bytes"] = static_cast<double>(fx.produced.bytes.size());
}

void BM_cert_decode(benchmark::State& state) {
  const CertFixture fx = make_fixture(static_cast<std::uint32_t>(state.range(0)));
  if (!fx.ok) return state.SkipWithError("fixture certificate does not verify");
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    auto c = cc::decode_certificate(fx.produced.bytes);
    benchmark::DoNotOptimize(c);
  }
  report_allocs(state, before);
  state.counters["bytes"] = static_cast<double>(fx.produced.bytes.size());
}

void BM_cert_verify(benchmark::State& state) {
  const CertFixture fx = make_fixture(static_cast<std::uint32_t>(state.range(0)));
  if (!fx.ok) return state.SkipWithError("fixture certificate does not verify");
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    runtime::Report r = runtime::verify_certificate(fx.produced.bytes, fx.membership);
    if (!r.ok()) return state.SkipWithError("verification failed inside the loop");
    benchmark::DoNotOptimize(r);
  }
  report_allocs(state, before);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));  // verifies per second
  state.counters["bytes"] = static_cast<double>(fx.produced.bytes.size());
}

BENCHMARK(BM_cert_encode)->ArgName("n")->Arg(4)->Arg(7)->Arg(16);
BENCHMARK(BM_cert_decode)->ArgName("n")->Arg(4)->Arg(7)->Arg(16);
BENCHMARK(BM_cert_verify)->ArgName("n")->Arg(4)->Arg(7)->Arg(16);

}  // namespace
}  // namespace bf::bench
