// OpenBLAS "only where it wins" (issue 6): the same matrix product y = W x for n tokens three ways,
// on the models' own weight matrices:
//   BM_blas_openblas  cblas_sgemm on the weights dequantized to F32 (OpenBLAS, pthreads)
//   BM_blas_own_f32   Butterfly's F32 matmul (model::matmul on an F32 Matrix: stories260K's path)
//   BM_blas_own_file  Butterfly's matmul on the weights in their file type (SmolLM2: Q4_1 kernels
//                     with Q8 activations, quantization included, as in the forward pass)
// Shapes: SmolLM2-135M (576x576 wq, 1536x576 gate, 576x1536 down, 49152x576 output head) and
// stories260K (64x64 wq, 32x64 wk, 172x64 gate, 64x172 down, 512x64 output), at 1, 4, 64 (the
// forward pass's prefill batch, prefill_batch_max), 128 and 512 tokens. Threads: $BF_BENCH_THREADS
// (default 2) for both Butterfly's pool and OpenBLAS.
// Counter GFLOP_per_s = 2 rows cols n per second of real time. A model that is absent, or a build
// without OpenBLAS (pkg-config openblas), skips its entries with the reason.
// Run: build/bin/bf_bench_core --benchmark_filter=BM_blas --benchmark_min_time=0.5
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "model/kernels.hpp"
#include "model/llama.hpp"
#include "model/model_paths.hpp"
#include "bench/model_common.hpp"

