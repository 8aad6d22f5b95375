#!/usr/bin/env bash
# A real cluster on loopback (issue 5): 4 workers, the last one Byzantine (wrong answers). Asks
# through `butterfly query ask` and the HTTP API, audits every certificate offline, checks the
# HTTP errors and limits, and that workers and the head exit 0 on SIGTERM.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/cluster.bash"

out=$("$bf" cluster start --workers 4 --byzantine 1 --kind wrong --dir "$dir" 2>&1); expect_rc "cluster start" 0 $?
expect_contains "cluster start" "$out" "butterfly query ask"
http=$(cluster_http)

out=$("$bf" query ask "2+2?" --dir "$dir" 2>&1); expect_rc "query ask" 0 $?
expect_contains "query ask answer" "$out" "answer:      4"
expect_contains "query ask outcome" "$out" "outcome:     decided"
# The head decides as soon as the honest three agree, so the liar is either outvoted (its answer
# came in time and is in the certificate) or silent (it came after the decision); never a signer.
signers=$(echo "$out" | grep '^signers:')
others=$(echo "$out" | grep -E '^(outvoted|silent):')
[[ "$signers" != *worker-04* && "$others" == *worker-04* ]] && pass || fail "worker-04 should be outvoted or silent: $out"
expect_contains "query ask verdict" "$out" "verdict:     PASS"

out=$("$bf" query ask "6*7" --agreement numeric --json --dir "$dir"); expect_rc "query ask --json" 0 $?
[[ $(echo "$out" | json_field "j['outcome']") == decided ]] && pass || fail "numeric: not decided: $out"
[[ $(echo "$out" | json_field "j['verification']['verdict']") == PASS ]] && pass || fail "numeric: verdict"
[[ $(echo "$out" | json_field "j['answer']") == 42 ]] && pass || fail "numeric: answer"

# OpenAI-compatible endpoint: the answer in choices, the certificate in the extension field.
out=$(curl -s "http://$http/v1/chat/completions" -d '{"model":"x","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"10-3"}]}')
[[ $(echo "$out" | json_field "j['choices'][0]['message']['content']") == 7 ]] && pass || fail "chat: $out"
seq=$(echo "$out" | json_field "j['butterfly']['sequence']")
[[ $(echo "$out" | json_field "j['butterfly']['outcome']") == decided ]] && pass || fail "chat outcome"

# The certificate over HTTP is the logged file, byte for byte.
curl -s "http://$http/v1/certificates/$seq" -o "$tmp/got.cert"
cmp -s "$tmp/got.cert" "$dir/log/$(printf %06d "$seq").cert" && pass || fail "GET /v1/certificates/$seq differs from the log"
out=$(curl -s "http://$http/v1/certificates/$seq?format=json"); expect_contains "certificate json" "$out" '"verdict":"PASS"'
out=$("$bf" cert verify "$tmp/got.cert" --membership "$dir/membership.json"); expect_rc "cert verify" 0 $?

out=$(curl -s "http://$http/v1/status")
[[ $(echo "$out" | json_field "j['connected']") == 4 ]] && pass || fail "status: $out"
expect_contains "status reputation" "$out" '"reputation"'
out=$(curl -s "http://$http/metrics")
expect_contains "metrics stages" "$out" 'butterfly_stage_ms_bucket{stage="consensus"'
expect_contains "metrics outcome" "$out" 'butterfly_queries_total{outcome="decided"} 3'
expect_contains "metrics detections" "$out" '# TYPE butterfly_detections_total counter'
# A wrong answer is detected only when it arrives before the decision (else the liar is silent),
# so the count is checked against what the certificates say, not assumed.
outvoted=0
for c in "$dir"/log/*.cert; do
  "$bf" cert show "$c" | grep -q '"worker": 3' && outvoted=$((outvoted + 1))
done
if ((outvoted > 0)); then
  expect_contains "metrics wrong-answer detections" "$out" 'butterfly_detections_total{kind="wrong-answer"}'
else
  pass
fi

# Errors: JSON with a code, the right status, and the connection's neighbours unaffected.
code=$(curl -s -o "$tmp/e" -w '%{http_code}' "http://$http/v1/query" -d 'not json'); expect_rc "bad body status" 400 "$code"
expect_contains "bad body" "$(cat "$tmp/e")" '"code":"invalid_request"'
code=$(curl -s -o "$tmp/e" -w '%{http_code}' "http://$http/v1/query" -d '{"query":"1+1","mode":"chant"}'); expect_rc "bad mode" 400 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$http/v1/nothing"); expect_rc "unknown route" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$http/v1/certificates/999999"); expect_rc "missing certificate" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X GET "http://$http/v1/query"); expect_rc "wrong method" 405 "$code"
head -c 70000 /dev/zero | tr '\0' 'a' > "$tmp/big"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$http/v1/query" -H 'Content-Type: application/json' --data-binary @"$tmp/big")
expect_rc "body over 64 KiB" 413 "$code"
out=$("$bf" query ask "3+3?" --dir "$dir" 2>&1); expect_rc "still serving after bad requests" 0 $?

out=$("$bf" log verify "$dir/log" --membership "$dir/membership.json" 2>&1); expect_rc "log verify" 0 $?
expect_contains "log verify" "$out" "hash chain is unbroken"

out=$("$bf" cluster stop --dir "$dir"); expect_rc "cluster stop" 0 $?
expect_contains "cluster stop" "$out" "head (pid"
[[ $(echo "$out" | grep -c ": stopped") == 5 ]] && pass || fail "cluster stop: not every process stopped: $out"
expect_contains "head log" "$(cat "$dir/logs/head.log")" "stopped;"

# SIGTERM: a worker and a head run directly (so their exit status is visible) exit 0.
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$bf" worker --key "$dir/keys/worker-01.key" --membership "$dir/membership.json" --listen "127.0.0.1:$port" \
  --model "script:$dir/answer.sh" 2>"$tmp/w.log" & wpid=$!; extra_pids+=("$wpid")
"$bf" head --key "$dir/keys/head.key" --membership "$dir/membership.json" --http 127.0.0.1:0 --log-dir "$tmp/log2" \
  2>"$tmp/h.log" & hpid=$!; extra_pids+=("$hpid")
for _ in $(seq 50); do grep -q listening "$tmp/w.log" && grep -q listening "$tmp/h.log" && break; sleep 0.05; done
kill -TERM "$wpid" "$hpid"
wait "$wpid"; expect_rc "worker exits 0 on SIGTERM" 0 $?
wait "$hpid"; expect_rc "head exits 0 on SIGTERM" 0 $?
finish
