#include "verified/task_check.hpp"

#include <z3++.h>

namespace bf::verified {

const char* task_outcome_name(TaskOutcome o) noexcept {
  switch (o) {
    case TaskOutcome::sat: return "sat";
    case TaskOutcome::unsat: return "unsat";
    case TaskOutcome::unknown: return "unknown";
    case TaskOutcome::error: return "error";
  }
  return "?";
}

TaskRun run_smtlib_task(std::string_view smtlib, unsigned timeout_ms) {
  TaskRun out;
  try {
    z3::context ctx;
    z3::solver solver(ctx);
    z3::params p(ctx);
    p.set("timeout", timeout_ms);
    solver.set(p);
    solver.from_string(std::string(smtlib).c_str());
    switch (solver.check()) {
      case z3::sat: out.outcome = TaskOutcome::sat; break;
      case z3::unsat: out.outcome = TaskOutcome::unsat; break;
      case z3::unknown:
        out.outcome = TaskOutcome::unknown;
        out.detail = solver.reason_unknown();
        break;
    }
  } catch (const z3::exception& e) {
    out.outcome = TaskOutcome::error;
    out.detail = std::string("Z3 could not parse or run the SMT-LIB text: ") + e.msg();
  }
  return out;
}

}  // namespace bf::verified
