#!/usr/bin/env python3
"""Makes "zero heap allocations per operation" a test that can fail.

Reads Google Benchmark JSON written by bf_bench_core and fails when
  - a benchmark in the zero-allocation set reports allocs_per_op > 0 or bytes_alloc_per_op > 0,
  - a benchmark was skipped with an error,
  - no benchmark of the zero-allocation set ran (a filter that matches nothing proves nothing),
  - the positive control alloc_control_vector ran and did not report exactly 1 alloc/op, 64 bytes/op
    (a broken counting hook would otherwise pass as "zero allocations"); --require-control also
    fails when it did not run.

Usage:
  check_allocs.py RESULTS.json [--require-control]
  check_allocs.py --run BF_BENCH_CORE --json OUT.json [--require-control] -- [benchmark args...]
"""
import argparse
import json
import subprocess
import sys

# Benchmark families (the name before the first '/') that must not allocate in their timed loop.
ZERO_ALLOC = {
    "BM_tally_record",
    "BM_tally_fresh",
    "BM_tally_decide",
    "BM_round_decide",
    "BM_reputation_update",
    "BM_reputation_round",
    "BM_weights_from_reputation",
    "BM_weighted_vote",
    "BM_fuse_mean",
    "BM_fuse_sctt",
    "BM_fuse_median",
    "BM_fuse_trimmed_mean",
    "BM_attention_weights",
    "BM_fixed_log2_q16",
    "BM_fixed_exp2_q31",
    "BM_alloc_control_empty",  # the harness's own loop: must be clean for the others to mean anything
}
CONTROL = "BM_alloc_control_vector"
CONTROL_ALLOCS, CONTROL_BYTES = 1.0, 64.0


def family(entry):
    return entry.get("run_name", entry["name"]).split("/")[0]


def check(path, require_control):
    with open(path, encoding="utf-8") as f:
        results = json.load(f)
    entries = results.get("benchmarks", [])
    # Per-repetition entries when present (so one allocating repetition cannot hide in a median);
    # otherwise the mean aggregates (aggregates-only output).
    runs = [e for e in entries if e.get("run_type", "iteration") == "iteration"]
    if not runs:
        runs = [e for e in entries if e.get("aggregate_name") == "mean"]
    failures, checked, control_seen = [], 0, False
    for e in runs:
        name = e["name"]
        if e.get("error_occurred"):
            failures.append(f"{name}: skipped with error: {e.get('error_message', '?')}")
            continue
        if "allocs_per_op" not in e:
            if family(e) in ZERO_ALLOC or family(e) == CONTROL:
                failures.append(f"{name}: no allocs_per_op counter")
            continue
        allocs, nbytes = e["allocs_per_op"], e.get("bytes_alloc_per_op", 0.0)
        if family(e) in ZERO_ALLOC:
            checked += 1
            if allocs > 0 or nbytes > 0:
                failures.append(f"{name}: allocs_per_op={allocs:g} bytes_alloc_per_op={nbytes:g} (expected 0)")
        elif family(e) == CONTROL:
            control_seen = True
            if allocs != CONTROL_ALLOCS or nbytes != CONTROL_BYTES:
                failures.append(f"{name}: control reports allocs_per_op={allocs:g} bytes_alloc_per_op="
                                f"{nbytes:g}, expected {CONTROL_ALLOCS:g} and {CONTROL_BYTES:g}: "
                                "the counting hook is broken")
    if checked == 0:
        failures.append("no benchmark of the zero-allocation set ran: check --benchmark_filter")
    if require_control and not control_seen:
        failures.append(f"the positive control {CONTROL} did not run")
    for line in failures:
        print(f"check_allocs: FAIL {line}")
    if failures:
        return 1
    control = " and the 1-alloc control" if control_seen else ""
    print(f"check_allocs: OK: {checked} zero-allocation benchmark runs report 0 allocs/op{control}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="?", help="benchmark JSON to check")
    parser.add_argument("--run", metavar="BF_BENCH_CORE", help="run this benchmark binary first")
    parser.add_argument("--json", metavar="OUT", help="where --run writes its JSON")
    parser.add_argument("--require-control", action="store_true")
    # Everything after "--" goes to the benchmark binary untouched (split here: argparse would
    # hand the first of them to the optional RESULTS positional).
    argv = sys.argv[1:]
    bench_args = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if args.run:
        if not args.json:
            parser.error("--run needs --json")
        command = [args.run, f"--benchmark_out={args.json}", "--benchmark_out_format=json", *bench_args]
        print("check_allocs: running", " ".join(command), flush=True)
        status = subprocess.run(command, check=False).returncode
        if status != 0:
            print(f"check_allocs: FAIL the benchmark program exited with {status}")
            return 1
        return check(args.json, args.require_control)
    if not args.results:
        parser.error("give RESULTS.json or --run")
    return check(args.results, args.require_control)


if __name__ == "__main__":
    sys.exit(main())
