// Error messages for gpu/check.hpp: the CUDA runtime's (in bf_gpu_device, which links only cudart).
#include "gpu/check.hpp"

namespace bf::gpu::detail {
Error cuda_error(cudaError_t status, const char* call, const char* file, int line, std::string_view shape) {
  Errc code = Errc::cuda;
  if (status == cudaErrorMemoryAllocation) code = Errc::out_of_memory;
  if (status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver) code = Errc::no_device;
  return Error{code, where(call, file, line) + cudaGetErrorString(status) + " (" + cudaGetErrorName(status) +
                         ")" + shape_part(shape)};
}

}  // namespace bf::gpu::detail
