// Did-you-mean: the nearest known command, flag or flag value by edit distance, for mistyped input,
// with the corrected command line to run.
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

// The fixed set of values a flag accepts (from its CLI::IsMember check), empty when it takes any.
std::vector<std::string> allowed_values(const CLI::Option& option);

// "butterfly cluster start" for the `start` subcommand.
std::string full_name(const CLI::App& app);

// The deepest subcommand the command line names (for "run 'butterfly X --help'" hints).
CLI::App& deepest_command(CLI::App& root, int argc, const char* const* argv);

// Walks argv against the command tree before parsing. Returns a message for the first unknown
// subcommand or flag, or a value outside a flag's fixed set, with the nearest known one and the
// whole corrected command line ("unknown command 'prov' for 'butterfly'. Did you mean 'prove'?
// Corrected: butterfly prove"), or nullopt.
std::optional<std::string> check_command_line(CLI::App& root, int argc, const char* const* argv);

// A word as a POSIX shell reads it back (single-quoted when it has anything but safe characters).
std::string shell_quote(std::string_view word);

}  // namespace bf::cli
