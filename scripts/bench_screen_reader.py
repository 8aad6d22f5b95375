#!/usr/bin/env python3
"""Accessibility latency (issue 8): query submission to the first screen-reader line.

A local cluster (4 workers, one Byzantine, the built-in arithmetic script model, loopback) is
started; then, --runs times, `butterfly --screen-reader query ask "A+B" --dir DIR` runs as a user
would run it, and this script times, on the wall clock of this machine:
  t0           just before the process is started (the user submits the query)
  first_line   the first line on either pipe has arrived: the acknowledgement ("Asked 4 workers, ...")
               that query ask writes to stderr the moment the query is sent
  answer_line  the first stdout line ("Answer: ...") has arrived
  exit         the process has exited (all sentences and the check details printed)
Process start, the HTTP round trip, the cluster's consensus (each script worker forks sh and awk)
and the offline audit of the certificate (it runs before the first line, so the answer is never
shown unaudited) are all included: this is what a user of the command line waits for.
Every run asks a different sum, so no answer is cached anywhere. The first line must be
"Answer: <sum>." or the run counts as an error.

Writes bench/results/screen_reader.json and prints a summary. The speech and sonification
latencies are measured by scripts/bench-accessibility (helper "audio").

Usage: scripts/bench_screen_reader.py [--runs N] [--build DIR] [--out FILE]
"""
import argparse
import json
import os
import platform
import selectors
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pct(values, p):
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values):
    return {"p50": round(pct(values, 50), 2), "p95": round(pct(values, 95), 2),
            "min": round(min(values), 2), "max": round(max(values), 2), "runs": len(values)}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def one_run(bf, cdir, a, b, any_outcome=False):
    env = dict(os.environ, BUTTERFLY_SCREEN_READER="1")
    t0 = time.perf_counter()
    p = subprocess.Popen([bf, "--screen-reader", "query", "ask", "%d+%d" % (a, b), "--dir", cdir],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # The acknowledgement arrives on stderr (progress), the result on stdout; a terminal shows both,
    # so the first screen-reader line is whichever comes first. Read both as they arrive.
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, "out")
    sel.register(p.stderr, selectors.EVENT_READ, "err")
    first_any = None
    first = b""
    t_first = None
    err = b""
    rest = b""
    while t_first is None and sel.get_map():
        for key, _ in sel.select():
            line = key.fileobj.readline()
            now = time.perf_counter()
            if not line:
                sel.unregister(key.fileobj)
                continue
            if first_any is None:
                first_any = now
            if key.data == "out":
                first, t_first = line, now
                break
            err += line
    sel.close()
    more_out, more_err = p.communicate()
    rest, err = more_out, err + more_err
    t_exit = time.perf_counter()
    if t_first is None:
        t_first = t_exit
    if first_any is None:
        first_any = t_first
    # A real model's answer may be wrong or undecided; its first line is timed all the same, and
    # must still be the result sentence ("Answer: ..." or "No answer: ...").
    line = first.decode()
    ok = p.returncode == 0 and (line == "Answer: %d.\n" % (a + b) or
                                (any_outcome and (line.startswith("Answer: ") or line.startswith("No answer: "))))
    return ok, (first_any - t0) * 1000.0, (t_first - t0) * 1000.0, (t_exit - t0) * 1000.0, (first + rest + err).decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--model", default="", help="worker model SPEC for cluster start (default: its script model; e.g. builtin:smollm2)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "screen_reader.json"))
    args = ap.parse_args()
    if args.runs < 1 or args.runs > 10000:
        sys.exit("bench_screen_reader: --runs must be 1..10000")
    bf = os.path.abspath(os.path.join(args.build, "bin", "butterfly"))
    if not os.access(bf, os.X_OK):
        sys.exit("bench_screen_reader: %s not found; build first (scripts/build)" % bf)
    tmp = tempfile.mkdtemp(prefix="bf-sr-")
    cdir = os.path.join(tmp, "cluster")
    try:
        started = subprocess.run([bf, "cluster", "start", "--workers", "4", "--byzantine", "1", "--dir", cdir] + (["--model", args.model] if args.model else []),
                                 capture_output=True, text=True)
        if started.returncode != 0:
            sys.exit("bench_screen_reader: cluster start failed:\n" + started.stdout + started.stderr)
        for w in range(3):  # warm the page cache and the head's connections
            one_run(bf, cdir, 100 + w, 1, bool(args.model))
        load_before = os.getloadavg()[0]
        first_ms, answer_ms, exit_ms, errors = [], [], [], []
        for i in range(args.runs):
            ok, first, answer, total, text = one_run(bf, cdir, i + 2, 2 * i + 3, bool(args.model))
            if not ok:
                errors.append(text[:500])
                continue
            first_ms.append(first)
            answer_ms.append(answer)
            exit_ms.append(total)
        if not first_ms:
            sys.exit("bench_screen_reader: every run failed; the first:\n" + errors[0])
        result = {
            "what": "query submission (start of `butterfly --screen-reader query ask`) to its first line on either stream "
                    "(first_line_ms: the acknowledgement on stderr) and to the first stdout line (answer_line_ms: "
                    "the answer, after the offline audit); see scripts/bench_screen_reader.py",
            "cluster": "4 workers, 1 Byzantine (wrong), model %s, loopback" % (args.model or "built-in arithmetic script"),
            "command": "scripts/bench_screen_reader.py --runs %d --build %s%s" % (
                args.runs, os.path.relpath(args.build, ROOT), " --model " + args.model if args.model else ""),
            "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "load_average_1m_before": load_before,
                        "load_average_1m_after": os.getloadavg()[0]},
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seed_claim_ms": {"screen_reader_first_line": 67},
            "errors": len(errors),
            "metrics": {"first_line_ms": summary(first_ms), "answer_line_ms": summary(answer_ms),
                        "command_exit_ms": summary(exit_ms)},
        }
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        for k, v in result["metrics"].items():
            print("%-16s p50 %7.1f ms  p95 %7.1f ms  min %7.1f  max %7.1f  (n=%d)" % (k, v["p50"], v["p95"], v["min"],
                                                                                  v["max"], v["runs"]))
        print("errors: %d; load average %.2f before, %.2f after; %s, %d CPUs" % (
            len(errors), load_before, result["machine"]["load_average_1m_after"], result["machine"]["cpu"],
            os.cpu_count()))
        print("wrote", args.out)
        if errors:
            print("first error:\n" + errors[0], file=sys.stderr)
            sys.exit(1)
    finally:
        subprocess.run([bf, "cluster", "stop", "--dir", cdir], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
