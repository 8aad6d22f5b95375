#!/usr/bin/env bash
# The CPU model runtime from the command line (issue 6): `butterfly model info` and
# `butterfly generate` on SmolLM2 (greedy, so the answer is fixed), their --json forms, seeded
# sampling reproducibility, and usage errors. Exit 77 (skipped) when the model is not fetched.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
src=${BUTTERFLY_SOURCE_DIR:?set BUTTERFLY_SOURCE_DIR}
model=$(ls "${BUTTERFLY_MODELS:-$src/models}"/SmolLM2-135M-Instruct*.gguf 2>/dev/null | head -n 1)
[[ -n "$model" ]] || { echo "SKIP: SmolLM2 GGUF absent (run scripts/fetch-model)"; exit 77; }
failures=0
passes=0
pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_rc() { if [[ "$2" == "$3" ]]; then pass; else fail "$1: exit $3, want $2"; fi; }
expect_contains() { if [[ "$2" == *"$3"* ]]; then pass; else fail "$1: output lacks '$3'"; echo "$2" | head -20; fi; }

out=$("$bf" model info "$model" 2>&1); expect_rc "model info" 0 $?
expect_contains "model info" "$out" "architecture: llama"
expect_contains "model info" "$out" "Q4_1 x210"
expect_contains "model info" "$out" "chat template present (chatml)"
out=$("$bf" model info "$model" --json 2>&1); expect_rc "model info --json" 0 $?
expect_contains "model info --json" "$out" '"parameters": 134515008'

# Raw completion: the chat-template answer to "What is the capital of France?" starts with a
# near-tie in fp32 ("The" 25.33 vs "L" 25.24), which llama.cpp and Butterfly both resolve to "L'Étoile...".
out=$("$bf" generate --model "$model" --threads 2 --max-tokens 8 --raw "The capital of France is" 2>/dev/null)
expect_rc "generate" 0 $?
expect_contains "generate greedy answer" "$out" "Paris"
err=$("$bf" generate --model "$model" --threads 2 --max-tokens 4 "Hi" 2>&1 >/dev/null)
expect_contains "generate timings" "$err" "decode:"
a=$("$bf" generate --model "$model" --max-tokens 12 --temperature 0.9 --top-k 40 --seed 3 --json "Tell me a story." 2>/dev/null)
b=$("$bf" generate --model "$model" --max-tokens 12 --temperature 0.9 --top-k 40 --seed 3 --json "Tell me a story." 2>/dev/null)
ta=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"])' <<<"$a")
tb=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"])' <<<"$b")
if [[ -n "$ta" && "$ta" == "$tb" ]]; then pass; else fail "same seed gave different tokens: $ta vs $tb"; fi

# --batch: three greedy sequences decoded together, each the one-sequence text; JSON fields.
one=$("$bf" generate --model "$model" --threads 2 --max-tokens 8 --raw --json "The capital of France is" 2>/dev/null)
three=$("$bf" generate --model "$model" --threads 2 --max-tokens 8 --raw --json --batch 3 "The capital of France is" 2>/dev/null)
expect_rc "generate --batch 3" 0 $?
check=$(python3 -c 'import json,sys
one, three = json.loads(sys.argv[1]), json.loads(sys.argv[2])
texts = [s["text"] for s in three["sequences"]]
ok = three["batch"] == 3 and texts == [one["text"]] * 3 and three["decode_tok_s"] > 0 and one["batch"] == 1
print("ok" if ok else "batch %s, texts %r vs %r" % (three["batch"], texts, one["text"]))' "$one" "$three" 2>&1)
if [[ "$check" == ok ]]; then pass; else fail "generate --batch 3: $check"; fi
"$bf" generate --model "$model" --batch 9 "x" >/dev/null 2>&1; expect_rc "--batch 9" 2 $?

"$bf" generate --model "$model" --top-p 0 "x" >/dev/null 2>&1; expect_rc "bad --top-p" 2 $?
"$bf" generate --model /nonexistent.gguf "x" >/dev/null 2>&1; expect_rc "missing model" 2 $?
"$bf" model info "$src/README.md" >/dev/null 2>&1; expect_rc "not a GGUF" 2 $?

echo "model.sh: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
