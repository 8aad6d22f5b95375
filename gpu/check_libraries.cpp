// Error messages for gpu/check.hpp: cuBLASLt's and cuDNN's (in bf_gpu, which links both).
#include <array>

#include "gpu/check.hpp"

namespace bf::gpu::detail {
Error cublas_error(cublasStatus_t status, const char* call, const char* file, int line, std::string_view shape) {
  return Error{Errc::cublas, where(call, file, line) + cublasLtGetStatusString(status) + " (" +
                                 cublasLtGetStatusName(status) + ")" + shape_part(shape)};
}

Error cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line, std::string_view shape) {
  // cuDNN 9 keeps a more specific message for the last failure on this thread.
  std::array<char, 512> detail{};
  cudnnGetLastErrorString(detail.data(), detail.size());
  std::string message = where(call, file, line) + cudnnGetErrorString(status);
  if (detail[0] != '\0') message += " (" + std::string(detail.data()) + ")";
  return Error{Errc::cudnn, message + shape_part(shape)};
}

}  // namespace bf::gpu::detail
