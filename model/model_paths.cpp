#include "model/model_paths.hpp"

#include <cstdlib>
#include <string>
#include <system_error>

namespace bf::model {

std::optional<std::filesystem::path> smollm2_path(const std::filesystem::path& source_dir) {
  const char* env = std::getenv("BUTTERFLY_MODELS");
  const std::filesystem::path dir = env != nullptr && *env != '\0' ? std::filesystem::path(env) : source_dir / "models";
  std::error_code ec;
  std::optional<std::filesystem::path> best;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("SmolLM2-135M-Instruct") && name.ends_with(".gguf") && entry.is_regular_file(ec)) {
      if (!best || entry.path() < *best) best = entry.path();
    }
  }
  return best;
}

std::optional<std::filesystem::path> stories260k_path(const std::filesystem::path& source_dir) {
  const char* env = std::getenv("BUTTERFLY_STORIES260K");
  const std::filesystem::path path = env != nullptr && *env != '\0'
                                         ? std::filesystem::path(env)
                                         : source_dir / ".." / "shared" / "models" / "stories260K" / "stories260K.bin";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  return path;
}

std::optional<std::filesystem::path> source_tree_of_binary() {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec) return std::nullopt;
  for (int up = 0; up < 4 && !dir.empty(); ++up, dir = dir.parent_path()) {
    std::error_code missing;  // a missing file is the normal case, not a reason to stop looking
    if (std::filesystem::is_regular_file(dir / "models" / "MANIFEST", missing)) return dir;
  }
  return std::nullopt;
}

core::Result<std::filesystem::path> resolve_model_spec(std::string_view spec) {
  if (spec == "builtin:smollm2") {
    const auto root = source_tree_of_binary();
    if (auto p = smollm2_path(root.value_or(std::filesystem::current_path()))) return *p;
    const char* env = std::getenv("BUTTERFLY_MODELS");
    return core::Error{core::Errc::invalid_argument,
                       std::string("builtin:smollm2 is not downloaded (no models/SmolLM2-135M-Instruct*.gguf") +
                           (env != nullptr ? " in $BUTTERFLY_MODELS" : "") +
                           "); run scripts/fetch-model, or give a FILE.gguf"};
  }
  if (spec.starts_with("builtin:")) {
    return core::Error{core::Errc::invalid_argument,
                       "unknown model '" + std::string(spec) + "'; the built-in model is builtin:smollm2"};
  }
  return std::filesystem::path(spec);
}

}  // namespace bf::model
