"""Side-by-side model speed: llama.cpp (llama-cpp-python) and Butterfly on the same GGUF file with the
same thread count, in one run. Run through scripts/bench-model. Each runtime runs in its own child
process so its peak RSS is its own (os.wait4's ru_maxrss)."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFILL_LENGTHS = (128, 512)
DECODE_PROMPT_TOKENS = 16
DECODE_STEPS = 64
REPEATS = 3
# Plain English text long enough for 512 tokens; the benchmark prompts are prefixes of it.
SOURCE_TEXT = (
    "The history of computing is a story of people trying to make machines that think faster than they "
    "do. Early mechanical calculators could add and subtract; later ones could multiply. The first "
    "electronic computers filled rooms, consumed enormous power and failed often, yet they solved "
    "problems in hours that had taken teams of people months. Transistors replaced vacuum tubes, "
    "integrated circuits replaced transistors, and each step made machines smaller, cheaper and more "
    "reliable. Software grew alongside the hardware: assemblers, compilers, operating systems, databases "
    "and networks. Today a phone in a pocket holds more computing power than all the computers of 1960 "
    "together, and small language models run on ordinary laptops. "
) * 8


def child_llama(model, threads):
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(model_path=model, n_ctx=1024, n_batch=512, n_ubatch=512, n_threads=threads,
                          n_threads_batch=threads, verbose=False)
    ids = llm.tokenize(SOURCE_TEXT.encode(), add_bos=False, special=False)
    if len(ids) < max(PREFILL_LENGTHS):
        raise SystemExit(f"bench: source text gives only {len(ids)} tokens")
    result = {"runtime": f"llama.cpp (llama-cpp-python {llama_cpp.__version__})"}
    llm.reset()
    llm.eval(ids[:32])  # warm-up: page in the weights, size the buffers
    for n in PREFILL_LENGTHS:
        times = []
        for _ in range(REPEATS):
            llm.reset()
            start = time.perf_counter()
            llm.eval(ids[:n])
            times.append(time.perf_counter() - start)
        result[f"prefill_{n}_tok_s"] = n / statistics.median(times)
    rates = []
    for _ in range(REPEATS):
        llm.reset()
        llm.eval(ids[:DECODE_PROMPT_TOKENS])
        elapsed = 0.0
        for _ in range(DECODE_STEPS):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
            token = int(np.argmax(logits))
            start = time.perf_counter()
            llm.eval([token])
            elapsed += time.perf_counter() - start
        rates.append(DECODE_STEPS / elapsed)
    result["decode_tok_s"] = statistics.median(rates)
    print(json.dumps(result))


def prompt_of_tokens(model, n):
    """A prefix of SOURCE_TEXT that llama.cpp tokenizes into n tokens (Butterfly's tokenizer gives the
    same ids; tests/unit/model/tokenizer_test.cpp checks that)."""
    import llama_cpp

    vocab = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
    ids = vocab.tokenize(SOURCE_TEXT.encode(), add_bos=False, special=False)
    return vocab.detokenize(ids[:n]).decode("utf-8")


def find_number(obj, *names):
    """The first numeric field among names, at the top level or one object down (e.g. "timings")."""
    scopes = [obj] + [v for v in obj.values() if isinstance(v, dict)]
    for name in names:
        for scope in scopes:
            if isinstance(scope.get(name), (int, float)):
                return float(scope[name])
    return None


def run_measured(cmd):
    """Runs cmd; returns (exit code, stdout, stderr, peak RSS in MiB of that process alone)."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        out, err = proc.stdout.read(), proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out, err, usage.ru_maxrss / 1024.0


def measure_llama(args):
    code, out, err, rss = run_measured([sys.executable, __file__, "--model", args.model, "--butterfly",
                                        args.butterfly, "--threads", str(args.threads), "--child", "llama"])
    if code != 0:
        return None, f"llama.cpp run failed (exit {code}): {err.strip()[-300:]}"
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mib"] = rss
    # The interpreter and its modules alone, so readers can subtract them.
    _, _, _, base = run_measured([sys.executable, "-c", "import llama_cpp, numpy"])
    result["note"] = f"includes the Python interpreter with llama_cpp and numpy loaded ({base:.0f} MiB by themselves)"
    return result, None


