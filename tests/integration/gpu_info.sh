#!/usr/bin/env bash
# `butterfly gpu info` (issue 7): with a device it lists it; without one it says why, prints the
# versions it was built with and can load, and exits 1. Builds without nvcc have no `gpu`
# command; then there is nothing to check.
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
if ! "$bf" --help 2>&1 | grep -qE '^ +gpu '; then
  echo "gpu_info: this butterfly was built without CUDA; nothing to check"
  exit 0
fi

out=$("$bf" gpu info 2>&1); rc=$?
case $rc in
  0) [[ "$out" == *"device 0: "* ]] || fail "exit 0 without 'device 0: ': $out" ;;
  1) [[ "$out" == "no CUDA device visible: "* ]] || fail "exit 1 without the reason first: $out" ;;
  *) fail "gpu info exited $rc: $out" ;;
esac
[[ "$out" == *"built with: CUDA runtime "*", cuDNN "*", cuBLASLt "* ]] || fail "no built-with versions: $out"
[[ "$out" == *"loaded:     CUDA runtime "* ]] || fail "no loaded versions: $out"

json=$("$bf" gpu info --json); jrc=$?
[[ $jrc == "$rc" ]] || fail "--json exited $jrc, plain $rc"
python3 - "$rc" "$json" <<'PY' || fail "--json: $json"
import json, sys
rc, doc = int(sys.argv[1]), json.loads(sys.argv[2])
v = doc["versions"]
assert v["cuda_runtime_built"] != "none" and v["cudnn_built"] != "none" and v["cublaslt_built"] != "none", v
assert ("devices" in doc) == (rc == 0) and ("error" in doc) == (rc == 1), doc
if rc == 1:
    assert doc["error"].startswith("no CUDA device visible: "), doc
else:
    assert doc["devices"][0]["memory_bytes"] > 0, doc
PY

# A mistyped subcommand is a usage error, not a crash.
"$bf" gpu inf >/dev/null 2>&1; [[ $? == 2 ]] || fail "'gpu inf' should exit 2"

if ((failures > 0)); then echo "gpu_info: $failures failures"; exit 1; fi
echo "gpu_info: ok (exit $rc)"
