#!/usr/bin/env bash
# Task checks through the HTTP API (spec/http.md, "Task checks"): a real cluster of instant workers
# gets queries with the Z3 checks of two formal claims from data/formal.jsonl; the head signs them
# into the certificate; `butterfly cert verify --z3` re-runs them (PASS), and a check whose expected
# result is wrong makes it FAIL naming the task. Bad task_checks fields get a 400 naming the field.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
src=${BUTTERFLY_SOURCE_DIR:?set BUTTERFLY_SOURCE_DIR to the source tree}
source "$(dirname "$0")/lib/cluster.bash"

# Bodies from the data set: the claim is the query; its smtlib/expected pair is the task check.
python3 - "$src/data/formal.jsonl" "$tmp" <<'PY'
import json, sys
items = [json.loads(x) for x in open(sys.argv[1])]
a, b = items[0], items[1]
assert (a["expected"], b["expected"]) == ("unsat", "sat"), "the test expects formal-0001 unsat, formal-0002 sat"
check = lambda it, expected: {"smtlib": it["smtlib"], "expected": expected}
def write(name, body):
    open(f"{sys.argv[2]}/{name}.json", "w").write(json.dumps(body))
write("good", {"query": a["question"], "task_checks": [check(a, a["expected"]), check(b, b["expected"])]})
# The wrong one: the second check claims formal-0001's script is sat (Z3 says unsat).
write("wrong", {"query": a["question"], "task_checks": [check(b, b["expected"]), check(a, "sat")]})
write("bad_expected", {"query": "x", "task_checks": [check(a, "unsat"), {"smtlib": a["smtlib"], "expected": "valid"}]})
write("too_many", {"query": "x", "task_checks": [check(a, "unsat")] * 9})
write("bad_byte", {"query": "x", "task_checks": [{"smtlib": a["smtlib"] + "; \u00e9", "expected": "unsat"}]})
PY

out=$("$bf" cluster start --workers 4 --model instant:true --dir "$dir" 2>&1); expect_rc "cluster start" 0 $?
http=$(cluster_http)
m=$dir/membership.json
post() { curl -s -o "$tmp/reply.json" -w '%{http_code}' "http://$http/v1/query" -H 'content-type: application/json' --data-binary "@$tmp/$1.json"; }

code=$(post good); expect_rc "POST good task checks" 200 "$code"
seq=$(json_field "j['sequence']" <"$tmp/reply.json")
[[ $(json_field "j['outcome']" <"$tmp/reply.json") == decided ]] && pass || fail "good: not decided: $(cat "$tmp/reply.json")"
cert=$dir/log/$(printf %06d "$seq").cert
out=$("$bf" cert show "$cert")
[[ $(echo "$out" | json_field "len(j['task_checks'])") == 2 ]] && pass || fail "cert show: not 2 task checks: $out"
[[ $(echo "$out" | json_field "j['task_checks'][0]['expected']") == unsat ]] && pass || fail "task 0 expected"
out=$("$bf" cert verify "$cert" --membership "$m" --z3 2>&1); expect_rc "cert verify --z3 good" 0 $?
expect_contains "task 0 passes" "$out" "PASS task 0: z3-smtlib: Z3 says unsat, as the certificate expects"
expect_contains "task 1 passes" "$out" "PASS task 1: z3-smtlib: Z3 says sat, as the certificate expects"
expect_contains "good verdict" "$out" "Verdict: PASS"

code=$(post wrong); expect_rc "POST wrong task check" 200 "$code"
seq=$(json_field "j['sequence']" <"$tmp/reply.json")
cert=$dir/log/$(printf %06d "$seq").cert
# Without --z3 the auditor cannot judge the claim; the certificate itself is sound.
out=$("$bf" cert verify "$cert" --membership "$m" 2>&1); expect_rc "cert verify without --z3" 0 $?
expect_contains "without --z3 the checks are skipped" "$out" "SKIP task-checks: 2 task check(s) well-formed"
out=$("$bf" cert verify "$cert" --membership "$m" --z3 2>&1); expect_rc "cert verify --z3 wrong" 1 $?
expect_contains "task 1 fails" "$out" "FAIL task 1: z3-smtlib: Z3 says unsat but the certificate expects sat"
expect_contains "task 0 still passes" "$out" "PASS task 0: z3-smtlib: Z3 says sat, as the certificate expects"
expect_contains "wrong verdict names the task" "$out" "the task 1 check failed"

for bad in bad_expected too_many bad_byte; do
  code=$(post "$bad"); expect_rc "POST $bad" 400 "$code"
  expect_contains "POST $bad code" "$(cat "$tmp/reply.json")" '"code":"invalid_request"'
done
post bad_expected >/dev/null; expect_contains "names the field" "$(cat "$tmp/reply.json")" "task_checks[1].expected"
post too_many >/dev/null; expect_contains "names the limit" "$(cat "$tmp/reply.json")" "'task_checks' has 9 entries; at most 8"
post bad_byte >/dev/null; expect_contains "names the byte" "$(cat "$tmp/reply.json")" "task_checks[0].smtlib' has byte 195"
# Refused requests issue no certificate: the chain holds only the two accepted queries.
[[ $(ls "$dir/log"/*.cert | wc -l) == 2 ]] && pass || fail "log: $(ls "$dir/log")"

"$bf" cluster stop --dir "$dir" >/dev/null 2>&1; expect_rc "cluster stop" 0 $?
finish
