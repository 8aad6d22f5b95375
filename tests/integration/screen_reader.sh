#!/usr/bin/env bash
# Screen-reader mode (BUTTERFLY_SCREEN_READER=1 / --screen-reader) for every command people read:
# linear plain text (no ANSI escapes, no box-drawing characters U+2500-257F, no |--+ rules or
# column tables), the result on the first line, workers by their phonetic names. A real local
# cluster with the script model (one Byzantine worker) provides query ask, status and the logs.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
failures=0
passes=0
pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
tmp=$(mktemp -d)
dir=$tmp/cluster
cleanup() {
  [[ -f $dir/cluster.json ]] && "$bf" cluster stop --dir "$dir" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
export BUTTERFLY_SCREEN_READER=1

# linear NAME TEXT FIRST-LINE-REGEX: the checks every screen-reader output must pass.
linear() {
  local name=$1 text=$2 first=$3
  if [[ -z "$text" ]]; then fail "$name: no output"; return; fi
  if [[ "$text" == *$'\x1b'* ]]; then fail "$name: ANSI escape in the output"; else pass; fi
  if printf '%s' "$text" | python3 -c 'import sys; t = sys.stdin.buffer.read().decode("utf-8", "replace"); sys.exit(any(0x2500 <= ord(c) <= 0x257F for c in t))'; then
    pass
  else
    fail "$name: box-drawing characters in the output"
  fi
  # Rules and column tables: runs of - = + | used as lines, or a | between words.
  if grep -qE '^[[:space:]]*[-=+|]{3,}|[-+]{3,}[[:space:]]*$| \| |	' <<<"$text"; then
    fail "$name: a rule, a column separator or a tab"; grep -nE '^[[:space:]]*[-=+|]{3,}|[-+]{3,}[[:space:]]*$| \| |	' <<<"$text" | head -3
  else
    pass
  fi
  # Three or more spaces between words: columns aligned for the eye.
  if grep -qE '[^ ]   +[^ ]' <<<"$text"; then
    fail "$name: column alignment"; grep -nE '[^ ]   +[^ ]' <<<"$text" | head -3
  else
    pass
  fi
  local line1; line1=$(head -n 1 <<<"$text")
  if [[ "$line1" =~ $first ]]; then pass; else fail "$name: first line '$line1' does not match /$first/"; fi
}

# Help is plain text too: "--flag TYPE: description" lines, no columns.
out=$("$bf" --help); linear "--help" "$out" '^Butterfly: '
out=$("$bf" cluster start --help); linear "cluster start --help" "$out" '^Generate keys'
[[ "$out" == *"  --byzantine UINT: How many"* ]] && pass || fail "cluster start --help: flag lines: $out"
# Without the mode the same help is in columns, so the column check above can fail.
cols=$(BUTTERFLY_SCREEN_READER=0 "$bf" cluster start --help)
grep -qE '[^ ]   +[^ ]' <<<"$cols" && pass || fail "cluster start --help without the mode has no columns (the check proves nothing)"
out=$("$bf" quorum table --max-n 7); linear "quorum table" "$out" '^Quorum for n workers'
[[ "$out" == *"n 6, f 1: seed quorum 3, safe quorum 4"* ]] && pass || fail "quorum table: no sentence for n 6"
out=$("$bf" quorum check --n 6 --f 1); linear "quorum check" "$out" '^n = 6, f = 1: quorum q = 4'
out=$("$bf" fuse answers --f 1 --answer alpha=42 --answer bravo=42 --answer charlie=42.1 --answer delta=9000)
linear "fuse answers" "$out" '^Answer: '
out=$("$bf" sim run --seeds 20); linear "sim run" "$out" '^PASS 20 seeds'

# Colour and escapes stay off on a terminal too (script gives the command a pty); without the
# mode the same command colours its verdicts, so this check can fail.
if command -v script >/dev/null; then
  out=$(script -qec "$bf quorum table --max-n 6" /dev/null </dev/null)
  [[ "$out" != *$'\x1b['* ]] && pass || fail "quorum table on a terminal: escape codes in screen-reader mode"
  out=$(BUTTERFLY_SCREEN_READER=0 script -qec "$bf quorum table --max-n 6" /dev/null </dev/null)
  [[ "$out" == *$'\x1b['* ]] && pass || fail "quorum table on a terminal without the mode: no colour (the check above proves nothing)"
fi

# A real cluster: start, ask, status, audit, stop.
out=$("$bf" cluster start --workers 4 --byzantine 1 --dir "$dir" 2>"$tmp/start.err"); rc=$?
if ((rc != 0)); then
  fail "cluster start exited $rc: $(cat "$tmp/start.err")"
else
  linear "cluster start" "$out" '^Cluster running in .* with 4 workers'
  [[ "$out" == *"Workers: alpha, bravo, charlie and delta."* ]] && pass || fail "cluster start: phonetic names: $out"
  [[ "$out" == *"Byzantine on purpose (wrong): delta."* ]] && pass || fail "cluster start: the Byzantine worker by name"
  progress=$(cat "$tmp/start.err")
  [[ $(wc -l <<<"$progress") -le 2 && "$progress" == *"4 of 4 workers connected."* ]] && pass ||
    fail "cluster start progress: want at most 2 complete sentences, got: $progress"

  out=$("$bf" query ask "2+2?" --dir "$dir" 2>"$tmp/ask.err"); rc=$?
  [[ $rc -eq 0 ]] && pass || fail "query ask exited $rc"
  # The acknowledgement, said the moment the query is sent, is progress on stderr; stdout still
  # starts with the result.
  [[ "$(cat "$tmp/ask.err")" == "Asked 4 workers, alpha to delta; an answer needs 3 that agree." ]] && pass ||
    fail "query ask: the acknowledgement on stderr: $(cat "$tmp/ask.err")"
  linear "query ask" "$out" '^Answer: 4\.$'
  line2=$(sed -n 2p <<<"$out")
  [[ "$line2" =~ ^Decided\ in\ 1\ round\ by\ [a-z]+ ]] && pass || fail "query ask line 2: $line2"
  [[ "$out" != *"worker-0"*"round by"* && "$line2" != *worker-* ]] && pass || fail "query ask: ids instead of names: $line2"
  verdict_line=$(grep -n 'Certificate verified offline: PASS.' <<<"$out" | cut -d: -f1)
  first_check=$(grep -n '^Check ' <<<"$out" | head -n 1 | cut -d: -f1)
  [[ -n $verdict_line && -n $first_check && $verdict_line -lt $first_check ]] && pass ||
    fail "query ask: the verdict must come before the checks"
  # The same names in the column mode.
  plain=$(BUTTERFLY_SCREEN_READER=0 "$bf" query ask "3+4" --dir "$dir")
  [[ "$plain" == *"alpha (worker-01)"* ]] && pass || fail "query ask (plain): no phonetic names: $plain"

  out=$("$bf" cluster status --dir "$dir"); linear "cluster status" "$out" '^4 of 4 workers connected'
  [[ "$out" =~ Worker\ delta:\ reputation\ 0\.[0-9]+,\ connected ]] && pass || fail "cluster status: delta's sentence: $out"
  out=$("$bf" status --dir "$dir"); rc=$?
  [[ $rc -eq 0 ]] && pass || fail "status exited $rc"
  linear "status" "$out" '^Cluster in .*: up, 4 of 4 worker processes alive'
  [[ "$out" == *"Certificate log $dir/log: 2 certificates"* ]] && pass || fail "status: the log: $out"
  json=$("$bf" status --dir "$dir" --json)
  check=$(python3 -c '
import json, sys
s = json.loads(sys.argv[1])
bad = []
if [w["name"] for w in s["workers"]] != ["alpha", "bravo", "charlie", "delta"]: bad.append("names")
if not all(w["alive"] and len(w["public_key"]) == 64 and w["key"]["matches_membership"] for w in s["workers"]): bad.append("workers")
if s["log"]["certificates"] != 2 or s["log"]["last_certificate"]["sequence"] != 2: bad.append("log")
if s["chain"]["next_sequence"] != 3: bad.append("chain")
if not s["head"]["answering"] or s["workers"][3]["reputation"] >= 1: bad.append("head view")
if "seed" in json.dumps(s).lower(): bad.append("a secret seed is printed")
print(", ".join(bad) or "ok")' "$json")
  [[ "$check" == ok ]] && pass || fail "status --json: $check"

  cert=$(ls "$dir"/log/*.cert | head -n 1)
  out=$("$bf" cert verify "$cert" --membership "$dir/membership.json"); linear "cert verify" "$out" '^Verdict: PASS'
  out=$("$bf" log verify "$dir/log" --membership "$dir/membership.json"); linear "log verify" "$out" '^Verdict: PASS'

  "$bf" query ask "2+3" --dir "$dir" --json >/dev/null 2>"$tmp/ask-json.err"
  [[ ! -s "$tmp/ask-json.err" ]] && pass || fail "query ask --json: stderr must stay empty: $(cat "$tmp/ask-json.err")"
  # --sound: the query-sent tone at once, the outcome's tone after, both as files with timings.
  json=$("$bf" query ask "4+4" --dir "$dir" --sound --json 2>/dev/null)
  check=$(python3 -c '
import json, os, sys
j = json.loads(sys.argv[1]); s = j.get("sound", {})
bad = [k for k in ("submitted", "outcome") if k not in s or os.path.getsize(s[k]["file"]) < 1000]
if not bad and s["submitted"]["delivered_unix_ms"] > s["outcome"]["delivered_unix_ms"]: bad.append("order")
if j.get("answer") != "8": bad.append("answer")
print(", ".join(bad) or "ok")' "$json")
  [[ "$check" == ok ]] && pass || fail "query ask --sound: $check"
  if command -v espeak-ng >/dev/null; then
    out=$("$bf" query ask "6*7" --dir "$dir" --speak --speak-out "$tmp/answer.wav" 2>"$tmp/speak.err"); rc=$?
    [[ $rc -eq 0 ]] && pass || fail "query ask --speak exited $rc: $(cat "$tmp/speak.err")"
    linear "query ask --speak" "$out" '^Answer: 42\.$'
    size=$(stat -c %s "$tmp/answer.wav" 2>/dev/null || echo 0)
    ((size > 10000)) && pass || fail "query ask --speak wrote $size bytes of WAV"
    size=$(stat -c %s "$tmp/submitted.wav" 2>/dev/null || echo 0)
    ((size > 10000)) && pass || fail "query ask --speak: the spoken acknowledgement has $size bytes of WAV"
  else
    echo "espeak-ng not installed: skipping --speak"
  fi

  "$bf" cluster stop --dir "$dir" >/dev/null
  out=$("$bf" status --dir "$dir"); rc=$?
  [[ $rc -eq 1 ]] && pass || fail "status of a stopped cluster exited $rc, want 1"
  linear "status (stopped)" "$out" '^Cluster in .*: stopped, 0 of 4 worker processes alive'
  [[ "$out" == *"reputation 1 (from the last certificate)"* ]] && pass || fail "status (stopped): reputation from the log"
  # A key file that no longer matches the membership is shown, not hidden.
  cp -p "$dir/keys/worker-01.key" "$dir/keys/worker-02.key"
  out=$("$bf" status --dir "$dir")
  [[ "$out" == *"bravo's key file $dir/keys/worker-02.key is not the key the membership names"* ]] && pass ||
    fail "status: a replaced key file is not reported: $out"
fi

model=$(ls "${BUTTERFLY_MODELS:-${BUTTERFLY_SOURCE_DIR:-.}/models}"/SmolLM2-135M-Instruct*.gguf 2>/dev/null | head -n 1)
if [[ -n "$model" ]]; then
  out=$("$bf" generate --model "$model" "Say hi." --max-tokens 4 2>/dev/null); linear "generate" "$out" '.'
else
  echo "SmolLM2 GGUF absent: skipping generate"
fi

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
