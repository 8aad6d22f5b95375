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

}  // namespace bf::model
