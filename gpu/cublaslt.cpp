// cuBLASLt wrapper (gpu/cublaslt.hpp).
//
// Row-major y[m, n] = x[m, k] . w[n, k]^T is, in cuBLASLt's column-major terms,
// Y (n x m, ld n) = W^T (n x k) . X (k x m), where W is w seen column-major (k x n, ld k) and X is
// x seen column-major (k x m, ld k): transa = T, transb = N, the "TN" layout the tensor-core
// kernels prefer. No data moves; only the interpretation changes.
#include "gpu/cublaslt.hpp"

#include <string>

#include "gpu/check.hpp"

namespace bf::gpu {

const char* data_type_name(DataType type) noexcept {
  switch (type) {
    case DataType::bf16: return "bf16";
    case DataType::fp16: return "fp16";
    case DataType::f32: return "f32";
  }
  return "?";
}

namespace {

cudaDataType_t cuda_type(DataType type) {
  switch (type) {
    case DataType::bf16: return CUDA_R_16BF;
    case DataType::fp16: return CUDA_R_16F;
    case DataType::f32: return CUDA_R_32F;
  }
  return CUDA_R_32F;
}

using Desc = Owned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using Layout = Owned<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;
using Preference = Owned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>;

std::string describe(const MatmulShape& s) {
  return "[m, n, k]=" + shape_string({s.m, s.n, s.k}) + " " + data_type_name(s.input) + " -> " +
         data_type_name(s.output);
}

Result<Layout> make_layout(cudaDataType_t type, std::size_t rows, std::size_t cols, std::size_t ld,
                           const std::string& shape) {
  cublasLtMatrixLayout_t raw = nullptr;
  BF_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&raw, type, rows, cols, static_cast<std::int64_t>(ld)), shape);
  return Layout(raw);
}

}  // namespace

struct BlasLt::Plan {
  Desc op;
  Layout a;  // W: k x n, transposed
  Layout b;  // X: k x m
  Layout d;  // Y: n x m (also C; beta is 0)
  cublasLtMatmulAlgo_t algo{};
};

Result<BlasLt> BlasLt::create(void* workspace, std::size_t workspace_bytes) {
  if ((workspace == nullptr) != (workspace_bytes == 0)) {
    return invalid("BlasLt::create: give both a workspace and its size, or neither");
  }
  BlasLt blas;
  BF_CUBLAS_CHECK(cublasLtCreate(blas.handle_.out()), "");
  blas.workspace_ = workspace;
  blas.workspace_bytes_ = workspace_bytes;
  return blas;
}

BlasLt::BlasLt(BlasLt&&) noexcept = default;
BlasLt& BlasLt::operator=(BlasLt&&) noexcept = default;  // plans_ first (cublaslt.hpp)
BlasLt::~BlasLt() { plans_.clear(); }  // descriptors before the handle

std::size_t BlasLt::cached_plans() const noexcept { return plans_.size(); }

Result<const BlasLt::Plan*> BlasLt::plan_for(const MatmulShape& s) {
  if (auto found = plans_.find(s); found != plans_.end()) return found->second.get();
  const std::string shape = describe(s);
  if (s.m == 0 || s.n == 0 || s.k == 0 || s.m > matmul_dim_max || s.n > matmul_dim_max || s.k > matmul_dim_max ||
      s.input == DataType::f32 || (s.output != DataType::f32 && s.output != s.input)) {
    return invalid("BlasLt::linear: " + shape + "; need dimensions 1.." + std::to_string(matmul_dim_max) +
                   ", bf16 or fp16 inputs, and an f32 output or one of the input type");
  }
  if (plans_.size() >= matmul_plans_max) {
    return invalid("BlasLt::linear: " + shape + " would be plan " + std::to_string(plans_.size() + 1) +
                   " beyond the cache limit of " + std::to_string(matmul_plans_max) +
                   "; the shapes of one model are few, so this is a caller bug");
  }

  auto plan = std::make_unique<Plan>();
  cublasLtMatmulDesc_t op = nullptr;
  BF_CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F), shape);
  plan->op = Desc(op);
  const cublasOperation_t transpose = CUBLAS_OP_T;
  const cublasOperation_t keep = CUBLAS_OP_N;
  BF_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof transpose),
                  shape);
  BF_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof keep), shape);

  auto a = make_layout(cuda_type(s.input), s.k, s.n, s.k, shape);
  if (!a) return a.error();
  auto b = make_layout(cuda_type(s.input), s.k, s.m, s.k, shape);
  if (!b) return b.error();
  auto d = make_layout(cuda_type(s.output), s.n, s.m, s.n, shape);
  if (!d) return d.error();
  plan->a = std::move(a.value());
  plan->b = std::move(b.value());
  plan->d = std::move(d.value());

  cublasLtMatmulPreference_t raw_preference = nullptr;
  BF_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&raw_preference), shape);
  const Preference preference(raw_preference);
  const std::uint64_t workspace_bytes = workspace_bytes_;
  BF_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(raw_preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                       &workspace_bytes, sizeof workspace_bytes),
                  shape);
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  BF_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle_.get(), op, plan->a.get(), plan->b.get(), plan->d.get(),
                                                 plan->d.get(), raw_preference, 1, &result, &found),
                  shape);
  if (found == 0) {
    return Error{Errc::cublas, "BlasLt::linear: cuBLASLt has no algorithm for " + shape + " within a " +
                                   std::to_string(workspace_bytes_) + "-byte workspace"};
  }
  plan->algo = result.algo;
  const Plan* raw = plan.get();
  plans_.emplace(s, std::move(plan));
  return raw;
}

Status BlasLt::linear(const MatmulShape& shape, const void* x, const void* w, void* y, cudaStream_t stream) {
  auto plan = plan_for(shape);
  if (!plan) return plan.error();
  const Plan& p = **plan;
  const float alpha = 1.0f;
  const float beta = 0.0f;
  BF_CUBLAS_CHECK(cublasLtMatmul(handle_.get(), p.op.get(), &alpha, w, p.a.get(), x, p.b.get(), &beta, y, p.d.get(), y,
                                 p.d.get(), &p.algo, workspace_, workspace_bytes_, stream),
                  describe(shape));
  return Ok{};
}

}  // namespace bf::gpu
