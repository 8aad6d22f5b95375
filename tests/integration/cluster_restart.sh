#!/usr/bin/env bash
# A head restart resumes the log chain (issue 5), at n = 4 (f = 1) and n = 7 (f = 2), each with f
# Byzantine workers: ask twice, stop the head (SIGTERM, exit 0), start it again on the same log
# directory, ask again: sequences continue and `log verify` passes across the restart. Workers stay
# up; the new head re-dials them.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/cluster.bash"

restart_case() { # n
  local n=$1 f=$(( ($1 - 1) / 3 )) old restart back hpid q
  dir=$tmp/n$n
  out=$("$bf" cluster start --workers "$n" --byzantine "$f" --kind wrong --dir "$dir" --heartbeat-ms 100 2>&1)
  expect_rc "cluster start" 0 $?
  http=$(cluster_http)
  for q in "1+1" "2+3"; do
    out=$("$bf" query ask "$q" --dir "$dir" 2>&1); expect_rc "ask $q" 0 $?
  done
  expect_contains "second query" "$out" "sequence 2"

  old=$(head_pid)
  kill -TERM "$old"
  for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$old" 2>/dev/null && fail "the head did not stop on SIGTERM" || pass
  expect_contains "head stopped cleanly" "$(cat "$dir/logs/head.log")" "stopped; 2 queries answered"

  restart=$(now_ms)
  "$bf" head --key "$dir/keys/head.key" --membership "$dir/membership.json" --http "$http" --log-dir "$dir/log" \
    --heartbeat-ms 100 2>"$dir/head2.log" & hpid=$!; extra_pids+=("$hpid")
  back=$(wait_connected "$n" 10000); expect_rc "n=$n: workers reconnected to the new head" 0 $?
  echo "recovery (n=$n): the restarted head had all $n workers connected ${back} ms after it was started"
  expect_contains "resume logged" "$(cat "$dir/head2.log")" "resuming the chain after"
  out=$("$bf" query ask "4+4" --dir "$dir" 2>&1); expect_rc "ask after restart" 0 $?
  expect_contains "sequence continues" "$out" "sequence 3"
  expect_contains "answer after restart" "$out" "answer:      8"
  out=$("$bf" log verify "$dir/log" --membership "$dir/membership.json" 2>&1); expect_rc "log verify across the restart" 0 $?
  expect_contains "log verify" "$out" "3 files verify and the hash chain is unbroken"

  kill -TERM "$hpid"; wait "$hpid"; expect_rc "n=$n: restarted head exits 0 on SIGTERM" 0 $?
  "$bf" cluster stop --dir "$dir" >/dev/null 2>&1  # the workers
}

restart_case 4
restart_case 7
finish
