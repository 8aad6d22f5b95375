#include "core/contract.hpp"

#include <cstdio>
#include <cstdlib>

namespace bf::core {
// The one place core/ writes anything: a contract violation is a bug, and the report must
// name the invariant before the process dies.
void contract_failed(const char* kind, const char* id, const char* condition, const char* file,
                     int line) noexcept {
  (void)std::fprintf(stderr, "butterfly: %s %s violated: %s (%s:%d)\n", kind, id, condition, file, line);
  std::abort();
}
}  // namespace bf::core
