#!/usr/bin/env bash
# Audio end to end (issue 8): `butterfly sound incident/render/tone/legend` and `butterfly speak`
# with the real binary; the WAV files are checked with sox (channels, length, level) and the
# spatial placement with python's wave module (channel energy and onset order).
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
src=${BUTTERFLY_SOURCE_DIR:?set BUTTERFLY_SOURCE_DIR to the source tree}
command -v sox >/dev/null || { echo "SKIP: sox is not installed (Debian package sox)"; exit 77; }
command -v espeak-ng >/dev/null || { echo "SKIP: espeak-ng is not installed (Debian package espeak-ng)"; exit 77; }
failures=0
passes=0
pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_rc() { if [[ "$2" == "$3" ]]; then pass; else fail "$1: exit $3, want $2"; fi; }
expect_contains() { if [[ "$2" == *"$3"* ]]; then pass; else fail "$1: output lacks '$3'"; echo "$2" | head -20; fi; }
tmp=$(mktemp -d)
cleanup() {
  [[ -f $tmp/cluster/cluster.json ]] && "$bf" cluster stop --dir "$tmp/cluster" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# Left/right energy ratio and onset difference (right minus left, in samples) of a stereo WAV.
balance() {
  python3 - "$1" <<'PY'
import struct, sys, wave
w = wave.open(sys.argv[1]); n = w.getnframes(); raw = w.readframes(n)
s = struct.unpack("<%dh" % (2 * n), raw)
l, r = s[0::2], s[1::2]
el = sum(x * x for x in l); er = sum(x * x for x in r)
# each channel's onset at a tenth of its own peak (the far ear is quieter as well as later)
# over the first event alone (its first 250 ms)
on = lambda c: next(i for i, x in enumerate(c) if abs(x) >= 0.1 * max(abs(v) for v in c[:11025]))
print("%.3f %d" % (el / max(er, 1), on(r) - on(l)))
PY
}

# A Byzantine incident on the leftmost and the rightmost of four workers.
out=$("$bf" sound incident --worker 0 --workers 4 --out "$tmp/left.wav"); expect_rc "incident 0" 0 $?
expect_contains "incident 0" "$out" "worker 0 (alpha)"
"$bf" sound incident --worker 3 --workers 4 --out "$tmp/right.wav" >/dev/null; expect_rc "incident 3" 0 $?
info=$(sox --i "$tmp/left.wav")
expect_contains "incident channels" "$info" "Channels       : 2"
expect_contains "incident rate" "$info" "Sample Rate    : 44100"
read -r ratio delay < <(balance "$tmp/left.wav")
python3 -c "import sys; sys.exit(0 if float('$ratio') > 2 and 15 <= $delay <= 30 else 1)" && pass ||
  fail "worker 0: left/right energy $ratio (want > 2), right onset later by $delay samples (want the ITD, ~21)"
read -r ratio delay < <(balance "$tmp/right.wav")
python3 -c "import sys; sys.exit(0 if float('$ratio') < 0.5 and -30 <= $delay <= -15 else 1)" && pass ||
  fail "worker 3: left/right energy $ratio (want < 0.5), left onset later by $((-delay)) samples (want ~21)"
"$bf" sound incident --worker 4 --workers 4 --out "$tmp/x.wav" 2>/dev/null; expect_rc "incident worker out of range" 2 $?
"$bf" sound incident --worker 0 --workers 4 --out "$tmp/left.wav" 2>/dev/null; expect_rc "never overwrites" 2 $?

# The example certificate log (delta, worker 3, is Byzantine): delta's events sit on the right.
json=$("$bf" sound render --log "$src/tests/fuzz/corpus/certificate" --workers 4 --out "$tmp/log.wav" --json)
expect_rc "render" 0 $?
v=$(python3 -c '
import json, sys
j = json.loads(sys.argv[1]); ev = j["events"]
byz = [e for e in ev if e["kind"] == "byzantine-detected"]
print(j["certificates"], len(byz) > 0 and all(e["name"] == "delta" and e["azimuth_deg"] == 60 for e in byz),
      any(e["kind"] == "query-decided" for e in ev))' "$json")
[[ "$v" == "5 True True" ]] && pass || fail "render events: '$v'"
stat=$(sox "$tmp/log.wav" -n stat 2>&1)
amp=$(echo "$stat" | sed -n 's/^Maximum amplitude: *//p')
python3 -c "import sys; sys.exit(0 if float('$amp') > 0.1 else 1)" && pass || fail "render: maximum amplitude $amp"
"$bf" sound render --log "$src/tests/fuzz/corpus/certificate" --workers 5 --out "$tmp/y.wav" 2>/dev/null
expect_rc "render --workers mismatch" 2 $?
"$bf" sound render --log "$tmp/nothing" --out "$tmp/y.wav" 2>/dev/null; expect_rc "render missing log" 2 $?

# A real cluster (built-in script model, worker-04 lies): three queries, then its log as sound.
# The liar is outvoted or silent in each query, so every worker event is delta's, at +60 degrees.
if out=$("$bf" cluster start --workers 4 --byzantine 1 --kind wrong --dir "$tmp/cluster" 2>&1); then
  pass
  for q in "2+2?" "3*3" "10-3"; do "$bf" query ask "$q" --dir "$tmp/cluster" >/dev/null; expect_rc "query ask $q" 0 $?; done
  json=$("$bf" sound render --log "$tmp/cluster/log" --workers 4 --out "$tmp/cluster.wav" --json); expect_rc "render cluster log" 0 $?
  v=$(python3 -c '
import json, sys
ev = json.loads(sys.argv[1])["events"]
mine = [e for e in ev if "worker" in e]
print(sum(e["kind"] == "query-decided" for e in ev), len(mine) >= 3 and all(e["name"] == "delta" and e["azimuth_deg"] == 60 for e in mine))' "$json")
  [[ "$v" == "3 True" ]] && pass || fail "cluster log events (decided count, delta only): '$v'"
  "$bf" cluster stop --dir "$tmp/cluster" >/dev/null 2>&1
else
  fail "cluster start: $out"
fi

# One tone; an unknown kind is named.
"$bf" sound tone --kind partition --latency 50 --out "$tmp/tone.wav" >/dev/null; expect_rc "tone" 0 $?
err=$("$bf" sound tone --kind nope --out "$tmp/t2.wav" 2>&1); expect_rc "tone unknown kind" 2 $?
expect_contains "tone unknown kind" "$err" "byzantine-detected"

# Speech to a file: sox sees audio in it.
out=$("$bf" speak "The cluster decided forty two. Delta was outvoted." --out "$tmp/speech.wav" --no-play --json)
expect_rc "speak" 0 $?
v=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["sentences"], j["first_write_unix_ms"] >= j["start_unix_ms"])' "$out")
[[ "$v" == "2 True" ]] && pass || fail "speak json: '$v'"
info=$(sox --i "$tmp/speech.wav")
expect_contains "speech rate" "$info" "Sample Rate    : 22050"
secs=$(sox --i -D "$tmp/speech.wav")
rms=$(sox "$tmp/speech.wav" -n stat 2>&1 | sed -n 's/^RMS     amplitude: *//p')
python3 -c "import sys; sys.exit(0 if float('$secs') > 1.0 and float('$rms') > 0.01 else 1)" && pass ||
  fail "speech: $secs s, RMS $rms"
echo "Worker bravo is slow." | "$bf" speak - --out "$tmp/stdin.wav" --no-play >/dev/null; expect_rc "speak stdin" 0 $?
"$bf" speak "x" --no-play 2>/dev/null; expect_rc "speak --no-play without --out" 2 $?
# Without espeak-ng on PATH the error names the package.
err=$(PATH=/nonexistent "$bf" speak "hello" --out "$tmp/none.wav" 2>&1); expect_rc "speak without espeak-ng" 1 $?
expect_contains "speak without espeak-ng" "$err" "install the Debian package espeak-ng"

# The legend: eight sounds and four places, each followed by its spoken name.
json=$("$bf" sound legend --out "$tmp/legend.wav" --json); expect_rc "legend" 0 $?
v=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(len(j["items"]), j["seconds"] > 5)' "$json")
[[ "$v" == "12 True" ]] && pass || fail "legend: '$v'"

for c in "speak" "sound render" "sound legend" "sound incident" "sound tone"; do
  out=$("$bf" $c --help 2>&1); expect_contains "$c --help" "$out" "Examples:"
done

echo "$passes checks passed, $failures failed"
[[ $failures -eq 0 ]]
