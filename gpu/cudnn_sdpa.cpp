// cuDNN SDPA through backend descriptors (gpu/cudnn_sdpa.hpp). Learned from NVIDIA's backend API
// documentation; no frontend headers. Every descriptor lives as long as its plan.
#include "gpu/cudnn_sdpa.hpp"

#include <array>
#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gpu/check.hpp"

namespace bf::gpu {
namespace {

// One backend descriptor, destroyed with its owner.
using Descriptor = Owned<cudnnBackendDescriptor_t, cudnnBackendDestroyDescriptor>;

// Tensor unique ids of the graph's inputs and outputs (virtual tensors count up from 100).
enum : std::int64_t { id_q = 1, id_k = 2, id_v = 3, id_out = 4, id_scale = 5, id_lengths = 6, id_masked = 7 };

using Dims = std::array<std::int64_t, 4>;

Dims packed_strides(const Dims& d) { return {d[1] * d[2] * d[3], d[2] * d[3], d[3], 1}; }

}  // namespace

struct Sdpa::Plan {
  std::vector<Descriptor> keep;  // tensors, ops and the graph: alive as long as the plan
  Descriptor plan;
  std::int64_t workspace_bytes = 0;
};

namespace {

// Builds the graph, recording the first failure with the shape; later calls do nothing then.
class GraphBuilder {
 public:
  GraphBuilder(cudnnHandle_t handle, std::string shape, std::vector<Descriptor>& keep)
      : handle_(handle), shape_(std::move(shape)), keep_(keep) {}

  [[nodiscard]] const std::optional<Error>& error() const { return error_; }

  cudnnBackendDescriptor_t create(cudnnBackendDescriptorType_t type, const char* what) {
    if (error_) return nullptr;
    cudnnBackendDescriptor_t raw = nullptr;
    check(cudnnBackendCreateDescriptor(type, &raw), what);
    if (error_) return nullptr;
    keep_.emplace_back(raw);
    return raw;
  }

  void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
           std::int64_t count, const void* value, const char* what) {
    if (error_ || d == nullptr) return;
    check(cudnnBackendSetAttribute(d, name, type, count, value), what);
  }

  void finalize(cudnnBackendDescriptor_t d, const char* what) {
    if (error_ || d == nullptr) return;
    check(cudnnBackendFinalize(d), what);
  }

  // A 4-D tensor; virtual tensors are intermediates that never touch memory.
  cudnnBackendDescriptor_t tensor(std::int64_t id, cudnnDataType_t type, const Dims& dims, const Dims& strides,
                                  bool is_virtual, bool by_value = false) {
    cudnnBackendDescriptor_t t = create(CUDNN_BACKEND_TENSOR_DESCRIPTOR, "tensor");
    const std::int64_t alignment = 16;
    set(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type, "tensor data type");
    set(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data(), "tensor dimensions");
    set(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data(), "tensor strides");
    set(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &id, "tensor id");
    set(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment, "tensor alignment");
    set(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual, "tensor virtual");
    if (by_value) set(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value, "tensor by value");
    finalize(t, "tensor");
    return t;
  }

  cudnnBackendDescriptor_t intermediate(cudnnDataType_t type, const Dims& dims) {
    return tensor(next_virtual_id_++, type, dims, packed_strides(dims), true);
  }

  cudnnBackendDescriptor_t matmul(cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b,
                                  cudnnBackendDescriptor_t c) {
    cudnnBackendDescriptor_t desc = create(CUDNN_BACKEND_MATMUL_DESCRIPTOR, "matmul");
    const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    set(desc, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute, "matmul compute type");
    finalize(desc, "matmul");
    cudnnBackendDescriptor_t op = create(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, "matmul op");
    set(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &a, "matmul A");
    set(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b, "matmul B");
    set(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c, "matmul C");
    set(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &desc, "matmul desc");
    finalize(op, "matmul op");
    ops_.push_back(op);
    return op;
  }

