#!/usr/bin/env bash
# `butterfly bench run overhead|detection` end to end, briefly (issue 9's CI smoke): real clusters
# of instant workers, the load generator in both loops, every fault kind. Checks that the JSON has
# its fields and that nothing failed; not the speed (CI machines differ).
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/checks.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Closed loop at n = 4, open loop at n = 4 (a rate any machine keeps up with).
out=$("$bf" bench run overhead --workers 4 --duration-s 2 --warmup-s 0.5 --concurrency 4 --json --out "$tmp/closed" 2>&1)
rc=$?
[[ $rc == 0 ]] && pass || { fail "overhead closed loop: exit $rc"; echo "$out" | tail -20; }
[[ "$out" == *"achieved:"* && "$out" == *"rerun:   butterfly bench run overhead"* ]] && pass || fail "overhead output lacks 'achieved:' or the rerun command"
check "$tmp/closed/overhead.json" '
r = j["runs"][0]
assert j["suite"] == "overhead" and j["machine"]["cores"] >= 1 and j["machine"]["commit"], j["machine"]
assert r["n"] == 4 and r["mode"] == "closed" and r["errors"] == 0, r["errors_by_kind"]
assert r["answered"] > 0 and r["qps"] > 0 and r["replies_without_timings"] == 0
assert r["latency_us"]["p50"] > 0 and r["latency_us"]["p99"] >= r["latency_us"]["p50"]
for s in ["dispatch", "wait", "decide", "commit", "reply", "head", "total"]:
    assert r["head_timings_us"][s]["count"] == r["answered"], s
assert r["head_timings_us"]["total"]["p50"] <= r["latency_us"]["p50"]
assert [s["stage"] for s in r["stages"]][:4] == ["network", "consensus+fusion", "commit", "scheduling"]
assert r["cpu"]["head_us_per_query"] > 0
'
out=$("$bf" bench run overhead --workers 4 --duration-s 2 --warmup-s 0.5 --rate 50 --json --out "$tmp/open" 2>&1)
rc=$?
[[ $rc == 0 ]] && pass || { fail "overhead open loop: exit $rc"; echo "$out" | tail -20; }
check "$tmp/open/overhead-open.json" '
r = j["runs"][0]
assert r["mode"] == "open" and r["rate_target"] == 50 and r["errors"] == 0, r["errors_by_kind"]
assert 50 <= r["answered"] <= 110, r["answered"]  # 2 s at 50/s, give or take the edges
'

out=$("$bf" bench run detection --trials 2 --json --out "$tmp/det" 2>&1)
rc=$?
[[ $rc == 0 ]] && pass || { fail "detection: exit $rc"; echo "$out" | tail -20; }
check "$tmp/det/detection.json" '
kinds = [f["fault"] for f in j["faults"]]
assert kinds == ["crash", "partition", "byzantine-wrong", "byzantine-equivocate"], kinds
for f in j["faults"]:
    assert f["trials"] == 2 and f["missed"] == 0, f
    assert f["ms"]["p50"] > 0 and f["seed_claim_ms"] > 0 and f["definition"], f
# A hung worker is declared dead only when its silence passes the heartbeat deadline; the
# silence began with its last frame, up to one period before the SIGSTOP.
d = j["head_defaults"]
earliest = d["heartbeat_ms"] * (d["heartbeat_missed_max"] - 1)
assert min(j["faults"][1]["samples_ms"]) >= earliest, (j["faults"][1]["samples_ms"], earliest)
'

# Usage errors are named.
out=$("$bf" bench run overhead --workers 4,x 2>&1)
[[ $? == 2 && "$out" == *"'x' is not a worker count"* ]] && pass || fail "bad --workers: $out"

finish
