#!/usr/bin/env bash
# Certificates end to end (issue 4): keys, membership, the example log from bf_cert_tool,
# `butterfly cert verify` / `cert show` / `log verify`, and tampering caught with the check named.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
tool=${BF_CERT_TOOL:-$(dirname "$bf")/bf_cert_tool}
[[ -x "$tool" ]] || { echo "bf_cert_tool not found at $tool (build the bf_cert_tool target)"; exit 1; }
source "$(dirname "$0")/lib/checks.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ex=$tmp/example
flip() { # file offset: xor one byte with 0x01
  python3 - "$1" "$2" <<'PY'
import sys
p, at = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[at] ^= 1; open(p, "wb").write(bytes(b))
PY
}

# The example cluster: four keyed workers (delta Byzantine), a head, four certificates and evidence.
out=$("$tool" --out "$ex"); expect_rc "bf_cert_tool" 0 $?
"$tool" --out "$tmp/again" >/dev/null
cmp -s "$ex/log/000001.cert" "$tmp/again/log/000001.cert" && pass || fail "bf_cert_tool is not byte-stable"
m=$ex/membership.json

for f in 000001.cert 000002.cert 000003.cert 000004.cert 000005.cert 000003.equivocation; do
  out=$("$bf" cert verify "$ex/log/$f" --membership "$m"); rc=$?
  expect_rc "cert verify $f" 0 $rc
  expect_contains "cert verify $f" "$out" "Verdict: PASS"
done
out=$("$bf" cert verify "$ex/log/000001.cert" --membership "$m")
for check in encoding membership quorum answer-ids worker-signatures signers decision fusion head-signature; do
  expect_contains "check $check listed" "$out" "PASS $check"
done
out=$("$bf" cert verify "$ex/log/000003.equivocation" --membership "$m")
expect_contains "equivocation proven" "$out" "equivocation proven"

json=$("$bf" cert verify "$ex/log/000002.cert" --membership "$m" --json)
v=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["verdict"])' "$json")
[[ "$v" == PASS ]] && pass || fail "cert verify --json verdict $v"
json=$("$bf" cert show "$ex/log/000001.cert")
v=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["outcome"], j["fusion"]["value_micro"])' "$json")
[[ "$v" == "decided 42000000" ]] && pass || fail "cert show: '$v'"

out=$("$bf" log verify "$ex/log" --membership "$m"); expect_rc "log verify" 0 $?
expect_contains "log verify" "$out" "hash chain is unbroken"

# Any single-byte change fails, naming the check.
declare -A offsets=([50]="head-signature" [150]="answer-ids" [46]="encoding" [250]="worker-signatures")
for at in "${!offsets[@]}"; do
  cp "$ex/log/000001.cert" "$tmp/bad.cert"; chmod u+w "$tmp/bad.cert"; flip "$tmp/bad.cert" "$at"
  out=$("$bf" cert verify "$tmp/bad.cert" --membership "$m"); rc=$?
  expect_rc "flipped byte $at" 1 $rc
  expect_contains "flipped byte $at" "$out" "FAIL ${offsets[$at]}"
  expect_contains "flipped byte $at verdict" "$out" "Verdict: FAIL"
done

# Removed, reordered and altered certificates in a log.
cp -r "$ex/log" "$tmp/removed"; rm "$tmp/removed/000002.cert"
out=$("$bf" log verify "$tmp/removed" --membership "$m"); expect_rc "log with a removed cert" 1 $?
expect_contains "removed" "$out" "a certificate was removed"
cp -r "$ex/log" "$tmp/reordered"
mv "$tmp/reordered/000002.cert" "$tmp/x"; mv "$tmp/reordered/000003.cert" "$tmp/reordered/000002.cert"
mv "$tmp/x" "$tmp/reordered/000003.cert"
out=$("$bf" log verify "$tmp/reordered" --membership "$m"); expect_rc "log reordered" 1 $?
expect_contains "reordered" "$out" "first broken link: 000002.cert"
cp -r "$ex/log" "$tmp/altered"; chmod u+w "$tmp/altered/000003.cert"; flip "$tmp/altered/000003.cert" 300
out=$("$bf" log verify "$tmp/altered" --membership "$m"); expect_rc "log altered" 1 $?
expect_contains "altered" "$out" "FAIL 000003.cert"

