// CUDA graphs: record a sequence of launches on a stream once, replay it every step. The decode
// step (one per batch size) is the intended user: its kernels, cuBLASLt matmuls and cuDNN
// attention read their varying inputs (token ids, positions, KV lengths) from device memory, so
// one capture serves every step.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>

#include "gpu/error.hpp"

namespace bf::gpu {

class CapturedGraph {
 public:
  // Runs record(stream) under stream capture (thread-local mode) and instantiates the result.
  // record must only enqueue work on stream: no synchronisation, no allocation, no host copies.
  static Result<CapturedGraph> capture(cudaStream_t stream, const std::function<Status(cudaStream_t)>& record);
  CapturedGraph(CapturedGraph&& other) noexcept;
  CapturedGraph& operator=(CapturedGraph&& other) noexcept;
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;
  ~CapturedGraph();

  // Enqueues the whole recorded sequence on stream.
  Status replay(cudaStream_t stream) const;
  [[nodiscard]] std::size_t nodes() const noexcept { return nodes_; }

 private:
  CapturedGraph(cudaGraph_t graph, cudaGraphExec_t exec, std::size_t nodes) noexcept
      : graph_(graph), exec_(exec), nodes_(nodes) {}
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  std::size_t nodes_ = 0;
};

}  // namespace bf::gpu
