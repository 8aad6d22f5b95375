#!/usr/bin/env bash
# A network partition with real processes (issue 5), at n = 4 (f = 1, q = 3) and n = 7 (f = 2,
# q = 5). The last f + 1 workers are reached through TCP forwarders (lib/tcp_proxy.py) that then
# stop forwarding without closing anything. The head must notice by its heartbeat deadline, fail
# closed with a certified NoQuorum (never decide with fewer than q), and decide again once the
# partition heals. Prints the detection and recovery times it measured.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/cluster.bash"
proxy=$(dirname "$0")/lib/tcp_proxy.py

partition_case() { # n
  local n=$1 f=$(( ($1 - 1) / 3 ))
  local cut_ids=() i
  for (( i = n - f; i <= n; i++ )); do cut_ids+=("$(printf 'worker-%02d' "$i")"); done
  dir=$tmp/n$n
  out=$("$bf" cluster start --workers "$n" --dir "$dir" --round-timeout-ms 1000 --heartbeat-ms 100 2>&1)
  expect_rc "cluster start" 0 $?
  http=$(cluster_http)

  # Put a forwarder in front of the last f + 1 workers: addresses are not part of the membership
  # digest (spec/membership.md), so the same membership, with these addresses, is still valid.
  local old hpid port p target cut healed back detected cert v rc proxies=()
  old=$(head_pid)
  kill -TERM "$old"
  for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
  for id in "${cut_ids[@]}"; do
    target=$(python3 -c "import json,sys; print([w['address'] for w in json.load(open(sys.argv[1]))['workers'] if w['id']==sys.argv[2]][0])" "$dir/membership.json" "$id")
    python3 "$proxy" 0 "$target" > "$tmp/proxy-$id.out" 2>&1 & p=$!; extra_pids+=("$p"); proxies+=("$p")
    for _ in $(seq 100); do grep -q listening "$tmp/proxy-$id.out" && break; sleep 0.05; done
    port=$(awk '/listening/ {print $2}' "$tmp/proxy-$id.out")
    [[ -n "$port" ]] && pass || fail "the forwarder for $id did not start"
    python3 -c '
import json, sys
path, wid, addr = sys.argv[1:4]
m = json.load(open(path))
for w in m["workers"]:
    if w["id"] == wid:
        w["address"] = addr
json.dump(m, open(path, "w"), indent=2)' "$dir/membership.json" "$id" "127.0.0.1:$port"
  done
  "$bf" head --key "$dir/keys/head.key" --membership "$dir/membership.json" --http "$http" --log-dir "$dir/log" \
    --round-timeout-ms 1000 --heartbeat-ms 100 2>"$tmp/head2.log" & hpid=$!; extra_pids+=("$hpid")
  wait_connected "$n" 10000 >/dev/null; expect_rc "n=$n: all connected, $((f + 1)) through forwarders" 0 $?
  out=$("$bf" query ask "1+1" --dir "$dir" --json 2>&1); expect_rc "ask before the partition" 0 $?
  expect_contains "decided before the partition" "$out" '"outcome": "decided"'

  # The partition: the forwarders drop everything, closing nothing.
  cut=$(now_ms)
  kill -USR1 "${proxies[@]}"
  detected=$(wait_connected $((n - f - 1)) 5000); expect_rc "n=$n: partition detected ($((f + 1)) workers declared dead)" 0 $?
  echo "detection (n=$n): partition of ${cut_ids[*]} reported after ${detected} ms (heartbeat 100 ms)"
  out=$("$bf" query ask "2+2" --dir "$dir" --json 2>&1); rc=$?
  expect_contains "fails closed during the partition" "$out" '"outcome": "no-quorum"'
  cert=$(python3 -c "import json,sys; print(json.loads(sys.stdin.read())['certificate_path'])" <<<"$out" 2>/dev/null)
  if [[ -n "$cert" && -f "$cert" ]]; then
    v=$("$bf" cert verify "$cert" --membership "$dir/membership.json" 2>&1); expect_rc "NoQuorum certificate verifies" 0 $?
  else
    fail "no certificate path in the NoQuorum reply (rc $rc): $out"
  fi

  kill -USR2 "${proxies[@]}"
  healed=$(now_ms)
  back=$(wait_connected "$n" 15000); expect_rc "n=$n: reconnected after healing" 0 $?
  echo "recovery (n=$n): all $n workers connected ${back} ms after the partition healed"
  out=$("$bf" query ask "3+3" --dir "$dir" --json 2>&1); expect_rc "ask after healing" 0 $?
  expect_contains "decided after healing" "$out" '"outcome": "decided"'

  out=$("$bf" log verify "$dir/log" --membership "$dir/membership.json" 2>&1); expect_rc "log verify across the partition" 0 $?
  expect_contains "log verify" "$out" "3 files verify and the hash chain is unbroken"
  : "$cut" "$healed"
  kill -TERM "$hpid"; wait "$hpid"; expect_rc "n=$n: head exits 0 on SIGTERM" 0 $?
  "$bf" cluster stop --dir "$dir" >/dev/null 2>&1  # the workers (cluster.json names the first head)
  kill "${proxies[@]}" 2>/dev/null
}

partition_case 4
partition_case 7
finish
