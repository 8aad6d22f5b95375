#!/usr/bin/env bash
# `butterfly bench run scaling --smoke` end to end (issue 9's CI smoke): strong scaling at n = 1, 2
# and 4 with the synthetic fixed:50 worker model, weak scaling (both variants) and the head's limit.
# Checks the JSON's structure, that nothing failed and that latency is never below the model's
# fixed time (a property, not a speed figure: CI machines differ).
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/checks.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$("$bf" bench run scaling --smoke --json --out "$tmp/out" 2>&1)
rc=$?
[[ $rc == 0 ]] && pass || { fail "scaling --smoke: exit $rc"; echo "$out" | tail -30; }
[[ "$out" == *"rerun:   butterfly bench run scaling --smoke"* && "$out" == *"synthetic n = 1 (f = 0)"* ]] && pass ||
  fail "output lacks the rerun command or the n = 1 line"
check "$tmp/out/scaling.json" '
assert j["suite"] == "scaling" and j["smoke"] is True and j["errors"] == 0, j["errors"]
assert j["machine"]["cores"] >= 1 and j["command"].startswith("butterfly bench run scaling --smoke")
s = j["strong_synthetic"]
assert [r["n"] for r in s] == [1, 2, 4], [r["n"] for r in s]
for r in s:
    assert r["answered"] == r["queries"] == 5 and r["errors"] == 0, r
    # Every query waits for workers that sleep 50 ms: never faster than that.
    assert r["latency_us"]["p50"] >= 50_000 and r["latency_us"]["p95"] >= r["latency_us"]["p50"], r["latency_us"]
    assert r["model_runs_ms"]["p50"] >= 50 and r["non_model_p50_ms"] >= 0, r
    assert r["head_us"]["count"] == 5 and r["outcomes"] == {"decided": 5}, (r["head_us"], r["outcomes"])
assert s[0]["speedup"] == 1 and s[0]["efficiency"] == 1
assert j["strong_real"] == [] and "smoke" in j["strong_real_skipped"]
w = j["weak"]
assert [(r["variant"], r["n"]) for r in w] == [("concurrent", 2), ("concurrent", 4), ("serial", 2), ("serial", 4)], w
for r in w:
    assert r["offered_qps"] == 5 * r["n"] and r["answered"] > 0 and r["answered_within_window"] > 0 and r["mode"] == "open", r
    assert r["variant"] == "serial" or r["errors"] == 0, r["errors_by_kind"]
    assert (r["worker_model_threads"] == 1) == (r["variant"] == "serial"), r
lim = j["head_limit"]
assert len(lim) == 1 and lim[0]["n"] == 4 and lim[0]["mode"] == "closed" and lim[0]["errors"] == 0 and lim[0]["achieved_qps"] > 0, lim
rep = j["report"]
assert [t["id"] for t in rep["tables"]] == ["3.3-scaling-efficiency", "5.1-strong", "5.2-weak", "5.2-head-limit"]
for t in rep["tables"]:
    assert t["seed_section"] and t["title"] and t["notes"] and t["rows"], t["id"]
    assert all(len(row) == len(t["columns"]) for row in t["rows"]), t["id"]
    assert t["seed"]["rows"] and all(len(row) == len(t["seed"]["columns"]) for row in t["seed"]["rows"]), t["id"]
assert any("Amdahl" in n for n in rep["tables"][1]["notes"])
assert [p["id"] for p in rep["plots"]] == ["scaling-strong-latency", "scaling-speedup", "scaling-weak-throughput"]
for p in rep["plots"]:
    assert p["kind"] == "line" and p["x_label"] and p["y_label"] and p["series"], p["id"]
    for series in p["series"]:
        assert len(series["x"]) == len(series["y"]) > 0, (p["id"], series["name"])
        assert all(isinstance(v, (int, float)) for v in series["x"] + series["y"]), (p["id"], series["name"])
'

# Usage errors are named.
out=$("$bf" bench run scaling --scaling-model-ms 0 2>&1)
[[ $? == 2 && "$out" == *"scaling-model-ms"* ]] && pass || fail "bad --scaling-model-ms: $out"
out=$("$bf" bench run scaling --workers 1,0 2>&1)
[[ $? == 2 && "$out" == *"'0' is not a worker count"* ]] && pass || fail "bad --workers: $out"

finish