#if BF_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace bf::bench {
namespace {

namespace bm = model;


bm::ThreadPool& pool() {
  static bm::ThreadPool p(bench_threads());
  return p;
}

struct Loaded {
  std::optional<bm::Model> model;
  std::string why_absent;
};

Loaded load(bool smollm2) {
  Loaded out;
  const std::string root = source_root();
  const auto path = smollm2 ? bm::smollm2_path(root) : bm::stories260k_path(root);
  if (!path) {
    out.why_absent = smollm2 ? "SmolLM2 GGUF absent: run scripts/fetch-model" : "stories260K.bin not found";
    return out;
  }
  auto m = smollm2 ? bm::Model::load_gguf(*path) : bm::Model::load_llama2c(*path);
  if (m) out.model.emplace(std::move(m.value())); else out.why_absent = m.error().message;
  return out;
}

const Loaded& smollm2() {
  static const Loaded l = load(true);
  return l;
}
const Loaded& stories() {
  static const Loaded l = load(false);
  return l;
}

// One benchmarked matrix: which model, which of its matrices, and the shape the name promises.
struct Case {
  bool smollm2;
  const char* role;  // wq, wk, gate, down, output
  std::size_t rows;
  std::size_t cols;
};

const bm::Matrix& pick(const bm::Model& m, const char* role) {
  const bm::LayerWeights& l = m.layers()[0];
  const std::string r = role;
  if (r == "wq") return l.wq;
  if (r == "wk") return l.wk;
  if (r == "gate") return l.w_gate;
  if (r == "down") return l.w_down;
  return m.output();
}

// The matrix in its file type, and the same values as F32 (dequantized once, outside the timing).
struct Weights {
  const bm::Matrix* file = nullptr;
  std::vector<float> f32;
  bm::Matrix f32_matrix;
};

const Weights* weights(benchmark::State& state, const Case& c) {
  const Loaded& l = c.smollm2 ? smollm2() : stories();
  if (!l.model) {
    state.SkipWithError(l.why_absent.c_str());
    return nullptr;
  }
  static std::map<std::string, std::unique_ptr<Weights>> cache;
  const std::string key = std::string(c.smollm2 ? "s" : "t") + c.role;
  auto& slot = cache[key];
  if (!slot) {
    slot = std::make_unique<Weights>();
    const bm::Matrix& w = pick(*l.model, c.role);
    slot->file = &w;
    slot->f32.resize(w.rows * w.cols);
    for (std::size_t r = 0; r < w.rows; ++r) {
      bm::dequantize_row(w.type, w.row(r), w.cols, slot->f32.data() + r * w.cols);
    }
    slot->f32_matrix = bm::Matrix{bm::GgmlType::f32, w.rows, w.cols, w.cols * 4,
                                  {reinterpret_cast<const std::uint8_t*>(slot->f32.data()), w.rows * w.cols * 4}};
  }
  if (slot->file->rows != c.rows || slot->file->cols != c.cols) {
    state.SkipWithError("the model's matrix has another shape than this entry's name");
    return nullptr;
  }
  return slot.get();
}

std::vector<float> activations(std::size_t n, std::size_t cols) {
  std::vector<float> x(n * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37F * static_cast<float>(i));
  return x;
}

void finish(benchmark::State& state, const Case& c, std::size_t n) {
  state.counters["GFLOP_per_s"] = benchmark::Counter(
      2.0 * static_cast<double>(c.rows * c.cols * n) * static_cast<double>(state.iterations()) * 1e-9,
      benchmark::Counter::kIsRate);
  state.counters["threads"] = static_cast<double>(bench_threads());
}

enum class Way { openblas, own_f32, own_file };

void run(benchmark::State& state, Case c, std::size_t n, Way way) {
  const Weights* w = weights(state, c);
  if (w == nullptr) return;
  const auto x = activations(n, c.cols);
  std::vector<float> y(n * c.rows);
  std::vector<bm::BlockQ8> q8;
  if (way == Way::openblas) {
#if BF_HAVE_OPENBLAS
    openblas_set_num_threads(static_cast<int>(bench_threads()));
    // y (n x rows) = x (n x cols) * W^T, W row-major rows x cols.
    for (auto _ : state) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(c.rows),
                  static_cast<int>(c.cols), 1.0F, x.data(), static_cast<int>(c.cols), w->f32.data(),
                  static_cast<int>(c.cols), 0.0F, y.data(), static_cast<int>(c.rows));
      benchmark::DoNotOptimize(y.data());
    }
#else
    state.SkipWithError("built without OpenBLAS (pkg-config openblas not found; scripts/setup installs it)");
    return;
#endif
  } else {
    const bm::Matrix& m = way == Way::own_f32 ? w->f32_matrix : *w->file;
    state.SetLabel(std::string(bm::ggml_type_name(m.type)));
    for (auto _ : state) {
      bm::matmul(pool(), m, x.data(), n, y.data(), q8);
      benchmark::DoNotOptimize(y.data());
    }
  }
  finish(state, c, n);
}

// Registered at start-up so each entry's name carries the model and the shape.
[[maybe_unused]] const bool registered = [] {
  const Case cases[] = {
      {true, "wq", 576, 576},   {true, "gate", 1536, 576}, {true, "down", 576, 1536}, {true, "output", 49152, 576},
      {false, "wq", 64, 64},    {false, "wk", 32, 64},     {false, "gate", 172, 64},  {false, "down", 64, 172},
      {false, "output", 512, 64}};
  const struct {
    const char* name;
    Way way;
  } ways[] = {{"BM_blas_openblas", Way::openblas},
              {"BM_blas_own_f32", Way::own_f32},
              {"BM_blas_own_file", Way::own_file}};
  for (const auto& way : ways) {
    for (const Case& c : cases) {
      if (!c.smollm2 && way.way == Way::own_file) continue;  // stories260K's file type is F32: own_f32
      for (const std::size_t n : {1U, 4U, 64U, 128U, 512U}) {
        const std::string name = std::string(way.name) + "/" + (c.smollm2 ? "smollm2_" : "stories260k_") + c.role +
                                 "_" + std::to_string(c.rows) + "x" + std::to_string(c.cols) +
                                 "/tokens:" + std::to_string(n);
        const Way wy = way.way;
        benchmark::RegisterBenchmark(name.c_str(), [c, n, wy](benchmark::State& s) { run(s, c, n, wy); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace bf::bench
