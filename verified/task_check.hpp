// Certificate task checks (spec/certificate.md, "Certificate layout", task checks): runs one
// SMT-LIB text with Z3 for `butterfly cert verify --z3`. The runtime carries task checks but never links Z3; this is the
// only place that solves them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bf::verified {

// Z3's wall-clock budget per task check; past it the result is unknown (a FAIL for the auditor).
inline constexpr unsigned task_check_timeout_ms = 10000;

enum class TaskOutcome { sat, unsat, unknown, error };
const char* task_outcome_name(TaskOutcome o) noexcept;

struct TaskRun {
  TaskOutcome outcome = TaskOutcome::error;
  std::string detail;  // Z3's reason for unknown, or the parse error
};

// Parses `smtlib` with z3::solver::from_string in a fresh context and checks it. Never throws.
TaskRun run_smtlib_task(std::string_view smtlib, unsigned timeout_ms = task_check_timeout_ms);

}  // namespace bf::verified
