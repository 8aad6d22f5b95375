# Shared by the integration tests: the pass/fail counters, expectations, JSON assertions and the
# final tally. Source it after `set -uo pipefail`; end the script with `finish`.
failures=0
passes=0
pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_rc() { # name want got
  if [[ "$2" == "$3" ]]; then pass; else fail "$1: exit $3, want $2"; fi
}
expect_contains() { # name haystack needle
  if [[ "$2" == *"$3"* ]]; then pass; else fail "$1: output lacks '$3'"; echo "$2" | head -30; fi
}
# check FILE PYTHON-ASSERTIONS: runs the assertions on j = the JSON in FILE.
check() {
  if python3 - "$1" "$2" <<'PY'; then pass; else fail "$1: $2"; fi
import json, sys
j = json.load(open(sys.argv[1]))
exec(sys.argv[2])
PY
}
finish() {
  echo "$passes checks passed, $failures failed"
  [[ $failures -eq 0 ]]
}