# Keys: 0600, never overwritten, public key only.
out=$("$bf" key generate --out "$tmp/k.key"); expect_rc "key generate" 0 $?
[[ $(stat -c %a "$tmp/k.key") == 600 ]] && pass || fail "key file mode $(stat -c %a "$tmp/k.key")"
pk=$(echo "$out" | sed -n 's/^Public key: //p')
seed=$(sed -n 's/^seed //p' "$tmp/k.key")
[[ "$out" != *"$seed"* ]] && pass || fail "key generate printed the secret seed"
out=$("$bf" key generate --out "$tmp/k.key" 2>&1); expect_rc "key generate over an existing file" 2 $?
expect_contains "no overwrite" "$out" "already exists; butterfly never overwrites it"
out=$("$bf" key show "$tmp/k.key"); expect_contains "key show" "$out" "$pk"
[[ "$out" != *"$seed"* ]] && pass || fail "key show printed the secret seed"
chmod 644 "$tmp/k.key"
out=$("$bf" key show "$tmp/k.key" 2>&1); expect_contains "key mode warning" "$out" "chmod 600"

# Membership create from the example keys reproduces the tool's digest.
out=$("$bf" membership create --cluster example --f 1 --head-key "$ex/head.key" \
  --worker delta="$ex/delta.key" --worker alpha="$ex/alpha.key" --worker bravo="$ex/bravo.key" \
  --worker charlie="$ex/charlie.key" --out "$tmp/m.json"); expect_rc "membership create" 0 $?
d1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$m")
d2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$tmp/m.json")
[[ "$d1" == "$d2" ]] && pass || fail "membership digest $d2, want $d1"
out=$("$bf" membership show "$tmp/m.json"); expect_contains "membership show" "$out" "quorum q = 3"
out=$("$bf" membership create --f 1 --head-key "$ex/head.key" --worker alpha="$ex/alpha.key" --out "$tmp/m2.json" 2>&1)
expect_rc "membership with 3f >= n" 2 $?
expect_contains "membership 3f>=n" "$out" "needs n > 3f"

# Bad inputs: exit 2 with a reason, never a crash.
out=$("$bf" cert verify "$tmp/missing.cert" --membership "$m" 2>&1); expect_rc "missing file" 2 $?
truncate -s 5M "$tmp/huge.cert"
out=$("$bf" cert verify "$tmp/huge.cert" --membership "$m" 2>&1); expect_rc "huge file" 2 $?
expect_contains "huge file" "$out" "exceed the limit"
out=$("$bf" cert verify "$ex/log/000001.cert" --membership "$ex/log/000001.cert" 2>&1); expect_rc "binary as membership" 2 $?
for cmd in "key generate" "key show" "membership create" "membership show" "cert verify" "cert show" "log verify"; do
  # shellcheck disable=SC2086
  out=$("$bf" $cmd --help 2>&1); expect_contains "'$cmd --help'" "$out" "Example"
done

# --z3: certificates naming proofs/ digests re-prove them; a digest of another proof fails.
src=${BUTTERFLY_SOURCE_DIR:?set BUTTERFLY_SOURCE_DIR}
"$tool" --out "$tmp/named" --manifest "$src/proofs/MANIFEST" >/dev/null
out=$("$bf" cert verify "$tmp/named/log/000001.cert" --membership "$tmp/named/membership.json" \
  --manifest "$src/proofs/MANIFEST" --z3); expect_rc "cert verify --z3" 0 $?
expect_contains "z3 re-proof" "$out" "PASS z3 Q2: unique_decision PROVED again; digest matches"
sed 's/^[0-9a-f]\{8\}\(.*  Q3.smt2\)$/00000000\1/' "$src/proofs/MANIFEST" >"$tmp/wrong-manifest"
"$tool" --out "$tmp/wrong" --manifest "$tmp/wrong-manifest" >/dev/null
out=$("$bf" cert verify "$tmp/wrong/log/000001.cert" --membership "$tmp/wrong/membership.json" --z3)
expect_rc "cert verify --z3 with another proof's digest" 1 $?
expect_contains "z3 digest mismatch" "$out" "FAIL z3 Q3"

