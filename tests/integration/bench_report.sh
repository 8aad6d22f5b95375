#!/usr/bin/env bash
# scripts/bench_report.py (issue 9): docs/results.md is generated from the committed JSON in
# bench/results and places every seed section (measured tables or a stated reason); a results
# directory that lacks suites must make it fail, naming the sections left without an answer.
set -uo pipefail
src=${BUTTERFLY_SOURCE_DIR:?set BUTTERFLY_SOURCE_DIR to the source tree}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# 1. The committed results: every section placed, plots drawn when matplotlib is there.
py=python3
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import matplotlib' 2>/dev/null; then py=$p; break; fi
done
if ! out=$("$py" "$src/scripts/bench_report.py" --results "$src/bench/results" --out "$tmp/results.md" --plots "$tmp/plots" 2>&1); then
  fail "bench_report.py on bench/results: $out"
fi
for section in "2.1" "3.2" "4.1" "4.2" "5.1" "5.2" "6.3" "7.1"; do
  grep -q "^## $section " "$tmp/results.md" || fail "results.md has no section $section"
done
grep -q "NOT MEASURED" "$tmp/results.md" && fail "results.md has a seed section nobody answered: $(grep 'NOT MEASURED' "$tmp/results.md" | head -3)"
grep -q '\*\*measured\*\*' "$tmp/results.md" || fail "results.md has no measured table"
if "$py" -c 'import matplotlib' 2>/dev/null; then
  ls "$tmp/plots"/*.png >/dev/null 2>&1 || fail "matplotlib is installed but no PNG was drawn"
  ls "$tmp/plots"/*.svg >/dev/null 2>&1 || fail "matplotlib is installed but no SVG was drawn"
else
  echo "note: matplotlib missing for $py: plots not checked (scripts/setup installs python3-matplotlib)"
fi

# 2. Only the detection suite's JSON: the sections it does not answer must be named, exit 1.
mkdir -p "$tmp/partial"
cp "$src/bench/results/detection.json" "$tmp/partial/"
out=$("$py" "$src/scripts/bench_report.py" --results "$tmp/partial" --out "$tmp/partial.md" --plots "$tmp/pplots" 2>&1)
rc=$?
[[ $rc == 1 ]] || fail "a results directory without most suites gave exit $rc, expected 1"
[[ "$out" == *"no table and no stated reason: 2.1"* ]] || fail "the missing sections were not named: $out"

# 3. An unreadable JSON is a failure, not a silent gap.
mkdir -p "$tmp/bad" && cp "$src/bench/results/"*.json "$tmp/bad/" && echo '{"suite": ' >"$tmp/bad/broken.json"
"$py" "$src/scripts/bench_report.py" --results "$tmp/bad" --out "$tmp/bad.md" --plots "$tmp/bplots" >/dev/null 2>&1 &&
  fail "an unreadable JSON file did not fail the report"

if ((failures)); then echo "bench_report: $failures failure(s)"; exit 1; fi
echo "bench_report: all checks passed"
