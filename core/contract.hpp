// Contracts: executable documentation of the invariants in spec/invariants.md.
//
// Each macro names the invariant ID it guards, so the leg checker (scripts/check-legs) can find the
// code site of every ID. They are active when BUTTERFLY_CONTRACTS is defined (Debug builds and the
// bf_core_checked library every test links) and compile to nothing in Release.
// A violated contract is a programmer error: it prints the ID, the condition and the site, then aborts.
#pragma once

namespace bf::core {
[[noreturn]] void contract_failed(const char* kind, const char* id, const char* condition,
                                  const char* file, int line) noexcept;
}  // namespace bf::core

#if defined(BUTTERFLY_CONTRACTS)
#define BF_CONTRACT_CHECK_(kind, id, cond)                                        \
  do {                                                                           \
    if (!(cond)) ::bf::core::contract_failed(kind, id, #cond, __FILE__, __LINE__); \
  } while (false)
#else
#define BF_CONTRACT_CHECK_(kind, id, cond) \
  do {                                     \
    (void)sizeof(cond);                    \
  } while (false)
#endif

// Precondition the caller must establish.
#define BF_REQUIRE(id, cond) BF_CONTRACT_CHECK_("precondition", id, cond)
// Postcondition this function guarantees.
#define BF_ENSURE(id, cond) BF_CONTRACT_CHECK_("postcondition", id, cond)
// Invariant of a value or loop.
#define BF_INVARIANT(id, cond) BF_CONTRACT_CHECK_("invariant", id, cond)