# Task checks: 000005.cert carries a Z3 check of its formula answer (expected unsat), signed by the head.
out=$("$bf" cert verify "$ex/log/000005.cert" --membership "$m"); expect_rc "task cert without --z3" 0 $?
expect_contains "task checks carried" "$out" "SKIP task-checks: 1 task check(s) well-formed"
out=$("$bf" cert verify "$ex/log/000005.cert" --membership "$m" --z3); expect_rc "cert verify --z3 task" 0 $?
expect_contains "task 0 passes" "$out" "PASS task 0: z3-smtlib: Z3 says unsat, as the certificate expects"
json=$("$bf" cert show "$ex/log/000005.cert")
v=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); t=j["task_checks"][0]; print(j["version"], t["kind"], t["expected"], t["smtlib"])' "$json")
[[ "$v" == "2 z3-smtlib unsat (declare-const x Int) (assert (and (> x 2) (< x 2)))" ]] && pass || fail "cert show task: '$v'"
# The same certificate, head-signed, but expecting sat: only Z3 can tell, and task 0 FAILs.
"$tool" --out "$tmp/wrongtask" --wrong-task-expectation >/dev/null
out=$("$bf" cert verify "$tmp/wrongtask/log/000005.cert" --membership "$tmp/wrongtask/membership.json"); expect_rc "wrong expectation without --z3" 0 $?
out=$("$bf" cert verify "$tmp/wrongtask/log/000005.cert" --membership "$tmp/wrongtask/membership.json" --z3)
expect_rc "wrong expectation with --z3" 1 $?
expect_contains "task 0 fails" "$out" "FAIL task 0: z3-smtlib: Z3 says unsat but the certificate expects sat"
expect_contains "task 0 verdict" "$out" "Verdict: FAIL: the task 0 check failed"
# The formula changed on disk (one byte of the SMT-LIB text): the head signature fails.
cp "$ex/log/000005.cert" "$tmp/task.cert"; chmod u+w "$tmp/task.cert"
size=$(stat -c %s "$tmp/task.cert"); flip "$tmp/task.cert" $((size - 64 - 5))
out=$("$bf" cert verify "$tmp/task.cert" --membership "$m" --z3); expect_rc "task text altered" 1 $?
expect_contains "task text altered" "$out" "FAIL head-signature"

# Membership epoch change, head-signed by the OLD head: delta leaves at epoch 2.
out=$("$bf" membership create --cluster example --epoch 2 --f 0 --head-key "$ex/head.key" \
  --worker alpha="$ex/alpha.key" --worker bravo="$ex/bravo.key" --worker charlie="$ex/charlie.key" \
  --out "$tmp/m-epoch2.json"); expect_rc "membership create epoch 2" 0 $?
out=$("$bf" membership change --from "$m" --to "$tmp/m-epoch2.json" --head-key "$ex/head.key" --out "$tmp/e2.transition")
expect_rc "membership change" 0 $?
out=$("$bf" membership verify-change "$m" "$tmp/e2.transition"); expect_rc "membership verify-change" 0 $?
expect_contains "verify-change PASS" "$out" "Verdict: PASS: epoch 1 -> 2"
out=$("$bf" membership change --from "$m" --to "$tmp/m-epoch2.json" --head-key "$ex/head.key" --out "$tmp/e2.transition" 2>&1)
expect_rc "membership change over an existing file" 2 $?
expect_contains "change no overwrite" "$out" "already exists"
out=$("$bf" membership change --from "$tmp/m-epoch2.json" --to "$m" --head-key "$ex/head.key" --out "$tmp/back.transition" 2>&1)
expect_rc "membership change to a lower epoch" 2 $?
expect_contains "change epoch order" "$out" "must be greater than the old epoch"
[[ ! -e "$tmp/back.transition" ]] && pass || fail "a refused change wrote a file"
out=$("$bf" membership change --from "$m" --to "$tmp/m-epoch2.json" --head-key "$ex/alpha.key" --out "$tmp/x.transition" 2>&1)
expect_rc "membership change with a worker's key" 2 $?
expect_contains "change head key" "$out" "not the old membership's head key"
cp "$tmp/e2.transition" "$tmp/bad.transition"; chmod u+w "$tmp/bad.transition"; flip "$tmp/bad.transition" 60
out=$("$bf" membership verify-change "$m" "$tmp/bad.transition"); expect_rc "altered transition" 1 $?
expect_contains "altered transition" "$out" "FAIL head-signature"
expect_contains "altered transition verdict" "$out" "Verdict: FAIL"
out=$("$bf" membership verify-change "$tmp/m-epoch2.json" "$tmp/e2.transition"); expect_rc "transition against the wrong old membership" 1 $?
expect_contains "wrong old membership" "$out" "FAIL old-membership"
for cmd in "membership change" "membership verify-change"; do
  # shellcheck disable=SC2086
  out=$("$bf" $cmd --help 2>&1); expect_contains "'$cmd --help'" "$out" "Example"
done

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
