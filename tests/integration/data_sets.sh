#!/usr/bin/env bash
# The accuracy data sets (data/README.md, issue 9): scripts/gen-data regenerates arith and formal
# byte for byte; Z3 agrees with every formal label (and a flipped label is caught); every file has
# the documented format; data/README.md lists each file's sha256.
set -uo pipefail
src=${BUTTERFLY_SOURCE_DIR:?set BUTTERFLY_SOURCE_DIR to the source tree}
command -v z3 >/dev/null || { echo "z3 not installed (scripts/setup installs it)"; exit 77; }
source "$(dirname "$0")/lib/checks.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$("$src/scripts/gen-data" --out "$tmp/gen" 2>&1) && pass || fail "gen-data: $out"
for f in arith.jsonl formal.jsonl; do
  cmp -s "$tmp/gen/$f" "$src/data/$f" && pass || fail "scripts/gen-data does not reproduce data/$f"
done

out=$("$src/scripts/gen-data" --check-labels "$src/data/formal.jsonl" 2>&1); rc=$?
[[ $rc == 0 && "$out" == *"200 passed, 0 failed"* ]] && pass || fail "formal labels: exit $rc: $out"
# The check can fail: flip one label (answer and expected) and one expected alone.
python3 - "$src/data/formal.jsonl" "$tmp/flipped.jsonl" <<'PY'
import json, sys
items = [json.loads(x) for x in open(sys.argv[1])]
items[0]["answer"] = {"true": "false", "false": "true"}[items[0]["answer"]]
items[0]["expected"] = {"sat": "unsat", "unsat": "sat"}[items[0]["expected"]]
items[7]["expected"] = {"sat": "unsat", "unsat": "sat"}[items[7]["expected"]]
open(sys.argv[2], "w").write("".join(json.dumps(i) + "\n" for i in items))
PY
out=$("$src/scripts/gen-data" --check-labels "$tmp/flipped.jsonl" 2>&1); rc=$?
[[ $rc == 1 && "$out" == *"FAIL formal-0001"* && "$out" == *"FAIL formal-0008"* && "$out" == *"198 passed, 2 failed"* ]] \
  && pass || fail "flipped labels not caught: exit $rc: $out"

# Format (data/README.md) and the sha256 list; the checker must also reject a malformed file.
cat >"$tmp/check_format.py" <<'PY'
import hashlib, json, pathlib, re, sys
root = pathlib.Path(sys.argv[1])
files = sorted(root.glob("*.jsonl"))
errors = []
for path in files:
    name = path.stem
    ids = set()
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        errors.append(f"{path.name}: empty")
    for n, raw in enumerate(lines, 1):
        where = f"{path.name}:{n}"
        try:
            it = json.loads(raw)
        except ValueError as e:
            errors.append(f"{where}: not JSON: {e}")
            continue
        keys = list(it)
        kind = it.get("kind")
        want = {"choice": ["id", "set", "kind", "question", "choices", "answer"],
                "number": ["id", "set", "kind", "question", "answer"],
                "bool": ["id", "set", "kind", "question", "answer"]}.get(kind)
        if want is None:
            errors.append(f"{where}: kind {kind!r}")
            continue
        if name == "formal":
            want = want + ["smtlib", "expected"]
        if keys != want:
            errors.append(f"{where}: keys {keys}, want {want}")
            continue
        if it["set"] != name or it["id"] in ids or not it["question"].strip():
            errors.append(f"{where}: set, id or question")
        ids.add(it["id"])
        a = it["answer"]
        if kind == "choice":
            letters = "ABCDEFGH"[: len(it["choices"])]
            if len(it["choices"]) < 2 or not all(isinstance(c, str) and c for c in it["choices"]) or a not in letters:
                errors.append(f"{where}: choices or answer {a!r}")
        elif kind == "number" and not re.fullmatch(r"-?[0-9]+", a):
            errors.append(f"{where}: answer {a!r} is not an integer")
        elif kind == "bool" and a not in ("true", "false"):
            errors.append(f"{where}: answer {a!r}")
        if name == "formal":
            if it["expected"] not in ("sat", "unsat") or "(check-sat)" not in it["smtlib"] \
                    or len(it["smtlib"]) > 65536 or re.search(r"[^\x20-\x7e\n]", it["smtlib"]):
                errors.append(f"{where}: smtlib or expected")
readme = (root / "README.md").read_text()
listed = dict((m.group(2), m.group(1)) for m in re.finditer(r"^([0-9a-f]{64})  (\S+\.jsonl)$", readme, re.M))
for path in files:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if listed.get(path.name) != digest:
        errors.append(f"{path.name}: sha256 {digest} is not the one README.md lists ({listed.get(path.name)})")
for name in listed:
    if not (root / name).exists():
        errors.append(f"README.md lists {name}, which is missing")
for e in errors[:20]:
    print(e)
print(f"{len(files)} files, {len(errors)} errors")
sys.exit(1 if errors or not files else 0)
PY
out=$(python3 "$tmp/check_format.py" "$src/data" 2>&1); rc=$?
[[ $rc == 0 ]] && pass || fail "data format: $out"
[[ -f "$src/data/arith.jsonl" && -f "$src/data/formal.jsonl" ]] && pass || fail "data/arith.jsonl or formal.jsonl missing"
mkdir -p "$tmp/bad"
cp "$src/data/README.md" "$src/data/arith.jsonl" "$tmp/bad/"
sed -i '3s/"answer": "[0-9]*"/"answer": "forty"/' "$tmp/bad/arith.jsonl"
out=$(python3 "$tmp/check_format.py" "$tmp/bad" 2>&1); rc=$?
[[ $rc == 1 && "$out" == *"arith.jsonl:3: answer 'forty'"* && "$out" == *"arith.jsonl: sha256"* ]] \
  && pass || fail "the format check missed a bad answer and sha256: $out"

finish
