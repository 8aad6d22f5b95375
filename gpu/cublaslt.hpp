// Matmuls through cuBLASLt: a linear layer y[m, n] = x[m, k] . w[n, k]^T (row-major, PyTorch's
// weight layout) with bf16 or fp16 inputs and fp32 accumulation. The descriptors and the algorithm
// cuBLASLt's heuristic picks are built once per shape and cached, so a decode step does no
// descriptor work and no heuristic query (and can be captured in a CUDA graph).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "gpu/error.hpp"
#include "gpu/owned.hpp"

namespace bf::gpu {

enum class DataType : std::uint8_t { bf16, fp16, f32 };
const char* data_type_name(DataType type) noexcept;

struct MatmulShape {
  std::size_t m = 0;  // rows of x and y (tokens)
  std::size_t n = 0;  // rows of w, columns of y (output features)
  std::size_t k = 0;  // columns of x and w (input features)
  DataType input = DataType::bf16;   // x and w: bf16 or fp16
  DataType output = DataType::f32;   // y: f32, or the input type

  auto key() const { return std::tuple(m, n, k, input, output); }
  bool operator<(const MatmulShape& other) const { return key() < other.key(); }
};

inline constexpr std::size_t matmul_dim_max = std::size_t{1} << 20;  // per dimension
inline constexpr std::size_t matmul_plans_max = 256;                 // cache entries: shapes are few

class BlasLt {
 public:
  // workspace: device memory of workspace_bytes for cuBLASLt's split-K and friends (e.g. from the
  // arena; 32 MiB is plenty on Hopper), owned by the caller and alive as long as this object.
  static Result<BlasLt> create(void* workspace, std::size_t workspace_bytes);
  BlasLt(BlasLt&&) noexcept;
  BlasLt& operator=(BlasLt&&) noexcept;
  BlasLt(const BlasLt&) = delete;
  BlasLt& operator=(const BlasLt&) = delete;
  ~BlasLt();

  // y = x . w^T on stream. Pointers 16-byte aligned (the arena gives 256).
  Status linear(const MatmulShape& shape, const void* x, const void* w, void* y, cudaStream_t stream);
  [[nodiscard]] std::size_t cached_plans() const noexcept;

  struct Plan;  // descriptors and the chosen algorithm (cublaslt.cpp)

 private:
  BlasLt() = default;
  Result<const Plan*> plan_for(const MatmulShape& shape);

  // plans_ before handle_, so that the (defaulted) move assignment drops the old plans' descriptors
  // before the handle they were made with; the destructor clears plans_ first for the same reason.
  std::map<MatmulShape, std::unique_ptr<Plan>> plans_;
  Owned<cublasLtHandle_t, cublasLtDestroy> handle_;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 0;
};

}  // namespace bf::gpu
