#!/usr/bin/env bash
# `butterfly bench run accuracy --smoke` end to end (issue 9's CI smoke): real clusters of
# SmolLM2 workers answer one item of each data set with one worker and with four (one Byzantine,
# debate mode). Checks the JSON's structure, that every query got a reply and that the scoring
# agrees with the answers it reports; never the accuracy or the speed (a 135M model, CI machines
# differ). Exit 77 (skipped) when the model is not fetched.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
src=${BUTTERFLY_SOURCE_DIR:?set BUTTERFLY_SOURCE_DIR}
model=$(ls "${BUTTERFLY_MODELS:-$src/models}"/SmolLM2-135M-Instruct*.gguf 2>/dev/null | head -n 1)
[[ -n "$model" ]] || { echo "SKIP: SmolLM2 GGUF absent (run scripts/fetch-model)"; exit 77; }
[[ -f "$src/data/arith.jsonl" ]] || { echo "SKIP: $src/data/arith.jsonl absent"; exit 77; }
source "$(dirname "$0")/lib/checks.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$("$bf" bench run accuracy --smoke --data "$src/data" --json --out "$tmp/out" 2>&1)
rc=$?
[[ $rc == 0 ]] && pass || { fail "accuracy --smoke: exit $rc"; echo "$out" | tail -20; }
[[ "$out" == *"rerun:   butterfly bench run accuracy --data $src/data --smoke"* ]] && pass || fail "output lacks the rerun command"
if python3 - "$tmp/out/accuracy.json" <<'EOF'; then pass; else fail "accuracy.json structure"; fi
import json, sys
j = json.load(open(sys.argv[1]))
assert j["suite"] == "accuracy" and j["machine"]["cores"] >= 1 and j["command"].startswith("butterfly bench run accuracy")
sets = sorted({c["set"] for c in j["configs"]})
assert "arith" in sets and "formal" in sets, sets
assert sorted({c["config"] for c in j["configs"]}) == ["debate+byzantine", "single"], j["configs"]
for c in j["configs"]:
    assert c["items"] == 1 and c["errors"] == 0, c
    assert c["n"] == (1 if c["config"] == "single" else 4), c
    oc = c["outcomes"]
    assert oc["decided"] + oc["no_consensus"] + oc["no_quorum"] == c["items"], c
    a = c["answers"][0]
    assert a["ok"] and a["ms"] > 0 and a["rounds"] >= 1, a
    # Scoring reads only decided answers, and "correct" is the count the accuracy comes from.
    assert a["correct"] == (c["correct"] == 1) and abs(c["accuracy_pct"] - 100.0 * c["correct"]) < 1e-9, c
    if a["outcome"] != "decided":
        assert not a["correct"] and a["extracted"] == "", a
    if c["config"] == "single" and a["outcome"] == "decided":
        assert a["signers"] == 1, a
    if c["set"] == "formal":
        assert a["z3"] in ("sat", "unsat"), a  # Z3 solved the item's formula
        assert "z3_confirmed_fused" in c, c
t = {x["id"]: x for x in j["report"]["tables"]}
assert sorted(t) == ["3.1-3.3-accuracy", "3.2-fusion", "6.1-proof", "6.2-arc"], sorted(t)
acc = t["3.1-3.3-accuracy"]
assert len(acc["rows"]) == len(j["configs"]) and all(len(r) == len(acc["columns"]) for r in acc["rows"])
assert acc["seed"]["rows"] and acc["notes"]
for x in t.values():
    assert x["seed"]["columns"] and x["notes"], x["id"]
p = j["report"]["plots"][0]
assert p["kind"] == "bar" and {s["name"] for s in p["series"]} == {"single", "debate+byzantine"}, p
for s in p["series"]:
    assert len(s["x"]) == len(s["y"]) == len(sets), s
EOF

# The model's absence is reported with the command that fetches it; bad data is named by line.
empty=$(mktemp -d "$tmp/models.XXXX")
out=$(BUTTERFLY_MODELS="$empty" "$bf" bench run accuracy --smoke --data "$src/data" 2>&1)
[[ $? == 1 && "$out" == *"scripts/fetch-model"* ]] && pass || fail "missing model: $out"
mkdir -p "$tmp/bad"
printf '%s\n' '{"id": "x", "kind": "choice", "question": "q?", "choices": ["a", "b"], "answer": "C"}' > "$tmp/bad/arith.jsonl"
out=$("$bf" bench run accuracy --smoke --data "$tmp/bad" 2>&1)
[[ $? == 2 && "$out" == *"arith.jsonl:1:"*"answer"* ]] && pass || fail "bad item: $out"
out=$("$bf" bench run accuracy --smoke --data "$tmp/none" 2>&1)
[[ $? == 2 && "$out" == *"no item files"* ]] && pass || fail "no data: $out"

finish
