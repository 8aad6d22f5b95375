#!/usr/bin/env python3
"""Writes docs/results.md and its plots from the JSON of the benchmark suites (issue 9).

Every suite's JSON (bench/results/<suite>.json, written by `butterfly bench run SUITE --json` and the
scripts scripts/bench runs) carries a "report": {"tables": [...], "plots": [...]}; the accessibility
and model-speed scripts' JSON is adapted here. Tables are grouped under the seed section they answer
(each table's "seed_section" starts with the section number, e.g. "4.1 ..."); every section of the
seed (../shared/seeds/butterfly-benchmarks.txt) appears, with its measured tables or the stated
reason why it has none. Measured values and the seed's claims are never mixed in one table: each
table is marked "measured" or "claimed (seed)".

Usage: scripts/bench_report.py --results DIR [--out docs/results.md] [--plots docs/results]
       [--run DIR/run.json]
Exit status 0, or 1 when a suite's JSON is unreadable or a seed section has neither a table nor a
stated reason (so a failed suite cannot hide).
"""
import argparse
import glob
import json
import math
import os
import re
import sys

# Seed sections in order: number, title, and the reason when nothing here can measure it. A section
# with a reason may still get tables (then both are shown).
SEED_SECTIONS = [
    ("1.1", "Test Environment", "The seed's hardware (A100/H100 clusters). Each table here states the machine it ran on."),
    ("1.2", "Metrics", "Definitions only; each measured table states its own definitions in its notes."),
    ("2.1", "Single Model Sequential Inference", None),
    ("3.1", "Small Cluster (2 workers)", None),
    ("3.2", "Medium Cluster (4 workers): accuracy, consensus, fusion strategy comparison", None),
    ("3.3", "Large Cluster (8 workers): scaling efficiency", None),
    ("4.1", "Worker Failure Scenarios A, B, C", None),
    ("4.2", "Byzantine Fault Tolerance Limits", None),
    ("5.1", "Strong Scaling", None),
    ("5.2", "Weak Scaling", None),
    ("5.3", "Cost-Performance Tradeoffs",
     "The seed's costs are cloud GPU prices times its claimed throughput; this machine has no GPU and no price. "
     "CPU time per query is measured instead (overhead and scaling tables)."),
    ("6.1", "Proof Verification", None),
    ("6.2", "ARC Challenge", None),
    ("6.3", "Code Generation (HumanEval)",
     "Not run: scoring HumanEval means executing model-written Python in a sandbox, which Butterfly does not have, "
     "and the default 135M-parameter model is far below code-generation ability; no figure is offered."),
    ("7.1", "Screen Reader Latency", None),
    ("7.2", "Audio Feedback Quality",
     "A user study with 30 blind participants: not something a program can measure. The sonification and spatial "
     "WAVs are checked by tests (channel energy, onsets), see docs/accessibility.md."),
    ("7.3", "Cognitive Accessibility",
     "A user study with 20 neurodivergent participants: not measurable by a program. The CLI features it lists "
     "(verb-noun commands, completion, did-you-mean, progressive help) are built and tested, see docs/accessibility.md."),
    ("8.1", "Planned Improvements", "Plans, not measurements."),
    ("8.2", "Scaling Predictions", "An extrapolation to 1,000 H100 GPUs, not a measurement."),
]


def load_json(path):
    with open(path) as f:
        return json.load(f)


