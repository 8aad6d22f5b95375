// Tally, decision and reputation benchmarks (core/tally.hpp, core/reputation.hpp).
//
// Every benchmark: inputs built in setup from bench::input_seed, results through
// benchmark::DoNotOptimize, allocations counted around the timed loop only (bench/alloc_counter.hpp).
// Group sizes n = 4 (f = 1, q = 3) and n = 16 (f = 5, q = 11); see bench/inputs.hpp for the round.
#include <array>
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/alloc_counter.hpp"
#include "bench/inputs.hpp"
#include "core/reputation.hpp"
#include "core/tally.hpp"

namespace bf::bench {
namespace {

// Runs the round once outside any timed loop and checks it decides the honest answer, so a
// benchmark never silently times an error or a different path than the one documented.
bool round_decides(const RoundInputs& round) {
  core::Tally tally(round.membership.n);
  for (const core::WorkerIndex w : round.arrival) {
    if (tally.record(w, round.answer_of[w]).status != core::RecordStatus::recorded) return false;
  }
  const core::Decision d = core::decide(tally, round.membership, round.status);
  return d.outcome == core::Outcome::decided && d.support == round.membership.q;
}

// tally_record/n: one iteration is one Tally::record of a first vote. The n votes of a round are
// recorded in arrival order; after the n-th the tally is replaced by a fresh Tally(n), so each
// vote also carries 1/n of a fresh tally's cost (measured alone as tally_fresh).
void BM_tally_record(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const RoundInputs round = make_round(n, input_seed + n);
  if (!round_decides(round)) return state.SkipWithError("round does not decide");
  core::Tally tally(n);
  std::uint32_t next = 0;
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    if (next == n) {
      tally = core::Tally(n);
      next = 0;
    }
    const core::WorkerIndex w = round.arrival[next++];
    core::RecordResult result = tally.record(w, round.answer_of[w]);
    benchmark::DoNotOptimize(result);
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations());  // votes
}

// tally_fresh/n: constructing an empty Tally(n) (a fixed-capacity value of 64 clusters).
void BM_tally_fresh(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Tally tally(n);
    benchmark::DoNotOptimize(tally);
  }
  report_allocs(state, before);
  state.counters["tally_bytes"] = benchmark::Counter(static_cast<double>(sizeof(core::Tally)));
}

// tally_decide/n: reading the decision state: decide() on a tally that already holds all n votes
// (decided with exactly q signers). Pure, so this is the cost of every re-check of a round.
void BM_tally_decide(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const RoundInputs round = make_round(n, input_seed + n);
  if (!round_decides(round)) return state.SkipWithError("round does not decide");
  core::Tally tally(n);
  for (const core::WorkerIndex w : round.arrival) (void)tally.record(w, round.answer_of[w]);
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Decision d = core::decide(tally, round.membership, round.status);
    benchmark::DoNotOptimize(d);
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations());  // decisions
}

// round_decide/n: a whole round's decision: fresh Tally(n), record the n votes, decide().
void BM_round_decide(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const RoundInputs round = make_round(n, input_seed + n);
  if (!round_decides(round)) return state.SkipWithError("round does not decide");
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    core::Tally tally(n);
    for (const core::WorkerIndex w : round.arrival) {
      core::RecordResult result = tally.record(w, round.answer_of[w]);
      benchmark::DoNotOptimize(result);
    }
    core::Decision d = core::decide(tally, round.membership, round.status);
    benchmark::DoNotOptimize(d);
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations());  // decisions (each of n votes)
}

// reputation_update: one reputation_update step on one worker, events from a fixed sequence of
// 1,024 (about 75% agree, 15% disagree, 9% timeout, 1% equivocate). The steps are chained (each
// takes the previous result), so this is latency, not throughput.
void BM_reputation_update(benchmark::State& state) {
  SplitMix64 rng(input_seed ^ 0x7E9);
  std::array<core::ReputationEvent, 1024> events{};
  for (auto& event : events) {
    const std::uint64_t roll = rng.below(100);
    event = roll < 75   ? core::ReputationEvent::agree
            : roll < 90 ? core::ReputationEvent::disagree
            : roll < 99 ? core::ReputationEvent::timeout
                        : core::ReputationEvent::equivocate;
  }
  core::Reputation reputation;
  std::size_t i = 0;
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    reputation = core::reputation_update(reputation, events[i++ & (events.size() - 1)]);
    benchmark::DoNotOptimize(reputation);
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations());  // updates
}

// reputation_round/n: the reputation step after a decided round for all n workers: agree for the
// decided cluster's signers, disagree for the other responders, timeout for the rest.
void BM_reputation_round(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const RoundInputs round = make_round(n, input_seed + n);
  core::Tally tally(n);
  for (std::uint32_t k = 0; k + 1 < n; ++k) {  // the last worker times out
    const core::WorkerIndex w = round.arrival[k];
    (void)tally.record(w, round.answer_of[w]);
  }
  const core::Decision d = core::decide(tally, round.membership, round.status);
  const core::SignerMask signers = d.signers;
  const core::SignerMask responders = tally.responders();
  std::vector<core::Reputation> reputations(n);
  const AllocCounts before = alloc_counts();
  for (auto _ : state) {
    for (std::uint32_t w = 0; w < n; ++w) {
      const core::SignerMask me = core::SignerMask{1} << w;
      const core::ReputationEvent event = (signers & me) != 0      ? core::ReputationEvent::agree
                                          : (responders & me) != 0 ? core::ReputationEvent::disagree
                                                                   : core::ReputationEvent::timeout;
      reputations[w] = core::reputation_update(reputations[w], event);
    }
    benchmark::DoNotOptimize(reputations.data());
    benchmark::ClobberMemory();
  }
  report_allocs(state, before);
  state.SetItemsProcessed(state.iterations() * n);  // updates
}

BENCHMARK(BM_tally_record)->ArgName("n")->Arg(4)->Arg(16);
BENCHMARK(BM_tally_fresh)->ArgName("n")->Arg(4)->Arg(16);
BENCHMARK(BM_tally_decide)->ArgName("n")->Arg(4)->Arg(16);
BENCHMARK(BM_round_decide)->ArgName("n")->Arg(4)->Arg(16);
BENCHMARK(BM_reputation_update);
BENCHMARK(BM_reputation_round)->ArgName("n")->Arg(4)->Arg(16);

}  // namespace
}  // namespace bf::bench
