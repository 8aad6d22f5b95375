#!/usr/bin/env bash
# Workers that dial the head (issue 5: `butterfly head --listen`): a membership whose workers have
# no address; the head listens, the four workers dial it with --head, a query decides with a
# verifying certificate, and a worker killed and started again redials on its own.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/cluster.bash"

# Keys and a membership from `cluster start`, then everything stopped and the addresses removed
# (they are not part of the membership digest).
out=$("$bf" cluster start --workers 4 --dir "$dir" 2>&1); expect_rc "cluster start" 0 $?
http=$(cluster_http)
"$bf" cluster stop --dir "$dir" >/dev/null 2>&1
python3 - "$dir/membership.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for w in m["workers"]:
    w.pop("address", None)
json.dump(m, open(sys.argv[1], "w"), indent=2)
PY
listen=127.0.0.1:$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
mkdir -p "$tmp/log2"
"$bf" head --key "$dir/keys/head.key" --membership "$dir/membership.json" --http "$http" --log-dir "$tmp/log2" \
  --listen "$listen" --heartbeat-ms 100 2>"$tmp/head.log" & hpid=$!; extra_pids+=("$hpid")
wpids=()
start_worker() { # index (1-based)
  "$bf" worker --key "$dir/keys/worker-0$1.key" --membership "$dir/membership.json" --head "$listen" \
    --model "script:$dir/answer.sh" 2>>"$tmp/worker-$1.log" & wpids[$1]=$!; extra_pids+=("${wpids[$1]}")
}
for i in 1 2 3 4; do start_worker "$i"; done
took=$(wait_connected 4 10000); expect_rc "four workers dialled in" 0 $?
echo "dial-in: four workers connected ${took} ms after start"
expect_contains "head listens" "$(cat "$tmp/head.log")" "listening for workers on $listen"
out=$("$bf" query ask "3+4" --http "$http" --membership "$dir/membership.json" --json 2>&1); expect_rc "ask" 0 $?
expect_contains "decided" "$out" '"outcome": "decided"'
expect_contains "verified" "$out" '"verdict": "PASS"'

kill -9 "${wpids[2]}"
wait_connected 3 5000 >/dev/null; expect_rc "killed worker seen" 0 $?
start_worker 2
back=$(wait_connected 4 10000); expect_rc "restarted worker redialled" 0 $?
echo "recovery: the restarted worker was connected again ${back} ms after it was started"
out=$("$bf" query ask "5+6" --http "$http" --membership "$dir/membership.json" --json 2>&1); expect_rc "ask after redial" 0 $?
expect_contains "decided after redial" "$out" '"outcome": "decided"'

# A worker started without --head, --listen or an address says what to do.
err=$("$bf" worker --key "$dir/keys/worker-01.key" --membership "$dir/membership.json" --model instant:4 2>&1)
expect_rc "no address: usage error" 2 $?
expect_contains "what to do" "$err" "--head HOST:PORT"
out=$("$bf" log verify "$tmp/log2" --membership "$dir/membership.json" 2>&1); expect_rc "log verify" 0 $?
kill -TERM "$hpid"; wait "$hpid"; expect_rc "head exits 0 on SIGTERM" 0 $?
finish
