#!/usr/bin/env bash
# Every Byzantine kind against a real n = 7, f = 2 cluster (issue 5), with f = 2 misbehaving
# workers of that kind at once (worker-06 and worker-07): the query still decides the right
# answer, neither Byzantine worker signs it (an equivocator's honest half may), the certificate
# verifies offline, the head records its detections, and both equivocators are isolated. Then
# f + 1 = 3 colluders: honest 4 and colluding 3 both fall short of q = 5, so the outcome must be a
# certified no-consensus / no-quorum, never a Decided wrong answer.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/cluster.bash"
t0=$(now_ms)
byzantine=(worker-06 worker-07)

for kind in wrong random equivocate collude slow silent malformed replay; do
  dir=$tmp/$kind
  start=$(now_ms)
  declare -A outvoted=([worker-06]=0 [worker-07]=0)
  out=$("$bf" cluster start --workers 7 --byzantine 2 --kind "$kind" --dir "$dir" --round-timeout-ms 1000 \
        --heartbeat-ms 100 2>&1)
  expect_rc "cluster start ($kind)" 0 $?
  for q in "2+2?:4" "9-3:6"; do
    ask_decided "${q%%:*}" "${q##*:}" "$kind"
    for w in "${byzantine[@]}"; do
      [[ $(echo "$out" | grep '^outvoted:') == *"$w"* ]] && outvoted[$w]=1
    done
    signers=$(echo "$out" | grep '^signers:')
    # An equivocator's honest half may complete the quorum, and a replayer's answer is genuine (the
    # attack is the re-sent frame behind it, refused by sequence): both may sign, safely.
    if [[ $kind != equivocate && $kind != replay ]]; then
      for w in "${byzantine[@]}"; do
        [[ "$signers" != *"$w"* ]] && pass || fail "$kind: $w signed: $signers"
      done
    fi
  done
  for w in "${byzantine[@]}"; do
    index=$(( 10#${w#worker-} - 1 ))
    case $kind in  # what the head must have noticed (slow and silent are outvoted by time)
      wrong|random|collude) want=$([[ ${outvoted[$w]} == 1 ]] && echo wrong-answer) ;;
      equivocate) want=equivocation ;;
      malformed) want=bad-frame ;;
      replay) want="bad-frame: frame sequence" ;;
      *) want="" ;;
    esac
    for _ in $(seq 40); do  # a late second answer (equivocate) lands after the reply: give it 2 s
      [[ -z "$want" ]] || grep -qF "($w) $want" "$dir/logs/head.log" && break
      sleep 0.05
    done
    [[ $kind == equivocate ]] && expect_contains "equivocator $w isolated" "$(cat "$dir/logs/head.log")" "isolated worker $index ($w)"
    [[ -z "$want" ]] || expect_contains "head detects $kind from $w" "$(cat "$dir/logs/head.log")" "($w) $want"
  done
  detections=$(grep -o "detection: worker [0-9] (worker-0[67]) [a-z-]*" "$dir/logs/head.log" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
  out=$("$bf" log verify "$dir/log" --membership "$dir/membership.json" 2>&1); expect_rc "log verify ($kind)" 0 $?
  echo "kind $kind (n=7, 2 Byzantine): decided in $(( $(now_ms) - start )) ms incl. start-up; head detections:${detections:- none}"
  "$bf" cluster stop --dir "$dir" >/dev/null
  unset outvoted
done

expect_colluders_beyond_f 7
echo "total $(( $(now_ms) - t0 )) ms"
finish
