// Where the known model files live: the default SmolLM2 GGUF (`builtin:smollm2`) and the
// stories260K test checkpoint. The binary never downloads; scripts/fetch-model does.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "core/result.hpp"

namespace bf::model {

// $BUTTERFLY_MODELS/SmolLM2-135M-Instruct*.gguf if set, else <source_dir>/models/...; the
// lexicographically first match, or nullopt.
std::optional<std::filesystem::path> smollm2_path(const std::filesystem::path& source_dir);
// $BUTTERFLY_STORIES260K if set, else <source_dir>/../shared/models/stories260K/stories260K.bin.
std::optional<std::filesystem::path> stories260k_path(const std::filesystem::path& source_dir);

// The source tree of the running binary: the first of its ancestors (up to 4 levels) that has
// models/MANIFEST; nullopt when the binary lives elsewhere.
std::optional<std::filesystem::path> source_tree_of_binary();
// A model spec as `generate` and `worker --model` take it: builtin:smollm2 (the fetched default
// file) or a path to a GGUF file. Errors say how to obtain the file.
core::Result<std::filesystem::path> resolve_model_spec(std::string_view spec);

}  // namespace bf::model