def fmt(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "n/a"
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 100:
            return f"{v:,.0f}"
        if a >= 10:
            return f"{v:.1f}"
        if a >= 1:
            return f"{v:.2f}"
        return f"{v:.3f}"
    if isinstance(v, int):
        return f"{v:,}"
    if v is None:
        return "–"
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_table(columns, rows):
    out = ["| " + " | ".join(fmt(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = list(r) + [None] * (len(columns) - len(r))
        out.append("| " + " | ".join(fmt(c) for c in cells) + " |")
    return "\n".join(out)


# ---- adapters for the scripts whose JSON predates the "report" object ----

def accessibility_report(runs):
    """runs: [(model label, accessibility JSON or None, screen_reader JSON or None)]. Newer JSONs time two
    moments (the acknowledgement at submission, the answer); older ones only the answer."""
    rows, notes = [], []

    def row(label, metric, seed):
        rows.append([label, metric["p50"], metric["p95"], metric["runs"], seed])

    for label, acc, sr in runs:
        if sr:
            m = sr["metrics"]
            if "answer_line_ms" in m:
                row(f"{label}: query -> first screen-reader line (the acknowledgement)", m["first_line_ms"], 67)
                row(f"{label}: query -> the answer line", m["answer_line_ms"], "")
            else:
                row(f"{label}: query -> first screen-reader line", m["first_line_ms"], 67)
            notes.append(f"Screen reader, {label}: " + sr.get("what", "") + ". Command: " + sr.get("command", "scripts/bench_screen_reader.py"))
        if acc:
            m = acc["metrics"]
            if "ask_acknowledgement_first_audible_ms" in m:
                row(f"{label}: query -> first spoken sample (the acknowledgement, query ask --speak)", m["ask_acknowledgement_first_audible_ms"], 89)
                row(f"{label}: query -> first sonification tone (query-sent, query ask --sound)", m["ask_sent_tone_first_audible_ms"], 47)
                row(f"{label}: query -> the spoken answer", m["ask_answer_first_audible_ms"], "")
                row(f"{label}: query -> the outcome's tone", m["ask_outcome_tone_first_audible_ms"], "")
            else:
                row(f"{label}: query -> first spoken audio sample", m["speech_first_audible_ms"], 89)
                row(f"{label}: query -> first sonification tone", m["tone_first_audible_ms"], 47)
            notes.append(f"Speech and tone, {label}: " + acc.get("what", "") + ". Cluster: " + acc.get("cluster", "") + ".")
    seed_rows = [["Query -> First output, without audio", 67], ["Query -> First output, with TTS", 89],
                 ["Query -> First output, with sonification", 47], ["Query -> Full response, with TTS", 347]]
    notes.append("The method and the discussion: docs/accessibility.md.")
    return {"tables": [{"id": "accessibility", "seed_section": "7.1 Screen Reader Latency",
                        "title": "Time from query submission to the first output a person perceives",
                        "columns": ["measure", "p50 (ms)", "p95 (ms)", "runs", "seed claim (ms)"], "rows": rows,
                        "seed": {"columns": ["measure", "claimed (ms)"], "rows": seed_rows}, "notes": notes}],
            "plots": []}


def load_results(results_dir):
    reports, problems, machines = [], [], []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        name = os.path.basename(path)
        if name in ("run.json",):
            continue
        try:
            j = load_json(path)
        except (OSError, ValueError) as e:
            problems.append(f"{name}: unreadable ({e})")
            continue
        if "report" in j:
            reports.append((name, j))
            if isinstance(j.get("machine"), dict):
                machines.append(j["machine"])
    runs = []
    for label, suffix in (("script model", ""), ("SmolLM2-135M", "-smollm2")):
        loaded = []
        for name in (f"accessibility{suffix}.json", f"screen_reader{suffix}.json"):
            p = os.path.join(results_dir, name)
            try:
                loaded.append(load_json(p) if os.path.exists(p) else None)
            except (OSError, ValueError) as e:
                problems.append(f"{name}: unreadable ({e})")
                loaded.append(None)
        if any(loaded):
            runs.append((label, loaded[0], loaded[1]))
    if runs:
        reports.append(("accessibility.json", {"suite": "accessibility", "report": accessibility_report(runs)}))
    return reports, problems, machines


# ---- plots ----

def draw_plots(plots, plot_dir):
    """Writes PLOT_DIR/<id>.png and .svg for every plot; returns {id: (png, svg)} and problems."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}, ["matplotlib is not installed (scripts/setup installs python3-matplotlib): no plots drawn"]
    os.makedirs(plot_dir, exist_ok=True)
    done, problems = {}, []
    for p in plots:
        pid = re.sub(r"[^A-Za-z0-9_.-]", "-", p.get("id", "plot"))
        try:
            # Deterministic SVG output: fixed hash salt, no date in the metadata.
            matplotlib.rcParams["svg.hashsalt"] = "butterfly"
            fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
            kind = p.get("kind", "line")
            series = p.get("series", [])
            if kind == "bar":
                cats = []
                for s in series:
                    for x in s["x"]:
                        if x not in cats:
                            cats.append(x)
                width = 0.8 / max(1, len(series))
                hatches = ["", "//", "..", "xx", "\\\\", "++"]  # series differ by pattern too, not by colour alone
                for i, s in enumerate(series):
                    xs = [cats.index(x) + i * width - 0.4 + width / 2 for x in s["x"]]
                    ax.bar(xs, s["y"], width=width, label=s["name"], hatch=hatches[i % len(hatches)], edgecolor="black")
                ax.set_xticks(range(len(cats)))
                ax.set_xticklabels([str(c) for c in cats], rotation=20, ha="right")
            else:
                markers = "osD^v<>"
                for i, s in enumerate(series):
                    ax.plot(s["x"], s["y"], marker=markers[i % len(markers)], label=s["name"])
                for e in p.get("events", []):
                    ax.axvline(e["t"], color="grey", linestyle="--", linewidth=1)
                    ax.annotate(e["label"], (e["t"], 1), xycoords=("data", "axes fraction"), rotation=90,
                                va="top", ha="right", fontsize=8)
                if p.get("log_y"):
                    ax.set_yscale("log")
            ax.set_title(p.get("title", pid), fontsize=10)
            ax.set_xlabel(p.get("x_label", ""))
            ax.set_ylabel(p.get("y_label", ""))
            ax.grid(True, alpha=0.3)
            if series:
                ax.legend(fontsize=8)
            fig.tight_layout()
            png, svg = os.path.join(plot_dir, pid + ".png"), os.path.join(plot_dir, pid + ".svg")
            fig.savefig(png)
            fig.savefig(svg, metadata={"Date": None})
            plt.close(fig)
            done[p.get("id")] = (png, svg)
        except Exception as e:  # a bad plot must not lose the tables
            problems.append(f"plot {pid}: {e}")
    return done, problems


# ---- the document ----

def section_of(table):
    m = re.match(r"\s*(\d+\.\d+)", table.get("seed_section", ""))
    return m.group(1) if m else None


def render(reports, problems, machines, run, out_path, plot_dir):
    by_section, unplaced, all_plots = {}, [], []
    for name, j in reports:
        for t in j["report"].get("tables", []):
            t = dict(t, _suite=j.get("suite", name), _command=j.get("command"))
            sec = section_of(t)
            (by_section.setdefault(sec, []) if sec else unplaced).append(t)
        all_plots.extend(j["report"].get("plots", []))
    drawn, plot_problems = draw_plots(all_plots, plot_dir)
    problems = problems + plot_problems
    rel = os.path.relpath(plot_dir, os.path.dirname(os.path.abspath(out_path)))

    lines = ["# Butterfly measured against the seed's claims", ""]
    lines.append("Generated by `scripts/bench` (scripts/bench_report.py) from the JSON in bench/results/. "
                 "Every table is marked **measured** (a run on the machine below) or **claimed (seed)** "
                 "(typed from ../shared/seeds/butterfly-benchmarks.txt, never measured here). Where Butterfly "
                 "does not reproduce a claim, the table's notes say so and why.")
    lines.append("")
    if run:
        lines.append(f"- date (UTC): {run.get('date_utc', '?')}")
        lines.append(f"- machine: {run.get('machine', '?')}")
        lines.append(f"- commit: {run.get('commit', '?')}")
        lines.append(f"- command: `{run.get('command', 'scripts/bench')}`; whole run {fmt(run.get('wall_s', float('nan')))} s")
        lines.append(f"- load average (1 min) before the run: {run.get('load_before', '?')}")
        if run.get("suites"):
            lines.append("")
            lines.append(md_table(["step", "exit status", "seconds", "command"],
                                  [[s["name"], s["rc"], s["seconds"], "`" + s["command"] + "`"] for s in run["suites"]]))
    elif machines:
        m = machines[0]
        lines.append(f"- machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores; build {m.get('build_type', '?')}, commit {m.get('commit', '?')}")
    lines.append("")
    if problems:
        lines.append("**Problems in this run:**")
        lines.extend(f"- {p}" for p in problems)
        lines.append("")

    # Index.
    lines.append("## Seed sections and what answers them")
    lines.append("")
    index_rows, missing = [], []
    for num, title, reason in SEED_SECTIONS:
        tables = by_section.get(num, [])
        if tables:
            status = "measured: " + ", ".join(t.get("id", "?") for t in tables)
        elif reason:
            status = "not measured: " + reason
        else:
            status = "NOT MEASURED: no suite produced a table for it in this run"
            missing.append(num)
        index_rows.append([num, title, status])
    lines.append(md_table(["seed section", "title", "here"], index_rows))
    lines.append("")

    for num, title, reason in SEED_SECTIONS:
        tables = by_section.get(num, [])
        lines.append(f"## {num} {title}")
        lines.append("")
        if reason:
            lines.append(("Not measured: " if not tables else "") + reason)
            lines.append("")
        if not tables and not reason:
            lines.append("**No measured table in this run** (a suite failed or was not run; see the problems above).")
            lines.append("")
        for t in tables:
            lines.append(f"### {t.get('title', t.get('id'))}")
            lines.append("")
            lines.append(f"**measured** (suite `{t['_suite']}`" + (f", `{t['_command']}`" if t.get("_command") else "") + ")")
            lines.append("")
            lines.append(md_table(t.get("columns", []), t.get("rows", [])))
            lines.append("")
            seed = t.get("seed")
            if seed and seed.get("rows"):
                lines.append(f"**claimed (seed)**, section {t.get('seed_section', num)}")
                lines.append("")
                lines.append(md_table(seed.get("columns", []), seed.get("rows", [])))
                lines.append("")
            for n in t.get("notes", []):
                lines.append(f"- {n}")
            if t.get("notes"):
                lines.append("")
    if unplaced:
        lines.append("## Other measured tables")
        lines.append("")
        for t in unplaced:
            lines.append(f"### {t.get('title', t.get('id'))}")
            lines.append("")
            lines.append(md_table(t.get("columns", []), t.get("rows", [])))
            lines.append("")
    if drawn:
        lines.append("## Plots")
        lines.append("")
        for p in all_plots:
            if p.get("id") in drawn:
                png, svg = drawn[p["id"]]
                lines.append(f"### {p.get('title', p['id'])}")
                lines.append("")
                lines.append(f"![{p.get('title', p['id'])}]({rel}/{os.path.basename(png)}) "
                             f"([SVG]({rel}/{os.path.basename(svg)}))")
                lines.append("")
    with open(out_path, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    return missing, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--out", default="docs/results.md")
    ap.add_argument("--plots", default="docs/results")
    ap.add_argument("--run", help="run.json written by scripts/bench (date, machine, commit, per-suite times)")
    args = ap.parse_args()
    if not os.path.isdir(args.results):
        print(f"bench_report: {args.results} is not a directory; run scripts/bench first", file=sys.stderr)
        return 1
    run = load_json(args.run) if args.run and os.path.exists(args.run) else None
    reports, problems, machines = load_results(args.results)
    missing, problems = render(reports, problems, machines, run, args.out, args.plots)
    print(f"bench_report: wrote {args.out} ({len(reports)} reports) and plots in {args.plots}")
    for p in problems:
        print(f"bench_report: problem: {p}", file=sys.stderr)
    if missing:
        print("bench_report: seed sections with no table and no stated reason: " + ", ".join(missing), file=sys.stderr)
    return 1 if (missing or any("unreadable" in p for p in problems)) else 0


if __name__ == "__main__":
    sys.exit(main())
