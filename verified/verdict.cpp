#include "verified/obligations.hpp"

namespace bf::verified {
const char* verdict_name(Verdict v) noexcept {
  switch (v) {
    case Verdict::proved: return "PROVED";
    case Verdict::failed: return "FAILED";
    case Verdict::unknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}
}  // namespace bf::verified
