// Device query, streams and the arena (gpu/device.hpp).
#include "gpu/device.hpp"

#include <cublas_api.h>  // CUBLAS_VERSION only: no cuBLAS function is called from here
#include <cudnn_version.h>
#include <dlfcn.h>

#include <algorithm>
#include <bit>

#include "gpu/check.hpp"

namespace bf::gpu {
namespace {

// The version a shared library reports, loaded on demand: `butterfly gpu info` says what this
// machine can load, and programs that never touch cuDNN or cuBLASLt (the CLI) do not pay their
// start-up cost (cuBLASLt alone adds ~0.2 s to every process that links it). 0: cannot load.
std::size_t loaded_version(const char* library, const char* function) noexcept {
  void* handle = dlopen(library, RTLD_LAZY | RTLD_LOCAL);
  if (handle == nullptr) return 0;
  void* symbol = dlsym(handle, function);
  if (symbol == nullptr) return 0;
  using VersionFunction = std::size_t (*)();
  return reinterpret_cast<VersionFunction>(symbol)();  // handle kept: the library stays loaded
}

#define BF_STRINGIFY_(x) #x
#define BF_STRINGIFY(x) BF_STRINGIFY_(x)

}  // namespace

Versions versions() noexcept {
  Versions v;
  v.cuda_runtime_built = CUDART_VERSION;
  if (cudaRuntimeGetVersion(&v.cuda_runtime_loaded) != cudaSuccess) v.cuda_runtime_loaded = 0;
  if (cudaDriverGetVersion(&v.cuda_driver) != cudaSuccess) v.cuda_driver = 0;
  v.cudnn_built = CUDNN_VERSION;
  v.cudnn_loaded = loaded_version("libcudnn.so." BF_STRINGIFY(CUDNN_MAJOR), "cudnnGetVersion");
  v.cublaslt_built = CUBLAS_VERSION;
  v.cublaslt_loaded = loaded_version("libcublasLt.so." BF_STRINGIFY(CUBLAS_VER_MAJOR), "cublasLtGetVersion");
  return v;
}

std::string cuda_version_string(int version) {
  if (version <= 0) return "none";
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

std::string library_version_string(std::size_t version) {
  if (version == 0) return "none";
  return std::to_string(version / 10000) + "." + std::to_string((version / 100) % 100) + "." +
         std::to_string(version % 100);
}

Result<std::vector<DeviceInfo>> devices() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    // Clear the sticky "no device" error so later queries in this process are not confused by it.
    (void)cudaGetLastError();
    return Error{Errc::no_device, std::string("no CUDA device visible: ") + cudaGetErrorString(status)};
  }
  if (count <= 0) {
    return Error{Errc::no_device, "no CUDA device visible: the CUDA runtime reports 0 devices "
                                  "(check CUDA_VISIBLE_DEVICES and nvidia-smi)"};
  }
  std::vector<DeviceInfo> out;
  for (int index = 0; index < count; ++index) {
    cudaDeviceProp prop{};
    BF_CUDA_CHECK(cudaGetDeviceProperties(&prop, index), "device=" + std::to_string(index));
    DeviceInfo d;
    d.index = index;
    d.name = prop.name;
    d.compute_major = prop.major;
    d.compute_minor = prop.minor;
    d.memory_bytes = prop.totalGlobalMem;
    d.multiprocessors = prop.multiProcessorCount;
    d.memory_bus_bits = prop.memoryBusWidth;
    d.l2_bytes = static_cast<std::size_t>(prop.l2CacheSize);
    BF_CUDA_CHECK(cudaDeviceGetAttribute(&d.memory_clock_khz, cudaDevAttrMemoryClockRate, index),
                  "device=" + std::to_string(index));
    // Two transfers per clock (DDR/HBM), bus width in bits.
    d.peak_bandwidth_gb_per_s =
        2.0 * static_cast<double>(d.memory_clock_khz) * 1e3 * (static_cast<double>(d.memory_bus_bits) / 8.0) / 1e9;
    out.push_back(std::move(d));
  }
  return out;
}

Status require_device() {
  auto d = devices();
  if (!d) return d.error();
  return Ok{};
}

// ---------------------------------------------------------------------------------------------
// Stream

Result<Stream> Stream::create() {
  cudaStream_t s = nullptr;
  BF_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "");
  return Stream(s);
}

Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;
Stream::~Stream() = default;

Status Stream::synchronize() const {
  BF_CUDA_CHECK(cudaStreamSynchronize(stream_.get()), "");
  return Ok{};
}

// ---------------------------------------------------------------------------------------------
// Arena

Result<Arena> Arena::create(std::size_t capacity_bytes) {
  if (capacity_bytes == 0 || capacity_bytes > capacity_max) {
    return invalid("Arena::create: capacity of " + std::to_string(capacity_bytes) +
                   " bytes is 0 or above the 1 TiB limit");
  }
  void* base = nullptr;
  BF_CUDA_CHECK(cudaMalloc(&base, capacity_bytes), "bytes=" + shape_string({capacity_bytes}));
  return Arena(static_cast<std::byte*>(base), capacity_bytes);
}

Arena::Arena(Arena&& other) noexcept : base_(other.base_), capacity_(other.capacity_), used_(other.used_) {
  other.base_ = nullptr;
  other.capacity_ = 0;
  other.used_ = 0;
}

Arena& Arena::operator=(Arena&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) (void)cudaFree(base_);
    base_ = other.base_;
    capacity_ = other.capacity_;
    used_ = other.used_;
    other.base_ = nullptr;
    other.capacity_ = 0;
    other.used_ = 0;
  }
  return *this;
}

Arena::~Arena() {
  if (base_ != nullptr) (void)cudaFree(base_);
}

Result<void*> Arena::allocate(std::size_t bytes, std::size_t alignment) {
  if (bytes == 0 || !std::has_single_bit(alignment)) {
    return invalid("Arena::allocate: " + std::to_string(bytes) + " bytes at alignment " +
                   std::to_string(alignment) + "; need bytes > 0 and a power-of-two alignment");
  }
  // Align the address, not the offset: cudaMalloc promises only 256-byte alignment of the base.
  const auto base = reinterpret_cast<std::uintptr_t>(base_);
  const std::size_t start = ((base + used_ + alignment - 1) & ~(alignment - 1)) - base;
  if (start > capacity_ || bytes > capacity_ - start) {
    return Error{Errc::out_of_memory, "Arena::allocate: " + std::to_string(bytes) + " bytes requested, " +
                                          std::to_string(capacity_ - std::min(start, capacity_)) + " of " +
                                          std::to_string(capacity_) +
                                          " left; create the arena larger (weights + KV cache + activations)"};
  }
  used_ = start + bytes;
  return static_cast<void*>(base_ + start);
}

Status copy_to_device(void* device, const void* host, std::size_t bytes) {
  BF_CUDA_CHECK(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "bytes=" + shape_string({bytes}));
  return Ok{};
}

Status copy_to_host(void* host, const void* device, std::size_t bytes) {
  BF_CUDA_CHECK(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "bytes=" + shape_string({bytes}));
  return Ok{};
}

}  // namespace bf::gpu
