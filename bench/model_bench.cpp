// CPU model runtime (model/): prefill of 128 and 512 tokens and decode, in tokens/s, for
// stories260K (llama2.c, F32) and SmolLM2-135M-Instruct (GGUF Q4_1); a model that is absent is
// skipped with the reason. Threads: $BF_BENCH_THREADS (default 2, the CI machine's cores).
// Fixed inputs: token ids 1 + (i * 37) mod 500, the same for every run.
// Run: build/bin/bf_bench_core --benchmark_filter=BM_model --benchmark_min_time=2
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "model/llama.hpp"
#include "model/model_paths.hpp"
#include "bench/model_common.hpp"

namespace bf::bench {
namespace {

namespace bm = model;


struct Loaded {
  std::optional<bm::Model> model;
  std::string why_absent;
};

// find(source tree) locates the model's file, load(path) reads it; `absent` says why when there is
// no file.
Loaded load_model(const auto& find, const auto& load, const char* absent) {
  Loaded out;
  const auto path = find(source_root());
  if (!path) {
    out.why_absent = absent;
    return out;
  }
  auto m = load(*path);
  if (m) out.model.emplace(std::move(m.value())); else out.why_absent = m.error().message;
  return out;
}

const Loaded& stories() {
  static const Loaded l = load_model(bm::stories260k_path, bm::Model::load_llama2c,
                                     "stories260K.bin not found (set BUTTERFLY_STORIES260K)");
  return l;
}

const Loaded& smollm2() {
  static const Loaded l = load_model(bm::smollm2_path, bm::Model::load_gguf,
                                     "SmolLM2 GGUF absent: run scripts/fetch-model (or set BUTTERFLY_MODELS)");
  return l;
}

// A benchmark whose model is absent is skipped with the reason.
bool skipped_absent(benchmark::State& state, const Loaded& l) {
  if (!l.model) state.SkipWithError(l.why_absent.c_str());
  return !l.model;
}

// tokens_per_s counts `tokens_per_iteration` (every sequence's) per second of real time.
void count_tokens(benchmark::State& state, std::size_t tokens_per_iteration, const bm::ThreadPool& pool) {
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(tokens_per_iteration * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["threads"] = static_cast<double>(pool.size());
}

std::vector<std::int32_t> prompt(std::size_t n) {
  std::vector<std::int32_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<std::int32_t>(1 + (i * 37) % 500);
  return ids;
}

void prefill(benchmark::State& state, const Loaded& l) {
  if (skipped_absent(state, l)) return;
  const auto n = static_cast<std::size_t>(state.range(0));
  bm::ThreadPool pool(bench_threads());
  bm::Session session(*l.model, pool, n);
  const auto ids = prompt(n);
  for (auto _ : state) {
    session.reset();
    auto out = session.forward(ids);
    benchmark::DoNotOptimize(out);
  }
  count_tokens(state, n, pool);
}

// Decode: one token at a time from an empty cache up to `n` positions, so attention lengths
// average n / 2.
void decode(benchmark::State& state, const Loaded& l) {
  if (skipped_absent(state, l)) return;
  const auto n = static_cast<std::size_t>(state.range(0));
  bm::ThreadPool pool(bench_threads());
  bm::Session session(*l.model, pool, n);
  const auto ids = prompt(n);
  for (auto _ : state) {
    session.reset();
    for (const auto id : ids) {
      auto out = session.forward(std::span<const std::int32_t>(&id, 1));
      benchmark::DoNotOptimize(out);
    }
  }
  count_tokens(state, n, pool);
}

// Decode of `batch` sequences together (Session::decode_batch), 64 steps each from an empty cache;
// tokens_per_s counts the tokens of all sequences.
void decode_batched(benchmark::State& state, const Loaded& l) {
  if (skipped_absent(state, l)) return;
  const auto batch = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t steps = 64;
  bm::ThreadPool pool(bench_threads());
  std::vector<std::unique_ptr<bm::Session>> sessions;
  std::vector<bm::Session*> ptrs;
  for (std::size_t i = 0; i < batch; ++i) {
    sessions.push_back(std::make_unique<bm::Session>(*l.model, pool, steps));
    ptrs.push_back(sessions.back().get());
  }
  const auto ids = prompt(steps * batch);
  for (auto _ : state) {
    for (auto* s : ptrs) s->reset();
    for (std::size_t step = 0; step < steps; ++step) {
      auto st = bm::Session::decode_batch(ptrs, std::span<const std::int32_t>(ids).subspan(step * batch, batch));
      benchmark::DoNotOptimize(st);
    }
  }
  count_tokens(state, steps * batch, pool);
}

void BM_model_prefill_stories260k(benchmark::State& s) { prefill(s, stories()); }
void BM_model_decode_stories260k(benchmark::State& s) { decode(s, stories()); }
void BM_model_prefill_smollm2(benchmark::State& s) { prefill(s, smollm2()); }
void BM_model_decode_smollm2(benchmark::State& s) { decode(s, smollm2()); }
void BM_model_decode_batch_smollm2(benchmark::State& s) { decode_batched(s, smollm2()); }

BENCHMARK(BM_model_prefill_stories260k)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_model_decode_stories260k)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_model_prefill_smollm2)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_model_decode_smollm2)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_model_decode_batch_smollm2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace bf::bench
