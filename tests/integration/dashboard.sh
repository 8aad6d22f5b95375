#!/usr/bin/env bash
# The web dashboard in headless Chromium with axe-core (issue 8): tests/a11y/test_dashboard.py
# against a real n = 4 cluster with one Byzantine worker. Screenshots and axe results go to
# $BUTTERFLY_ARTIFACTS/dashboard (default: BUILD/test-artifacts/dashboard).
# When Chromium, chromedriver or the venv from scripts/a11y-setup is missing, it still checks the
# pages over plain HTTP (served, HTML, the verdict, escaping), then exits 77 (skip) saying why.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
src=${BUTTERFLY_SOURCE_DIR:?set BUTTERFLY_SOURCE_DIR to the source tree}
cache="${BUTTERFLY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/butterfly}"
py="$cache/a11y-venv/bin/python"
missing=""
for need in /usr/bin/chromium /usr/bin/chromedriver "$py"; do
  [[ -x $need ]] || missing="$missing $need"
done
if [[ -z $missing ]]; then
  build=$(cd "$(dirname "$bf")/.." && pwd)
  artifacts="${BUTTERFLY_ARTIFACTS:-$build/test-artifacts}/dashboard"
  exec "$py" "$src/tests/a11y/test_dashboard.py" "$bf" "$artifacts"
fi

# No browser: the pages over HTTP only.
source "$(dirname "$0")/lib/cluster.bash"
out=$("$bf" cluster start --workers 4 --byzantine 1 --kind wrong --dir "$dir" 2>&1); expect_rc "cluster start" 0 $?
http=$(cluster_http)
out=$(curl -s "http://$http/v1/query" -d '{"query":"2+2?"}'); expect_contains "query" "$out" '"outcome":"decided"'
curl -s "http://$http/v1/query" -d '{"query":"<b>x</b>"}' >/dev/null
page=$(curl -s -i "http://$http/"); expect_contains "status page" "$page" "Content-Type: text/html; charset=utf-8"
expect_contains "status page" "$page" "<th scope=\"row\">alpha (worker-01)</th>"
page=$(curl -s "http://$http/queries"); expect_contains "queries page" "$page" "&lt;b&gt;x&lt;/b&gt;"
[[ $page != *"<b>x</b>"* ]] && pass || fail "queries page: the query text is not escaped"
page=$(curl -s "http://$http/certificates/1"); expect_contains "certificate page" "$page" "Verdict: <span class=\"state pass\">PASS</span>"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$http/certificates/999"); expect_rc "missing certificate" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$http/help"); expect_rc "POST /help" 405 "$code"
if ! finish; then exit 1; fi
echo "SKIP: the browser checks need$missing; run scripts/a11y-setup"
exit 77
