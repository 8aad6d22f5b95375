#!/usr/bin/env python3
"""ctest reference.stories260k: reruns stories260k.py into a temp file and compares it with the
committed fixture (ids equal, logits within 1e-5: numpy builds may differ in the last bits).
Exit 77 (skipped) when numpy or the checkpoint is missing. Usage: check_stories260k.py SOURCE_DIR"""
import json
import os
import subprocess
import sys
import tempfile

src = sys.argv[1]
try:
    import numpy  # noqa: F401
except ImportError:
    print("SKIP: numpy is not installed (pip install numpy)")
    sys.exit(77)
ckpt = os.environ.get("BUTTERFLY_STORIES260K") or os.path.join(src, "..", "shared", "models", "stories260K", "stories260K.bin")
if not os.path.isfile(ckpt):
    print(f"SKIP: {ckpt} not found")
    sys.exit(77)
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "out.json")
    subprocess.run([sys.executable, os.path.join(src, "tests/reference/stories260k.py"), ckpt, out], check=True)
    got = json.load(open(out))
want = json.load(open(os.path.join(src, "tests/reference/stories260k_expected.json")))
if got["ids"] != want["ids"]:
    print(f"FAIL: ids differ:\n got  {got['ids']}\n want {want['ids']}")
    sys.exit(1)
worst = max(abs(a - b) for ga, wa in zip(got["logits"], want["logits"]) for a, b in zip(ga, wa))
print(f"ids equal ({len(got['ids'])} steps); largest logit difference {worst:.3g}")
sys.exit(0 if worst <= 1e-5 and len(got["logits"]) == len(want["logits"]) else 1)
