// butterfly gpu info: the CUDA devices this build can see and the CUDA, driver, cuDNN and
// cuBLASLt versions it was built with and loaded. Only in builds with CUDA (gpu/).
#ifdef BUTTERFLY_HAVE_CUDA
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "gpu/device.hpp"

namespace bf::cli {
namespace {

nlohmann::json versions_json(const gpu::Versions& v) {
  return {{"cuda_runtime_built", gpu::cuda_version_string(v.cuda_runtime_built)},
          {"cuda_runtime_loaded", gpu::cuda_version_string(v.cuda_runtime_loaded)},
          {"cuda_driver", gpu::cuda_version_string(v.cuda_driver)},
          {"cudnn_built", gpu::library_version_string(v.cudnn_built)},
          {"cudnn_loaded", gpu::library_version_string(v.cudnn_loaded)},
          {"cublaslt_built", gpu::library_version_string(v.cublaslt_built)},
          {"cublaslt_loaded", gpu::library_version_string(v.cublaslt_loaded)}};
}

void print_versions(const gpu::Versions& v) {
  std::cout << "built with: CUDA runtime " << gpu::cuda_version_string(v.cuda_runtime_built) << ", cuDNN "
            << gpu::library_version_string(v.cudnn_built) << ", cuBLASLt "
            << gpu::library_version_string(v.cublaslt_built) << "\n"
            << "loaded:     CUDA runtime " << gpu::cuda_version_string(v.cuda_runtime_loaded) << ", CUDA driver "
            << gpu::cuda_version_string(v.cuda_driver) << ", cuDNN " << gpu::library_version_string(v.cudnn_loaded)
            << ", cuBLASLt " << gpu::library_version_string(v.cublaslt_loaded) << "\n";
}

std::string gib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

int run_info(bool json) {
  const gpu::Versions v = gpu::versions();
  auto found = gpu::devices();
  if (json) {
    nlohmann::json out = {{"versions", versions_json(v)}};
    if (!found) {
      out["error"] = found.error().message;
    } else {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& d : *found) {
        list.push_back({{"index", d.index},
                        {"name", d.name},
                        {"compute_capability", std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor)},
                        {"memory_bytes", d.memory_bytes},
                        {"multiprocessors", d.multiprocessors},
                        {"memory_clock_khz", d.memory_clock_khz},
                        {"memory_bus_bits", d.memory_bus_bits},
                        {"l2_bytes", d.l2_bytes},
                        {"peak_bandwidth_gb_per_s", d.peak_bandwidth_gb_per_s}});
      }
      out["devices"] = list;
    }
    std::cout << out.dump(2) << "\n";
    return found ? exit_ok : exit_failed;
  }
  if (!found) {
    std::cout << found.error().message << "\n";
    print_versions(v);
    return exit_failed;
  }
  for (const auto& d : *found) {
    std::cout << "device " << d.index << ": " << d.name << ", compute " << d.compute_major << "." << d.compute_minor
              << ", " << d.multiprocessors << " SMs, " << gib(d.memory_bytes) << ", peak memory bandwidth "
              << static_cast<long long>(d.peak_bandwidth_gb_per_s) << " GB/s\n";
  }
  print_versions(v);
  return exit_ok;
}

}  // namespace

void add_gpu_commands(CLI::App& app) {
  CLI::App* gpu = app.add_subcommand("gpu", "CUDA devices and the GPU libraries of this build");
  gpu->require_subcommand(1);
  auto json = std::make_shared<bool>(false);
  CLI::App* info = gpu->add_subcommand("info", "Print each visible CUDA device and the CUDA, driver, cuDNN and "
                                               "cuBLASLt versions (built with and loaded)");
  info->add_flag("--json", *json, "Machine-readable output");
  info->footer(
      "Exits 1 and says why when no CUDA device is visible (no driver, no device, or\n"
      "CUDA_VISIBLE_DEVICES empty); the versions are printed either way.\n"
      "Examples:\n"
      "  butterfly gpu info\n"
      "  butterfly gpu info --json");
  info->callback([json] { action() = [json] { return run_info(*json); }; });
}

}  // namespace bf::cli
#endif  // BUTTERFLY_HAVE_CUDA
