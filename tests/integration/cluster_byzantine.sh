#!/usr/bin/env bash
# Every Byzantine kind against a real n = 4, f = 1 cluster (issue 5): the query still decides the
# right answer, the certificate verifies offline, and the head's detections are recorded. Then
# f + 1 = 2 colluders at n = 4: what is guaranteed is that nothing wrong is certified as Decided
# unless the colluders alone reach the quorum (q = 3 > 2 here), so the outcome must be a certified
# no-consensus / no-quorum, never a Decided wrong answer.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/cluster.bash"
t0=$(now_ms)

for kind in wrong random equivocate collude slow silent malformed replay; do
  dir=$tmp/$kind
  start=$(now_ms)
  outvoted=0
  out=$("$bf" cluster start --workers 4 --byzantine 1 --kind "$kind" --dir "$dir" --round-timeout-ms 1000 \
        --heartbeat-ms 100 2>&1)
  expect_rc "cluster start ($kind)" 0 $?
  http=$(cluster_http)
  for q in "2+2?:4" "9-3:6"; do
    ask_decided "${q%%:*}" "${q##*:}" "$kind"
    [[ $(echo "$out" | grep '^outvoted:') == *worker-04* ]] && outvoted=1
  done
  # The Byzantine worker never signs a Decided certificate's answer.
  signers=$(echo "$out" | grep '^signers:')
  if [[ $kind == equivocate || $kind == replay ]]; then
    # One of an equivocator's two answers is the honest one; when it arrives first and completes
    # the quorum the query decides before the second exists (safe: q tolerates f signers that
    # lie). The second answer, before or after the decision, is evidence: isolation is checked below.
    # A replayer's answer is genuine and accepted; the attack is the frame re-sent behind it.
    :
  else
    [[ "$signers" != *worker-04* ]] && pass || fail "$kind: worker-04 signed: $signers"
  fi
  case $kind in  # what the head must have noticed (slow and silent are simply outvoted by time)
    # Only when its wrong answer came before the decision (outvoted); a later one is ignored.
    wrong|random|collude) want=$([[ $outvoted == 1 ]] && echo wrong-answer) ;;
    equivocate) want=equivocation ;;  # also when the second answer comes after the decision
    malformed) want=bad-frame ;;
    replay) want="bad-frame: frame sequence" ;;  # the exact bytes of an earlier frame, refused by sequence
    *) want="" ;;
  esac
  for _ in $(seq 40); do  # a late second answer (equivocate) lands after the reply: give it 2 s
    [[ -z "$want" ]] || grep -qF "(worker-04) $want" "$dir/logs/head.log" && break
    sleep 0.05
  done
  [[ $kind == equivocate ]] && expect_contains "equivocator isolated" "$(cat "$dir/logs/head.log")" "isolated worker 3 (worker-04)"
  [[ $kind == replay ]] && expect_contains "replay named" "$(cat "$dir/logs/head.log")" "replayed"
  [[ -z "$want" ]] || expect_contains "head detects $kind" "$(cat "$dir/logs/head.log")" "(worker-04) $want"
  detections=$(grep -o "detection: worker 3 (worker-04) [a-z-]*" "$dir/logs/head.log" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
  out=$("$bf" log verify "$dir/log" --membership "$dir/membership.json" 2>&1); expect_rc "log verify ($kind)" 0 $?
  echo "kind $kind: decided in $(( $(now_ms) - start )) ms incl. start-up; head detections:${detections:- none}"
  "$bf" cluster stop --dir "$dir" >/dev/null
done

expect_colluders_beyond_f 4
echo "total $(( $(now_ms) - t0 )) ms"
finish
