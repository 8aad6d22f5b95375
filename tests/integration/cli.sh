#!/usr/bin/env bash
# The butterfly command line as a user meets it: results, exit codes, did-you-mean, --json, NO_COLOR.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/checks.bash"

# quorum table --json: the seed's rows, q(6,1) = 4, n = 3, 5, 6 flagged unsafe with a counterexample.
json=$("$bf" quorum table --json) || fail "quorum table --json exited $?"
check=$(python3 - "$json" <<'PY'
import json, sys
rows = {r["n"]: r for r in json.loads(sys.argv[1])["rows"]}
seed = {3: (0, 1), 4: (1, 3), 5: (1, 3), 6: (1, 3), 7: (2, 5), 10: (3, 7), 13: (4, 9)}
bad = []
for n, (f, q) in seed.items():
    r = rows[n]
    if (r["f"], r["seed_quorum"]) != (f, q): bad.append(f"n={n}: f/2f+1 {r['f']}/{r['seed_quorum']} != seed {f}/{q}")
    if r["seed_safe"] == (n in (3, 5, 6)): bad.append(f"n={n}: seed_safe={r['seed_safe']}")
    if n in (3, 5, 6):
        c = r.get("counterexample")
        if not c: bad.append(f"n={n}: no counterexample"); continue
        byz, a, b = set(c["byzantine"]), set(c["honest_a"]), set(c["honest_b"])
        if len(byz) > f or a & b or (a | b) & byz or len(a | byz) < q or len(b | byz) < q or len(a | b | byz) > n:
            bad.append(f"n={n}: counterexample does not show two quorums: {c}")
if rows[6]["safe_quorum"] != 4: bad.append("q(6,1) != 4")
print("; ".join(bad) or "ok")
PY
)
[[ "$check" == ok ]] && pass || fail "quorum table --json: $check"

# Plain text table names the unsafe rows.
text=$(NO_COLOR=1 "$bf" quorum table)
expect_contains "quorum table" "$text" "UNSAFE"
[[ "$text" != *$'\x1b['* ]] && pass || fail "NO_COLOR output contains escape codes"

# quorum check explains one row; 3f >= n is a clear error with exit 2.
out=$("$bf" quorum check --n 6 --f 1); expect_contains "quorum check" "$out" "quorum q = 4"
out=$("$bf" quorum check --n 6 --f 2 2>&1); rc=$?
[[ $rc -eq 2 ]] && pass || fail "quorum check --n 6 --f 2 exit $rc, want 2"
expect_contains "quorum check 3f>=n" "$out" "3f < n"

# Did-you-mean for commands and flags; unknown input exits 2.
out=$("$bf" prov 2>&1); rc=$?
[[ $rc -eq 2 ]] && pass || fail "'butterfly prov' exit $rc, want 2"
expect_contains "did-you-mean command" "$out" "Did you mean 'prove'?"
out=$("$bf" quorum tabel 2>&1); expect_contains "did-you-mean subcommand" "$out" "Did you mean 'table'?"
out=$("$bf" quorum table --jsn 2>&1); expect_contains "did-you-mean flag" "$out" "Did you mean '--json'?"

# Every command's --help carries examples.
for cmd in "" "quorum" "quorum table" "quorum check" "prove" "fuse" "fuse answers"; do
  # shellcheck disable=SC2086
  out=$("$bf" $cmd --help 2>&1)
  if [[ "$cmd" == "quorum" || "$cmd" == "fuse" ]]; then expect_contains "$cmd --help" "$out" "Subcommands"
  else expect_contains "'$cmd --help'" "$out" "Example"; fi
done

# One round with one Byzantine worker: the honest answer wins, the Byzantine one loses reputation.
out=$("$bf" fuse answers --f 1 --answer alpha=42 --answer bravo=42.0 --answer charlie=41.9 --answer delta=9000)
rc=$?
[[ $rc -eq 0 ]] && pass || fail "fuse answers exit $rc"
expect_contains "fuse answer" "$out" "Answer: 42 "
expect_contains "fuse outsider" "$out" "delta answered 9000"
json=$("$bf" fuse answers --f 1 --json --answer alpha=42 --answer bravo=42 --answer charlie=42 --answer delta=9000)
verdict=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); w={x["worker"]:x for x in d["workers"]}; print(d["outcome"], d["answer"], w["delta"]["reputation_after"] < w["delta"]["reputation_before"])' "$json")
[[ "$verdict" == "decided 42 True" ]] && pass || fail "fuse --json verdict '$verdict'"

# Two against two cannot decide at n = 4 (q = 3): exit 1 and the outcome says why.
out=$("$bf" fuse answers --f 1 --answer a=1 --answer b=1 --answer c=2 --answer d=2); rc=$?
[[ $rc -eq 1 ]] && pass || fail "split vote exit $rc, want 1"
expect_contains "split vote" "$out" "no-consensus"

# Bad numbers are named.
out=$("$bf" fuse answers --f 0 --answer a=forty 2>&1); rc=$?
[[ $rc -eq 2 ]] && pass || fail "bad number exit $rc, want 2"
expect_contains "bad number" "$out" "worker a answered 'forty'"

# prove: all PROVED (exit 0); a mutant FAILS with a counterexample (exit 1).
out=$("$bf" prove); rc=$?
[[ $rc -eq 0 ]] && pass || { fail "prove exit $rc"; echo "$out"; }
[[ "$out" != *FAILED* ]] && pass || fail "prove printed FAILED"
out=$("$bf" prove --only Q2 --mutant seed-2f+1); rc=$?
[[ $rc -eq 1 ]] && pass || fail "prove mutant exit $rc, want 1"
expect_contains "prove mutant" "$out" "counterexample"

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
