// Did-you-mean: the nearest known command or flag by edit distance, for mistyped input.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bf::cli {

std::size_t edit_distance(std::string_view a, std::string_view b);

// The closest candidate within a distance that scales with the word's length, if any.
std::optional<std::string> nearest(std::string_view word, const std::vector<std::string>& candidates);

// Walks argv against the command tree before parsing. Returns a message for the first unknown
// subcommand or flag ("unknown command 'prov' for 'butterfly'. Did you mean 'prove'?"), or nullopt.
std::optional<std::string> check_command_line(CLI::App& root, int argc, const char* const* argv);

}  // namespace bf::cli