  // y = mode(x[, b][, t]); axis only for GEN_INDEX.
  void pointwise(cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                 cudnnBackendDescriptor_t t, cudnnBackendDescriptor_t y, std::int64_t axis = -1) {
    cudnnBackendDescriptor_t desc = create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, "pointwise");
    const cudnnDataType_t precision = CUDNN_DATA_FLOAT;
    set(desc, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, "pointwise mode");
    set(desc, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &precision, "pointwise precision");
    if (axis >= 0) set(desc, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis, "pointwise axis");
    finalize(desc, "pointwise");
    cudnnBackendDescriptor_t op = create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, "pointwise op");
    set(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &desc, "pointwise desc");
    set(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, "pointwise X");
    if (b != nullptr) set(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b, "pointwise B");
    if (t != nullptr) set(op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &t, "pointwise T");
    set(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, "pointwise Y");
    finalize(op, "pointwise op");
    ops_.push_back(op);
  }

  void reduction(cudnnReduceTensorOp_t mode, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y) {
    cudnnBackendDescriptor_t desc = create(CUDNN_BACKEND_REDUCTION_DESCRIPTOR, "reduction");
    const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    set(desc, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode, "reduction operator");
    set(desc, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute, "reduction compute type");
    finalize(desc, "reduction");
    cudnnBackendDescriptor_t op = create(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, "reduction op");
    set(op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, "reduction X");
    set(op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, "reduction Y");
    set(op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &desc, "reduction desc");
    finalize(op, "reduction op");
    ops_.push_back(op);
  }

  // The operation graph, the heuristics' engine configurations in order, and the first one that
  // finalizes as an execution plan.
  // The operation graph over every op so far. Without a handle (no device) cuDNN still checks
  // that the ops connect into one graph, which Sdpa::check_graph uses on machines without a GPU.
  cudnnBackendDescriptor_t operation_graph() {
    cudnnBackendDescriptor_t graph = create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "operation graph");
    if (handle_ != nullptr) set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle_, "graph handle");
    set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<std::int64_t>(ops_.size()),
        ops_.data(), "graph ops");
    finalize(graph, "operation graph");
    return graph;
  }

  void plan(Sdpa::Plan& out) {
    cudnnBackendDescriptor_t graph = operation_graph();
    cudnnBackendDescriptor_t heuristics = create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "engine heuristics");
    const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
    set(heuristics, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph, "heur graph");
    set(heuristics, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, "heur mode");
    finalize(heuristics, "engine heuristics");
    if (error_) return;

    std::int64_t count = 0;
    check(cudnnBackendGetAttribute(heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                   &count, nullptr),
          "heuristics result count");
    if (error_) return;
    constexpr std::int64_t configs_max = 16;
    count = std::min(count, configs_max);
    std::vector<cudnnBackendDescriptor_t> configs;
    for (std::int64_t i = 0; i < count; ++i) configs.push_back(create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "config"));
    if (error_ || count == 0) {
      if (!error_) error_ = Error{Errc::cudnn, "cuDNN has no engine for this attention graph; shape: " + shape_};
      return;
    }
    std::int64_t returned = 0;
    check(cudnnBackendGetAttribute(heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                   &returned, configs.data()),
          "heuristics results");
    if (error_) return;

    std::string refusals;
    for (std::int64_t i = 0; i < returned; ++i) {
      cudnnBackendDescriptor_t raw = nullptr;
      if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &raw) != CUDNN_STATUS_SUCCESS) break;
      Descriptor candidate(raw);
      cudnnBackendDescriptor_t config = configs[static_cast<std::size_t>(i)];
      cudnnStatus_t status = cudnnBackendSetAttribute(raw, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1,
                                                      &handle_);
      if (status == CUDNN_STATUS_SUCCESS) {
        status = cudnnBackendSetAttribute(raw, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                          CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &config);
      }
      if (status == CUDNN_STATUS_SUCCESS) status = cudnnBackendFinalize(raw);
      if (status != CUDNN_STATUS_SUCCESS) {
        refusals += std::string(refusals.empty() ? "" : "; ") + cudnnGetErrorString(status);
        continue;
      }
      std::int64_t returned_sizes = 0;
      check(cudnnBackendGetAttribute(raw, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                     &returned_sizes, &out.workspace_bytes),
            "plan workspace size");
      if (error_) return;
      out.plan = std::move(candidate);
      return;
    }
    error_ = Error{Errc::cudnn, "no cuDNN engine configuration finalizes for this attention graph (" +
                                    std::to_string(returned) + " tried: " + refusals + "); shape: " + shape_};
  }

 private:
  void check(cudnnStatus_t status, const char* what) {
    if (status != CUDNN_STATUS_SUCCESS && !error_) {
      error_ = detail::cudnn_error(status, what, __FILE__, __LINE__, shape_);
    }
  }

  cudnnHandle_t handle_;
  std::string shape_;
  std::vector<Descriptor>& keep_;
  std::vector<cudnnBackendDescriptor_t> ops_;
  std::optional<Error> error_;
  std::int64_t next_virtual_id_ = 100;
};

std::string describe(const SdpaShape& s) {
  return std::string(s.mode == SdpaMode::decode ? "decode" : "prefill (causal)") +
         " [batch, heads, kv_heads, head_dim, tokens, capacity]=" +
         shape_string({s.batch, s.heads, s.kv_heads, s.head_dim, s.tokens, s.capacity});
}

