# Shared helpers of the cluster_*.sh integration tests: real processes on loopback, free ports,
# every child killed on exit. Source it after setting `bf`.
source "$(dirname "${BASH_SOURCE[0]}")/checks.bash"
now_ms() { date +%s%3N; }
tmp=$(mktemp -d)
dir=$tmp/cluster
extra_pids=()
cleanup() {
  if [[ -f $dir/cluster.json ]]; then
    "$bf" cluster stop --dir "$dir" >/dev/null 2>&1
    for pid in $(python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print(c['head']['pid'], *[w['pid'] for w in c['workers']])" "$dir/cluster.json" 2>/dev/null); do
      kill -9 "$pid" 2>/dev/null
    done
  fi
  for pid in "${extra_pids[@]}"; do { kill -9 "$pid" && wait "$pid"; } 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
json_field() { # file-or-json-text python-expression on j
  python3 -c "import json,sys; j=json.loads(sys.stdin.read()); print($1)"
}
# Plain grep/sed where it is enough: python3's start-up costs ~0.4 s on a busy 2-core machine.
cluster_http() { sed -n 's/^ *"http": *"\([^"]*\)".*/\1/p' "$dir/cluster.json"; }
worker_pid() { # id
  python3 -c "import json,sys; print([w['pid'] for w in json.load(open(sys.argv[1]))['workers'] if w['id']==sys.argv[2]][0])" "$dir/cluster.json" "$1"
}
head_pid() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['head']['pid'])" "$dir/cluster.json"; }
connected_count() { # the head's count of connected workers (-1: no answer)
  local n; n=$(curl -s --max-time 2 "http://$http/v1/status" | grep -o '"connected":[0-9]*' | head -n1 | cut -d: -f2)
  echo "${n:--1}"
}
# Waits until /v1/status reports N connected workers; prints the milliseconds it took.
wait_connected() { # n timeout_ms
  local start; start=$(now_ms)
  while (( $(now_ms) - start < $2 )); do
    if [[ "$(connected_count)" == "$1" ]]; then echo $(( $(now_ms) - start )); return 0; fi
    sleep 0.02
  done
  echo "timeout"; return 1
}
# Asks the cluster in $dir QUESTION, which must be decided with ANSWER and verify offline; leaves
# the reply in $out (printed when it failed or did not decide).
ask_decided() { # question answer label
  local rc
  out=$("$bf" query ask "$1" --dir "$dir" 2>&1); rc=$?
  expect_rc "ask $1 ($3)" 0 $rc
  expect_contains "answer ($3)" "$out" "answer:      $2"
  expect_contains "decided ($3)" "$out" "outcome:     decided"
  expect_contains "verified ($3)" "$out" "verdict:     PASS"
  if [[ $rc != 0 || "$out" != *"outcome:     decided"* ]]; then echo "$out"; fi
}
# f + 1 colluders at size N (f = (N - 1) / 3): they alone cannot reach q, and the honest rest cannot
# either, so the outcome must be a certified no-consensus or no-quorum, never a Decided wrong answer.
expect_colluders_beyond_f() { # n
  local n=$1 k=$(( ($1 - 1) / 3 + 1 )) out outcome verdict
  dir=$tmp/collude$k
  out=$("$bf" cluster start --workers "$n" --byzantine "$k" --kind collude --dir "$dir" --round-timeout-ms 1000 2>&1)
  expect_rc "cluster start ($k colluders)" 0 $?
  out=$("$bf" query ask "2+2?" --dir "$dir" --json 2>&1); expect_rc "ask ($k colluders)" 0 $?
  outcome=$(echo "$out" | json_field "j['outcome']")
  verdict=$(echo "$out" | json_field "j['verification']['verdict']")
  echo "f+1 colluders at n=$n: outcome $outcome, certificate $verdict"
  [[ "$outcome" == no-consensus || "$outcome" == no-quorum ]] && pass ||
    fail "$k colluders: outcome '$outcome', want no-consensus or no-quorum: $out"
  expect_rc "$k colluders: certificate verifies" PASS "$verdict"
  out=$("$bf" log verify "$dir/log" --membership "$dir/membership.json" 2>&1); expect_rc "log verify ($k colluders)" 0 $?
}
