// Checking CUDA, cuBLASLt and cuDNN calls. Each macro evaluates the call once and, on failure,
// returns a gpu::Error from the enclosing function (which returns Status or Result<T>) naming the
// call as written, file:line, the library's own message, and the shapes given, e.g.
//   cudaMalloc(&base, bytes) failed at gpu/device.cpp:80: out of memory
//   (cudaErrorMemoryAllocation); shape: bytes=[1073741824]
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn_graph.h>

#include <string>
#include <string_view>

#include "gpu/error.hpp"

namespace bf::gpu::detail {

inline std::string where(const char* call, const char* file, int line) {
  return std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": ";
}

inline std::string shape_part(std::string_view shape) {
  return shape.empty() ? std::string() : "; shape: " + std::string(shape);
}

Error cuda_error(cudaError_t status, const char* call, const char* file, int line, std::string_view shape);
Error cublas_error(cublasStatus_t status, const char* call, const char* file, int line, std::string_view shape);
Error cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line, std::string_view shape);

}  // namespace bf::gpu::detail

#define BF_CUDA_CHECK(call, shape)                                                            \
  do {                                                                                        \
    const cudaError_t bf_cuda_status_ = (call);                                               \
    if (bf_cuda_status_ != cudaSuccess)                                                       \
      return ::bf::gpu::detail::cuda_error(bf_cuda_status_, #call, __FILE__, __LINE__, shape); \
  } while (0)

#define BF_CUBLAS_CHECK(call, shape)                                                              \
  do {                                                                                            \
    const cublasStatus_t bf_cublas_status_ = (call);                                              \
    if (bf_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                               \
      return ::bf::gpu::detail::cublas_error(bf_cublas_status_, #call, __FILE__, __LINE__, shape); \
  } while (0)

#define BF_CUDNN_CHECK(call, shape)                                                             \
  do {                                                                                          \
    const cudnnStatus_t bf_cudnn_status_ = (call);                                              \
    if (bf_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                               \
      return ::bf::gpu::detail::cudnn_error(bf_cudnn_status_, #call, __FILE__, __LINE__, shape); \
  } while (0)