Status check_shape(const SdpaShape& s) {
  const bool sizes_ok = s.batch >= 1 && s.batch <= 1024 && s.heads >= 1 && s.heads <= 1024 && s.kv_heads >= 1 &&
                        s.heads % s.kv_heads == 0 && s.head_dim >= 8 && s.head_dim <= 256 && s.head_dim % 8 == 0 &&
                        s.tokens >= 1 && s.capacity >= s.tokens && s.capacity <= (1u << 20) && s.scale > 0;
  const bool mode_ok = s.mode == SdpaMode::decode ? s.tokens == 1 : true;
  if (!sizes_ok || !mode_ok) {
    return invalid("Sdpa: " + describe(s) +
                   "; need heads a multiple of kv_heads, head_dim a multiple of 8 in 8..256, tokens <= capacity, "
                   "scale > 0, and one token per sequence in decode");
  }
  return Ok{};
}

// The SDPA graph's tensors and ops (see gpu/cudnn_sdpa.hpp) for a checked shape.
void build_graph(GraphBuilder& g, const SdpaShape& s) {
  const auto b = static_cast<std::int64_t>(s.batch);
  const auto h = static_cast<std::int64_t>(s.heads);
  const auto h_kv = static_cast<std::int64_t>(s.kv_heads);
  const auto d = static_cast<std::int64_t>(s.head_dim);
  const auto s_q = static_cast<std::int64_t>(s.tokens);
  const auto cap = static_cast<std::int64_t>(s.capacity);
  // Keys attended: the prompt itself in prefill, the whole cache (masked by length) in decode.
  const std::int64_t s_kv = s.mode == SdpaMode::decode ? cap : s_q;

  // [batch, s, heads, d] in memory, seen as [batch, heads, s, d]. K^T is [batch, kv_heads, d, s_kv]
  // over the same cache memory: only the strides differ.
  const Dims q_dims{b, h, s_q, d};
  const Dims q_strides{s_q * h * d, d, h * d, 1};
  const Dims kt_dims{b, h_kv, d, s_kv};
  const Dims kt_strides{cap * h_kv * d, d, 1, h_kv * d};
  const Dims v_dims{b, h_kv, s_kv, d};
  const Dims v_strides{cap * h_kv * d, d, h_kv * d, 1};
  const Dims scores{b, h, s_q, s_kv};
  const Dims row_stat{b, h, s_q, 1};
  const Dims scalar{1, 1, 1, 1};

  auto* q = g.tensor(id_q, CUDNN_DATA_BFLOAT16, q_dims, q_strides, false);
  auto* kt = g.tensor(id_k, CUDNN_DATA_BFLOAT16, kt_dims, kt_strides, false);
  auto* v = g.tensor(id_v, CUDNN_DATA_BFLOAT16, v_dims, v_strides, false);
  auto* out = g.tensor(id_out, CUDNN_DATA_BFLOAT16, q_dims, q_strides, false);
  auto* scale = g.tensor(id_scale, CUDNN_DATA_FLOAT, scalar, scalar, false, true);
  auto* masked_value = g.tensor(id_masked, CUDNN_DATA_FLOAT, scalar, scalar, false, true);

  auto* raw_scores = g.intermediate(CUDNN_DATA_FLOAT, scores);
  g.matmul(q, kt, raw_scores);
  auto* scaled = g.intermediate(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_MUL, raw_scores, scale, nullptr, scaled);

  // Mask: keep[i][j] = j <= i (prefill) or j < length[b] (decode); elsewhere the score becomes
  // the masked value (the lowest float, so exp gives 0 without an infinity in the graph).
  auto* column = g.intermediate(CUDNN_DATA_INT32, scores);
  g.pointwise(CUDNN_POINTWISE_GEN_INDEX, scaled, nullptr, nullptr, column, 3);
  auto* keep = g.intermediate(CUDNN_DATA_BOOLEAN, scores);
  if (s.mode == SdpaMode::decode) {
    auto* lengths = g.tensor(id_lengths, CUDNN_DATA_INT32, Dims{b, 1, 1, 1}, Dims{1, 1, 1, 1}, false);
    g.pointwise(CUDNN_POINTWISE_CMP_LT, column, lengths, nullptr, keep);
  } else {
    auto* row = g.intermediate(CUDNN_DATA_INT32, scores);
    g.pointwise(CUDNN_POINTWISE_GEN_INDEX, scaled, nullptr, nullptr, row, 2);
    g.pointwise(CUDNN_POINTWISE_CMP_GE, row, column, nullptr, keep);
  }
  auto* masked = g.intermediate(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_BINARY_SELECT, scaled, masked_value, keep, masked);

  // Softmax over the keys.
  auto* row_max = g.intermediate(CUDNN_DATA_FLOAT, row_stat);
  g.reduction(CUDNN_REDUCE_TENSOR_MAX, masked, row_max);
  auto* shifted = g.intermediate(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_SUB, masked, row_max, nullptr, shifted);
  auto* exponent = g.intermediate(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_EXP, shifted, nullptr, nullptr, exponent);
  auto* row_sum = g.intermediate(CUDNN_DATA_FLOAT, row_stat);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, exponent, row_sum);
  auto* probabilities = g.intermediate(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_DIV, exponent, row_sum, nullptr, probabilities);

  g.matmul(probabilities, v, out);
}

}  // namespace

