// Unicode code point classes for the tokenizer's pre-tokenizer: only the distinctions the GPT-2
// style split makes (\p{L}, \p{N}, \s, everything else). The data in unicode_table.cpp is generated
// by scripts/gen-unicode-table from Unicode 15.1, the version llama.cpp uses, so splits agree.
#pragma once

#include <cstdint>
#include <span>

namespace bf::model::unicode {

enum class CodePointClass : std::uint8_t { other, letter, number, whitespace };

struct ClassRange {
  std::uint32_t first;  // the run lasts until the next range's first
  CodePointClass cls;
};

// Sorted by first; the first entry starts at 0. Code points past the last run's end are `other`.
std::span<const ClassRange> class_ranges();

}  // namespace bf::model::unicode
