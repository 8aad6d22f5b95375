#!/usr/bin/env bash
# `butterfly bench run faults --smoke` end to end (issue 9's CI smoke): scenarios A (crash), B
# (Byzantine wrong / equivocate, false positives), C (partition of 2 of 4) and the n = 7 tests on
# real clusters under load. Checks the JSON's structure and Butterfly's guarantees (nothing lost,
# nothing wrong decided, every certificate verified, the partition fails closed, 3 colluders at
# n = 7 never decide); never the speed (CI machines differ).
set -uo pipefail
bf=${BUTTERFLY:?set BUTTERFLY to the butterfly binary}
source "$(dirname "$0")/lib/checks.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start=$(date +%s)
out=$("$bf" bench run faults --smoke --json --out "$tmp/r" 2>&1)
rc=$?
[[ $rc == 0 ]] && pass || { fail "faults --smoke: exit $rc"; echo "$out" | tail -40; }
echo "faults --smoke took $(( $(date +%s) - start )) s"
[[ "$out" == *"rerun:   butterfly bench run faults --smoke"* && "$out" == *"scenario C:"* ]] && pass || fail "output lacks the rerun command or scenario C"
check "$tmp/r/faults.json" '
assert j["suite"] == "faults" and j["machine"]["commit"] and j["command"].startswith("butterfly bench run faults"), j["command"]
assert j["problems"] == [], j["problems"]
def audited(x):
    a = x["audit"]
    assert a["verified"] and a["certificates"] > 0, a
def whole(x, phases):
    assert [p["phase"] for p in x["phases"]][:len(phases)] == phases, x["phases"]
    for p in x["phases"]:
        assert p["lost"] == 0 and p["errors"] == 0 and p["wrong_decided"] == 0 and p["sent"] == p["certified"], p
a = j["scenario_a"]
whole(a, ["before (4 workers)", "after the kill (3 workers)", "after the restart"])
assert a["q"] == 3 and a["lost"] == 0
assert all(p["decided"] > 0 and p["accuracy_pct"] == 100 for p in a["phases"]), a["phases"]
assert a["detection_ms"] > 0 and a["recovery_ms"] > 0 and a["rejoin_ms"] > 0, a
audited(a)
assert [b["kind"] for b in j["scenario_b"]] == ["wrong", "equivocate"]
for b in j["scenario_b"]:
    assert b["detection_ms"] is not None and b["isolation_ms"] is not None and b["queries_until_isolated"] >= 1, b
    assert b["lost"] == 0 and all(p["wrong_decided"] == 0 for p in b["phases"]), b["phases"]
    assert b["reputation"]["value"][0] == 1.0 and b["reputation"]["value"][-1] < 0.3, b["reputation"]
    audited(b)
assert j["scenario_b"][1]["audit"]["equivocation_records"] >= 1
fp = j["false_positives"]
assert fp["queries"] > 0 and fp["detections"] == 0 and fp["replies_flagging_a_worker"] == 0 and fp["workers_excluded_at_end"] == 0, fp
audited(fp)
c = j["scenario_c"]
whole(c, ["before", "partitioned (2 of 4 reachable)", "healed"])
assert c["q"] == 3 and c["phases"][1]["no_quorum"] > 0 and c["phases"][2]["decided"] > 0, c["phases"]
assert c["detection_ms"] > 0 and c["decide_again_ms"] is not None, c
assert c["audit"]["outcomes"].get("no-quorum", 0) == sum(p["no_quorum"] for p in c["phases"]), c["audit"]
audited(c)
t = j["limits_n7"]
assert [x["byzantine"] for x in t] == [2, 2, 3] and [x["kind"] for x in t] == ["collude", "wrong", "collude"]
for x in t:
    assert x["q"] == 5 and x["f"] == 2 and x["lost"] == 0 and x["phase"]["wrong_decided"] == 0, x
    audited(x)
assert t[0]["phase"]["decided"] == t[0]["phase"]["sent"] and t[0]["detection_ms"] is not None
assert t[1]["phase"]["decided"] == t[1]["phase"]["sent"] and t[1]["detection_ms"] is not None
assert t[2]["phase"]["decided"] == 0 and t[2]["phase"]["no_consensus"] + t[2]["phase"]["no_quorum"] == t[2]["phase"]["sent"], t[2]
r = j["report"]
ids = [x["id"] for x in r["tables"]]
assert ids == ["4.1-A", "4.1-A-times", "4.1-B", "4.1-B-false-positives", "4.1-C", "4.1-C-times", "4.2-quorum", "4.2-tests"], ids
for x in r["tables"]:
    assert x["seed_section"] and x["title"] and x["notes"] and isinstance(x["notes"], list), x["id"]
    assert all(len(row) == len(x["columns"]) for row in x["rows"]), x["id"]
    assert all(len(row) == len(x["seed"]["columns"]) for row in x["seed"]["rows"]), x["id"]
q = {row[0]: row for row in r["tables"][6]["rows"]}
assert q[3][4] == 2 and q[3][3] == "no" and q[5][4] == 4 and q[7][4] == 5 and q[4][4] == 3, q
for p in r["plots"]:
    assert p["kind"] in ("line", "timeline") and p["series"], p["id"]
    assert all(len(s["x"]) == len(s["y"]) for s in p["series"]), p["id"]
assert any(p["kind"] == "timeline" and p["events"] for p in r["plots"])
'

# Usage errors are named.
out=$("$bf" bench run faults --faults-rate 0 2>&1)
[[ $? == 2 && "$out" == *"--faults-rate"* ]] && pass || fail "bad --faults-rate: $out"

finish