def measure_butterfly(args):
    probe = subprocess.run([args.butterfly, "generate", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        return None, f"`{args.butterfly} generate` is not available in this build"
    peak = 0.0

    def generate(prompt, max_tokens):
        nonlocal peak
        cmd = [args.butterfly, "generate", "--model", args.model, "--raw", "--max-tokens", str(max_tokens),
               "--temperature", "0", "--threads", str(args.threads), "--json", prompt]
        code, out, err, rss = run_measured(cmd)
        if code != 0:
            raise RuntimeError(f"butterfly generate exited {code}: {err.strip()[-300:]}")
        peak = max(peak, rss)
        return json.loads(out)

    result = {"runtime": "Butterfly"}
    try:
        generate(prompt_of_tokens(args.model, 32), 1)  # warm-up: the page cache holds the file
        for n in PREFILL_LENGTHS:
            prompt = prompt_of_tokens(args.model, n)
            rates = []
            for _ in range(REPEATS):
                out = generate(prompt, 1)
                rate = find_number(out, "prefill_tok_s", "prefill_tokens_per_s", "prefill_tokens_per_second")
                if rate is None:
                    raise RuntimeError("butterfly generate --json reports no prefill rate (expected "
                                       "prefill_tok_s); keys: " + ", ".join(sorted(out)))
                rates.append(rate)
            result[f"prefill_{n}_tok_s"] = statistics.median(rates)
        prompt = prompt_of_tokens(args.model, DECODE_PROMPT_TOKENS)
        rates = []
        for _ in range(REPEATS):
            out = generate(prompt, DECODE_STEPS)
            rate = find_number(out, "decode_tok_s", "decode_tokens_per_s", "decode_tokens_per_second")
            if rate is None:
                raise RuntimeError("butterfly generate --json reports no decode rate (expected decode_tok_s); "
                                   "keys: " + ", ".join(sorted(out)))
            rates.append(rate)
        result["decode_tok_s"] = statistics.median(rates)
    except (RuntimeError, json.JSONDecodeError, IndexError) as e:
        return None, str(e)
    result["peak_rss_mib"] = peak
    result["note"] = "the butterfly process alone"
    return result, None


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def git_commit():
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--butterfly", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=["llama"])
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure the runtimes alternately this many times and report each figure's median "
                             "over the rounds (a busy machine: both see the same load)")
    parser.add_argument("--butterfly-before", metavar="BINARY",
                        help="also measure this butterfly binary (e.g. the previous build) in every round")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the results and a report for docs/results.md (scripts/bench_report.py) to FILE")
    args = parser.parse_args()
    if args.child == "llama":
        child_llama(args.model, args.threads)
        return 0
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be in 1..20")

    load_before = os.getloadavg()[0]
    runners = [("llama.cpp", measure_llama, args)]
    if args.butterfly_before:
        before = argparse.Namespace(**{**vars(args), "butterfly": args.butterfly_before})
        runners.append(("Butterfly (before)", measure_butterfly, before))
    runners.append(("Butterfly", measure_butterfly, args))
    per_round = {name: [] for name, _, _ in runners}
    errors = {}
    for round_index in range(args.rounds):
        for name, measure, run_args in runners:
            print(f"bench-model: round {round_index + 1}/{args.rounds}: {name} on {os.path.basename(args.model)}, "
                  f"{args.threads} threads ...", file=sys.stderr)
            result, error = measure(run_args)
            if result is None:
                errors[name] = error
            else:
                per_round[name].append(result)
    load_after = os.getloadavg()[0]
    results = []
    for name, _, _ in runners:
        rounds = per_round[name]
        if not rounds:
            continue
        merged = dict(rounds[0])
        if name == "Butterfly (before)":
            merged["runtime"] = f"Butterfly before ({args.butterfly_before})"
        for key in ("prefill_128_tok_s", "prefill_512_tok_s", "decode_tok_s", "peak_rss_mib"):
            merged[key] = statistics.median(r[key] for r in rounds)
        merged["rounds"] = [round(r["decode_tok_s"], 1) for r in rounds]
        results.append(merged)

    print(f"# Model speed: {os.path.basename(args.model)}, {args.threads} threads, batch 1\n")
    print(f"Machine: {machine()}. Commit: {git_commit()}. Date: {time.strftime('%Y-%m-%d %H:%M %Z')}.")
    print(f"Command: scripts/bench-model (threads {args.threads}). 1-minute load average {load_before:.2f} before, "
          f"{load_after:.2f} after" + (" (other work was running: figures are pessimistic)" if max(
              load_before, load_after) > 0.5 else "") + ".")
    print(f"Prefill: median of {REPEATS} runs of a {'/'.join(map(str, PREFILL_LENGTHS))}-token prompt. Decode: "
          f"median of {REPEATS} runs of {DECODE_STEPS} greedy steps after a {DECODE_PROMPT_TOKENS}-token prompt."
          + (f" {args.rounds} rounds, the runtimes alternating; each figure is the median over the rounds."
             if args.rounds > 1 else "") + "\n")
    print("| runtime | prefill 128 (tok/s) | prefill 512 (tok/s) | decode (tok/s) | decode per round | peak RSS (MiB) | RSS note |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        print(f"| {result['runtime']} | {result['prefill_128_tok_s']:.1f} | {result['prefill_512_tok_s']:.1f} | "
              f"{result['decode_tok_s']:.1f} | {', '.join(map(str, result['rounds']))} | "
              f"{result['peak_rss_mib']:.0f} | {result['note']} |")
    for name, error in errors.items():
        print(f"\n{name} not measured (at least one round): {error}.")
    if args.json:
        write_json(args, results, errors, load_before, load_after)
    return 0 if not errors else 1


def write_json(args, results, errors, load_before, load_after):
    """The measured rows beside the seed's 2.1 single-model baseline, for docs/results.md."""
    rows = [[r["runtime"], r["prefill_128_tok_s"], r["prefill_512_tok_s"], r["decode_tok_s"], r["peak_rss_mib"]]
            for r in results]
    command = f"scripts/bench-model (threads {args.threads}, rounds {args.rounds})"
    report = {"tables": [{
        "id": "model-speed", "seed_section": "2.1 Single Model Sequential Inference",
        "title": f"One model, one sequence: {os.path.basename(args.model)} on {args.threads} CPU threads, batch 1",
        "columns": ["runtime", "prefill 128 (tok/s)", "prefill 512 (tok/s)", "decode (tok/s)", "peak RSS (MiB)"],
        "rows": rows,
        "seed": {"columns": ["baseline", "latency mean (ms)", "p99 (ms)", "throughput (queries/s)", "memory"],
                 "rows": [["LLaMA-3-70B on one A100, 2,048-token context", 247, 347, 4.1, "68 GB GPU"],
                          ["GPT-4 API", 1847, 3102, "rate limited", "-"]]},
        "notes": ["Not the seed's model or hardware: the seed's baseline is a 70B model on an A100 GPU (and GPT-4 over the "
                  "network, which cannot be reached from here); Butterfly's default model is SmolLM2-135M on this "
                  "machine's CPU, measured beside llama.cpp (llama-cpp-python) on the same file and threads.",
                  f"1-minute load average {load_before:.2f} before, {load_after:.2f} after."]
                 + [f"{name} not measured: {error}" for name, error in errors.items()]}],
        "plots": []}
    out = {"suite": "model", "machine": {"cpu": machine(), "commit": git_commit(), "build_type": "Release"},
           "command": command, "results": results, "errors": errors, "report": report}
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
