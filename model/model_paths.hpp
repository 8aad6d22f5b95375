// Where the known model files live: the default SmolLM2 GGUF (`builtin:smollm2`) and the
// stories260K test checkpoint. The binary never downloads; scripts/fetch-model does.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace bf::model {

// $BUTTERFLY_MODELS/SmolLM2-135M-Instruct*.gguf if set, else <source_dir>/models/...; the
// lexicographically first match, or nullopt.
std::optional<std::filesystem::path> smollm2_path(const std::filesystem::path& source_dir);
// $BUTTERFLY_STORIES260K if set, else <source_dir>/../shared/models/stories260K/stories260K.bin.
std::optional<std::filesystem::path> stories260k_path(const std::filesystem::path& source_dir);

}  // namespace bf::model
