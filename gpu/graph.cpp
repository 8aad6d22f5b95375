// CUDA graph capture and replay (gpu/graph.hpp).
#include "gpu/graph.hpp"

#include "gpu/check.hpp"

namespace bf::gpu {

Result<CapturedGraph> CapturedGraph::capture(cudaStream_t stream,
                                             const std::function<Status(cudaStream_t)>& record) {
  BF_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "");
  const Status recorded = record(stream);
  cudaGraph_t graph = nullptr;
  // End the capture whatever happened, so the stream is usable again.
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  if (!recorded) {
    if (graph != nullptr) (void)cudaGraphDestroy(graph);
    return recorded.error();
  }
  BF_CUDA_CHECK(ended, "");
  std::size_t nodes = 0;
  cudaGraphExec_t exec = nullptr;
  const cudaError_t counted = cudaGraphGetNodes(graph, nullptr, &nodes);
  const cudaError_t instantiated = counted == cudaSuccess ? cudaGraphInstantiate(&exec, graph, 0) : counted;
  if (instantiated != cudaSuccess) {
    (void)cudaGraphDestroy(graph);
    BF_CUDA_CHECK(instantiated, "nodes=" + shape_string({nodes}));
  }
  return CapturedGraph(graph, exec, nodes);
}

CapturedGraph::CapturedGraph(CapturedGraph&& other) noexcept
    : graph_(other.graph_), exec_(other.exec_), nodes_(other.nodes_) {
  other.graph_ = nullptr;
  other.exec_ = nullptr;
}

CapturedGraph& CapturedGraph::operator=(CapturedGraph&& other) noexcept {
  if (this != &other) {
    if (exec_ != nullptr) (void)cudaGraphExecDestroy(exec_);
    if (graph_ != nullptr) (void)cudaGraphDestroy(graph_);
    graph_ = other.graph_;
    exec_ = other.exec_;
    nodes_ = other.nodes_;
    other.graph_ = nullptr;
    other.exec_ = nullptr;
  }
  return *this;
}

CapturedGraph::~CapturedGraph() {
  if (exec_ != nullptr) (void)cudaGraphExecDestroy(exec_);
  if (graph_ != nullptr) (void)cudaGraphDestroy(graph_);
}

Status CapturedGraph::replay(cudaStream_t stream) const {
  BF_CUDA_CHECK(cudaGraphLaunch(exec_, stream), "nodes=" + shape_string({nodes_}));
  return Ok{};
}

}  // namespace bf::gpu