Result<Sdpa> Sdpa::create(cudaStream_t stream, void* workspace, std::size_t workspace_bytes) {
  Sdpa sdpa;
  BF_CUDNN_CHECK(cudnnCreate(sdpa.handle_.out()), "");
  BF_CUDNN_CHECK(cudnnSetStream(sdpa.handle_.get(), stream), "");
  sdpa.workspace_ = workspace;
  sdpa.workspace_bytes_ = workspace_bytes;
  return sdpa;
}

Sdpa::Sdpa(Sdpa&&) noexcept = default;
Sdpa& Sdpa::operator=(Sdpa&&) noexcept = default;  // plans_ first (cudnn_sdpa.hpp)
Sdpa::~Sdpa() { plans_.clear(); }  // descriptors before the handle

std::size_t Sdpa::cached_plans() const noexcept { return plans_.size(); }

Status Sdpa::check_graph(const SdpaShape& shape) {
  BF_GPU_TRY(check_shape(shape));
  std::vector<Descriptor> keep;
  GraphBuilder g(nullptr, describe(shape), keep);
  build_graph(g, shape);
  (void)g.operation_graph();
  if (g.error()) return *g.error();
  return Ok{};
}

Status Sdpa::prepare(const SdpaShape& shape) {
  auto plan = plan_for(shape);
  if (!plan) return plan.error();
  return Ok{};
}

Result<Sdpa::Plan*> Sdpa::plan_for(const SdpaShape& s) {
  if (auto found = plans_.find(s); found != plans_.end()) return found->second.get();
  BF_GPU_TRY(check_shape(s));
  if (plans_.size() >= sdpa_plans_max) {
    return invalid("Sdpa: " + describe(s) + " would be plan " + std::to_string(plans_.size() + 1) +
                   " beyond the cache limit of " + std::to_string(sdpa_plans_max));
  }
  auto plan = std::make_unique<Plan>();
  GraphBuilder g(handle_.get(), describe(s), plan->keep);
  build_graph(g, s);
  g.plan(*plan);
  if (g.error()) return *g.error();
  if (static_cast<std::size_t>(plan->workspace_bytes) > workspace_bytes_) {
    return Error{Errc::out_of_memory, "Sdpa: the plan for " + describe(s) + " needs " +
                                          std::to_string(plan->workspace_bytes) + " workspace bytes, " +
                                          std::to_string(workspace_bytes_) + " were given"};
  }
  Plan* raw = plan.get();
  plans_.emplace(s, std::move(plan));
  return raw;
}

Status Sdpa::run(const SdpaShape& s, const std::uint16_t* q, const std::uint16_t* k_cache,
                 const std::uint16_t* v_cache, const std::int32_t* kv_lengths, std::uint16_t* out) {
  auto found = plan_for(s);
  if (!found) return found.error();
  if (s.mode == SdpaMode::decode && kv_lengths == nullptr) {
    return invalid("Sdpa::run: decode needs the per-sequence KV lengths; shape: " + describe(s));
  }
  const Plan& plan = **found;
  float scale = s.scale;
  float masked_value = std::numeric_limits<float>::lowest();
  std::vector<std::int64_t> ids = {id_q, id_k, id_v, id_out, id_scale, id_masked};
  std::vector<void*> pointers = {const_cast<std::uint16_t*>(q), const_cast<std::uint16_t*>(k_cache),
                                 const_cast<std::uint16_t*>(v_cache), out, &scale, &masked_value};
  if (s.mode == SdpaMode::decode) {
    ids.push_back(id_lengths);
    pointers.push_back(const_cast<std::int32_t*>(kv_lengths));
  }
  const std::string shape = describe(s);
  cudnnBackendDescriptor_t raw = nullptr;
  BF_CUDNN_CHECK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &raw), shape);
  const Descriptor pack(raw);
  void* workspace = workspace_;
  BF_CUDNN_CHECK(cudnnBackendSetAttribute(raw, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64,
                                          static_cast<std::int64_t>(ids.size()), ids.data()),
                 shape);
  BF_CUDNN_CHECK(cudnnBackendSetAttribute(raw, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
                                          static_cast<std::int64_t>(pointers.size()), pointers.data()),
                 shape);
  BF_CUDNN_CHECK(cudnnBackendSetAttribute(raw, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace),
                 shape);
  BF_CUDNN_CHECK(cudnnBackendFinalize(raw), shape);
  BF_CUDNN_CHECK(cudnnBackendExecute(handle_.get(), plan.plan.get(), raw), shape);
  return Ok{};
}

}  // namespace bf::gpu
