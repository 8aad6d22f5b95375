"""Side-by-side model speed: llama.cpp (llama-cpp-python) and Butterfly on the same GGUF file with the
same thread count, in one run: prefill 128/512, decode at batch 1 and at batch 4, peak RSS. A second
table: stories260K (llama2.c checkpoint) in Butterfly (bf_bench_core) against the numpy reference
tests/reference/stories260k.py. Run through scripts/bench-model. Each runtime runs in its own child
processes so its peak RSS is its own (GNU time's maximum resident set size, see run_measured; the
largest of its processes)."""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFILL_LENGTHS = (128, 512)
DECODE_PROMPT_TOKENS = 16
DECODE_STEPS = 64
DECODE_BATCH = 4  # sequences decoded together in the batched decode figure
REPEATS = 3
STORIES_DECODE_STEPS = 64  # bench/model_bench.cpp's BM_model_decode_stories260k/64
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


def child_llama_batch(model, threads, batch):
    """Decode of `batch` sequences together through llama.cpp's own batch API (llama-cpp-python's
    Llama class decodes one sequence): each step one llama_decode with one token per sequence, seq_id
    = the sequence, logits for every row. The prompt is the same DECODE_PROMPT_TOKENS ids for every
    sequence (as Butterfly's --batch), prefilled in one llama_decode; only the decode steps are timed."""
    import llama_cpp
    import numpy as np

    import ctypes

    @llama_cpp.llama_log_callback
    def quiet(level, text, user_data):  # its load log would fill the stderr pipe (run_measured reads it last)
        pass

    llama_cpp.llama_log_set(quiet, ctypes.c_void_p())
    llama_cpp.llama_backend_init()
    model_params = llama_cpp.llama_model_default_params()
    lm = llama_cpp.llama_load_model_from_file(model.encode(), model_params)
    if not lm:
        raise SystemExit(f"bench: llama.cpp could not load {model}")
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch, params.n_seq_max = 1024, 512, 512, batch
    params.n_threads = params.n_threads_batch = threads
    ctx = llama_cpp.llama_new_context_with_model(lm, params)
    vocab = llama_cpp.llama_model_get_vocab(lm)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    text = SOURCE_TEXT.encode()
    ids = (llama_cpp.llama_token * (len(text) + 1))()
    n = llama_cpp.llama_tokenize(vocab, text, len(text), ids, len(ids), False, False)
    prompt = list(ids[:DECODE_PROMPT_TOKENS])
    if n < DECODE_PROMPT_TOKENS:
        raise SystemExit(f"bench: source text gives only {n} tokens")
    b = llama_cpp.llama_batch_init(DECODE_PROMPT_TOKENS * batch, 0, batch)

    def put(row, token, pos, seq, logits):
        b.token[row], b.pos[row], b.n_seq_id[row], b.logits[row] = token, pos, 1, logits
        b.seq_id[row][0] = seq

    def run():
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
        for seq in range(batch):
            for i, token in enumerate(prompt):
                put(seq * len(prompt) + i, token, i, seq, i == len(prompt) - 1)
        b.n_tokens = batch * len(prompt)
        if llama_cpp.llama_decode(ctx, b) != 0:
            raise SystemExit("bench: llama_decode failed on the prompt")
        rows = [(seq + 1) * len(prompt) - 1 for seq in range(batch)]  # each sequence's logits row
        elapsed = 0.0
        for step in range(DECODE_STEPS):
            tokens = [int(np.argmax(np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, r), shape=(n_vocab,))))
                      for r in rows]
            for seq, token in enumerate(tokens):
                put(seq, token, len(prompt) + step, seq, True)
            b.n_tokens = batch
            start = time.perf_counter()
            if llama_cpp.llama_decode(ctx, b) != 0:
                raise SystemExit("bench: llama_decode failed in a decode step")
            elapsed += time.perf_counter() - start
            rows = list(range(batch))
        return batch * DECODE_STEPS / elapsed

    run()  # warm-up: page in the weights, size the buffers
    print(json.dumps({f"decode_b{batch}_tok_s": statistics.median(run() for _ in range(REPEATS))}))
    llama_cpp.llama_batch_free(b)
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_free_model(lm)


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


GNU_TIME = "/usr/bin/time"
_warned_no_time = False


def run_measured(cmd, env=None):
    """Runs cmd; returns (exit code, stdout, stderr, peak RSS in MiB of that process alone).

    The RSS comes from GNU time (its own small process forks the command), not from os.wait4 here:
    Linux carries the forking process's high-water RSS into the child's ru_maxrss at exec, so every
    child of this script (which holds llama_cpp's vocabulary) would report at least this script's RSS.
    Without GNU time, wait4's figure is used and a warning says it is an upper bound."""
    global _warned_no_time
    use_time = os.access(GNU_TIME, os.X_OK)
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        full = [GNU_TIME, "-f", "%M", "-o", rss_file.name] + cmd if use_time else cmd
        with subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
            out, err = proc.communicate()
        text = rss_file.read().strip().splitlines()
    if use_time and text and text[-1].isdigit():
        return proc.returncode, out, err, int(text[-1]) / 1024.0
    if not _warned_no_time:
        print(f"bench-model: warning: {GNU_TIME} (GNU time) is absent or failed: peak RSS figures are upper bounds "
              "(they include this script's own high-water RSS)", file=sys.stderr)
        _warned_no_time = True
    return proc.returncode, out, err, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def measure_llama(args):
    def child(kind):
        code, out, err, rss = run_measured([sys.executable, __file__, "--model", args.model, "--butterfly",
                                            args.butterfly, "--threads", str(args.threads), "--child", kind])
        if code != 0:
            return None, f"llama.cpp run ({kind}) failed (exit {code}): {err.strip()[-300:]}", rss
        return json.loads(out.strip().splitlines()[-1]), None, rss

    result, error, rss = child("llama")
    if result is None:
        return None, error
    batched, error, rss_batched = child("llama-batch")
    if batched is None:
        return None, error
    result.update(batched)
    result["peak_rss_mib"] = max(rss, rss_batched)
    # The interpreter and its modules alone, so readers can subtract them.
    _, _, _, base = run_measured([sys.executable, "-c", "import llama_cpp, numpy"])
    result["note"] = f"includes the Python interpreter with llama_cpp and numpy loaded ({base:.0f} MiB by themselves)"
    return result, None


def measure_butterfly(args):
    probe = subprocess.run([args.butterfly, "generate", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        return None, f"`{args.butterfly} generate` is not available in this build"
    peak = 0.0

    def generate(prompt, max_tokens, batch=1):
        nonlocal peak
        cmd = [args.butterfly, "generate", "--model", args.model, "--raw", "--max-tokens", str(max_tokens),
               "--temperature", "0", "--threads", str(args.threads), "--json", prompt]
        if batch > 1:  # only then: a build before --batch (--butterfly-before) still gives the other figures
            cmd[-1:-1] = ["--batch", str(batch)]
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

        def decode_rate(batch):
            rates = []
            for _ in range(REPEATS):
                # --batch N: decode_tok_s counts the tokens of all N sequences over the decode wall time.
                out = generate(prompt, DECODE_STEPS, batch)
                rate = find_number(out, "decode_tok_s", "decode_tokens_per_s", "decode_tokens_per_second")
                if rate is None:
                    raise RuntimeError("butterfly generate --json reports no decode rate (expected decode_tok_s); "
                                       "keys: " + ", ".join(sorted(out)))
                rates.append(rate)
            return statistics.median(rates)

        result["decode_tok_s"] = decode_rate(1)
        try:
            result[f"decode_b{DECODE_BATCH}_tok_s"] = decode_rate(DECODE_BATCH)
        except RuntimeError as e:  # a build before `generate --batch` (--butterfly-before): the rest stands
            result[f"decode_b{DECODE_BATCH}_tok_s"] = None
            result["note_batch"] = f"no batch {DECODE_BATCH} figure: {str(e)[:200]}"
    except (RuntimeError, json.JSONDecodeError, IndexError) as e:
        return None, str(e)
    result["peak_rss_mib"] = peak
    result["note"] = "the butterfly process alone"
    return result, None


def default_stories():
    """$BUTTERFLY_STORIES260K, else ../shared/models/stories260K/stories260K.bin (model/model_paths.hpp's order)."""
    return os.environ.get("BUTTERFLY_STORIES260K") or os.path.join(
        os.path.dirname(ROOT), "shared", "models", "stories260K", "stories260K.bin")


def measure_stories_reference(args):
    """The numpy reference (run.c's algorithm): no batched path, so its prefill is token by token."""
    script = os.path.join(ROOT, "tests", "reference", "stories260k.py")
    env_threads = {name: str(args.threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    with_env = ["env"] + [f"{k}={v}" for k, v in env_threads.items()]
    code, out, err, rss = run_measured(with_env + [sys.executable, script, args.stories, "--bench", "--steps",
                                                   str(STORIES_DECODE_STEPS)])
    if code != 0:
        return None, f"the numpy reference failed (exit {code}): {err.strip()[-300:]}"
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mib"] = rss
    result["note"] = "prefill is token by token (run.c has no batched path); includes the Python interpreter and numpy"
    return result, None


def measure_stories_butterfly(args):
    """bf_bench_core's BM_model_prefill_stories260k/128, /512 and BM_model_decode_stories260k/64
    (one token at a time from an empty cache), medians of REPEATS repetitions."""
    if not os.access(args.bench_core, os.X_OK):
        return None, f"{args.bench_core} is absent (build the bf_bench_core target, or give --bench-core)"
    env = {**os.environ, "BF_BENCH_THREADS": str(args.threads), "BUTTERFLY_STORIES260K": args.stories}
    cmd = [args.bench_core, "--benchmark_filter=BM_model_(prefill|decode)_stories260k", "--benchmark_format=json",
           f"--benchmark_repetitions={REPEATS}", "--benchmark_report_aggregates_only=true"]
    code, out, err, rss = run_measured(cmd, env)
    if code != 0:
        return None, f"bf_bench_core exited {code}: {err.strip()[-300:]}"
    medians = {}
    for bench in json.loads(out).get("benchmarks", []):
        if bench.get("error_occurred"):
            return None, f"bf_bench_core: {bench.get('error_message')}"
        if bench.get("aggregate_name") == "median":
            medians[bench["run_name"]] = bench.get("tokens_per_s")
    want = {"prefill_128_tok_s": "BM_model_prefill_stories260k/128/real_time",
            "prefill_512_tok_s": "BM_model_prefill_stories260k/512/real_time",
            "decode_tok_s": f"BM_model_decode_stories260k/{STORIES_DECODE_STEPS}/real_time"}
    result = {"runtime": "Butterfly (bf_bench_core)", "prefill": "batched"}
    for key, name in want.items():
        if medians.get(name) is None:
            return None, f"bf_bench_core reported no {name} (found: {', '.join(sorted(medians)) or 'none'})"
        result[key] = medians[name]
    result["peak_rss_mib"] = rss
    result["note"] = "the bf_bench_core process alone"
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


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def merge_rounds(rounds, keys):
    """The first round's fields with each of keys replaced by its median over the rounds."""
    merged = dict(rounds[0])
    for key in keys:
        merged[key] = median_or_none(r.get(key) for r in rounds)
    return merged


def run_rounds(runners, rounds, label):
    """Measures every runner once per round, alternating; returns ({name: [results]}, {name: error})."""
    per_round = {name: [] for name, _, _ in runners}
    errors = {}
    for round_index in range(rounds):
        for name, measure, run_args in runners:
            print(f"bench-model: round {round_index + 1}/{rounds}: {name} on {label} ...", file=sys.stderr)
            result, error = measure(run_args)
            if result is None:
                errors[name] = error
            else:
                per_round[name].append(result)
    return per_round, errors


B4 = f"decode_b{DECODE_BATCH}_tok_s"
MODEL_KEYS = ("prefill_128_tok_s", "prefill_512_tok_s", "decode_tok_s", B4, "peak_rss_mib")
STORIES_KEYS = ("prefill_128_tok_s", "prefill_512_tok_s", "decode_tok_s", "peak_rss_mib")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--butterfly", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=["llama", "llama-batch"])
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure the runtimes alternately this many times and report each figure's median "
                             "over the rounds (a busy machine: both see the same load)")
    parser.add_argument("--butterfly-before", metavar="BINARY",
                        help="also measure this butterfly binary (e.g. the previous build) in every round")
    parser.add_argument("--stories", metavar="PATH", default=default_stories(),
                        help="the llama2.c stories260K checkpoint for the second table (default: $BUTTERFLY_STORIES260K "
                             "or ../shared/models/stories260K/stories260K.bin); the table is skipped if it is absent")
    parser.add_argument("--bench-core", metavar="BINARY",
                        help="bf_bench_core for the stories260K table (default: beside --butterfly)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the results and a report for docs/results.md (scripts/bench_report.py) to FILE")
    args = parser.parse_args()
    if args.child == "llama":
        child_llama(args.model, args.threads)
        return 0
    if args.child == "llama-batch":
        child_llama_batch(args.model, args.threads, DECODE_BATCH)
        return 0
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be in 1..20")
    if not 1 <= args.threads <= 256:
        parser.error("--threads must be in 1..256")
    if args.bench_core is None:
        args.bench_core = os.path.join(os.path.dirname(os.path.abspath(args.butterfly)), "bf_bench_core")

    load_before = os.getloadavg()[0]
    runners = [("llama.cpp", measure_llama, args)]
    if args.butterfly_before:
        before = argparse.Namespace(**{**vars(args), "butterfly": args.butterfly_before})
        runners.append(("Butterfly (before)", measure_butterfly, before))
    runners.append(("Butterfly", measure_butterfly, args))
    per_round, errors = run_rounds(runners, args.rounds, f"{os.path.basename(args.model)}, {args.threads} threads")
    results = []
    for name, _, _ in runners:
        if not per_round[name]:
            continue
        merged = merge_rounds(per_round[name], MODEL_KEYS)
        if name == "Butterfly (before)":
            merged["runtime"] = f"Butterfly before ({args.butterfly_before})"
        merged["rounds"] = [[round(r["decode_tok_s"], 1) for r in per_round[name]],
                            [None if r.get(B4) is None else round(r[B4], 1) for r in per_round[name]]]
        results.append(merged)

    stories_results, stories_errors, stories_skipped = [], {}, None
    if not os.path.isfile(args.stories):
        stories_skipped = f"{args.stories} is absent (set BUTTERFLY_STORIES260K or give --stories)"
    else:
        stories_runners = [("numpy reference", measure_stories_reference, args),
                           ("Butterfly", measure_stories_butterfly, args)]
        stories_rounds, stories_errors = run_rounds(stories_runners, args.rounds, f"stories260K, {args.threads} threads")
        stories_results = [merge_rounds(stories_rounds[name], STORIES_KEYS)
                           for name, _, _ in stories_runners if stories_rounds[name]]
    load_after = os.getloadavg()[0]

    print(f"# Model speed: {os.path.basename(args.model)}, {args.threads} threads, batch 1 and {DECODE_BATCH}\n")
    print(f"Machine: {machine()}. Commit: {git_commit()}. Date: {time.strftime('%Y-%m-%d %H:%M %Z')}.")
    print(f"Command: scripts/bench-model (threads {args.threads}). 1-minute load average {load_before:.2f} before, "
          f"{load_after:.2f} after" + (" (other work was running: figures are pessimistic)" if max(
              load_before, load_after) > 0.5 else "") + ".")
    print(f"Prefill: median of {REPEATS} runs of a {'/'.join(map(str, PREFILL_LENGTHS))}-token prompt. Decode: "
          f"median of {REPEATS} runs of {DECODE_STEPS} greedy steps after a {DECODE_PROMPT_TOKENS}-token prompt; "
          f"at batch {DECODE_BATCH}, {DECODE_BATCH} sequences of that prompt decoded together (one forward pass per "
          f"step for all), tokens/s counting all {DECODE_BATCH} sequences' tokens."
          + (f" {args.rounds} rounds, the runtimes alternating; each figure is the median over the rounds."
             if args.rounds > 1 else "") + "\n")
    print(f"| runtime | prefill 128 (tok/s) | prefill 512 (tok/s) | decode b1 (tok/s) | decode b{DECODE_BATCH} (tok/s) "
          f"| decode b1; b{DECODE_BATCH} per round | peak RSS (MiB) | RSS note |")
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        per = "; ".join(", ".join(fmt(v) for v in rates) for rates in result["rounds"])
        print(f"| {result['runtime']} | {fmt(result['prefill_128_tok_s'])} | {fmt(result['prefill_512_tok_s'])} | "
              f"{fmt(result['decode_tok_s'])} | {fmt(result[B4])} | {per} | {fmt(result['peak_rss_mib'], 0)} | "
              f"{result['note']} |")
    for result in results:
        if result.get("note_batch"):
            print(f"\n{result['runtime']}: {result['note_batch']}.")
    for name, error in errors.items():
        print(f"\n{name} not measured (at least one round): {error}.")

    print(f"\n# stories260K vs the numpy reference, {args.threads} threads\n")
    if stories_skipped:
        print(f"Skipped: {stories_skipped}.")
    else:
        print(f"Checkpoint {args.stories} (llama2.c, F32, token ids only). Prefill: the fixed ids 1 + (i * 37) mod 500, "
              f"median of {REPEATS} runs. Decode: {STORIES_DECODE_STEPS} steps one token at a time from an empty cache "
              "(the reference greedy from BOS), median of " f"{REPEATS} runs.\n")
        print("| runtime | prefill 128 (tok/s) | prefill 512 (tok/s) | decode (tok/s) | peak RSS (MiB) | note |")
        print("|---|---|---|---|---|---|")
        for result in stories_results:
            print(f"| {result['runtime']} | {fmt(result['prefill_128_tok_s'])} | {fmt(result['prefill_512_tok_s'])} | "
                  f"{fmt(result['decode_tok_s'])} | {fmt(result['peak_rss_mib'], 0)} | {result['note']} |")
        for name, error in stories_errors.items():
            print(f"\nstories260K, {name} not measured (at least one round): {error}.")
    if args.json:
        write_json(args, results, errors, load_before, load_after, stories_results, stories_errors, stories_skipped)
    return 0 if not errors and not stories_errors else 1


def write_json(args, results, errors, load_before, load_after, stories_results, stories_errors, stories_skipped):
    """The measured rows beside the seed's 2.1 single-model baseline, for docs/results.md, and the
    stories260K table."""
    rows = [[r["runtime"], r["prefill_128_tok_s"], r["prefill_512_tok_s"], r["decode_tok_s"], r[B4], r["peak_rss_mib"]]
            for r in results]
    command = f"scripts/bench-model (threads {args.threads}, rounds {args.rounds})"
    load_note = f"1-minute load average {load_before:.2f} before, {load_after:.2f} after."
    stories_notes = ([f"Skipped: {stories_skipped}."] if stories_skipped else [
        "The reference is tests/reference/stories260k.py (numpy, run.c's algorithm): it has no batched path, so its "
        "prefill is one token at a time; its figures include the Python interpreter.",
        f"Decode: {STORIES_DECODE_STEPS} steps from an empty cache; Butterfly's figures are bf_bench_core's "
        "BM_model_prefill_stories260k and BM_model_decode_stories260k.", load_note]) + [
        f"{name} not measured: {error}" for name, error in stories_errors.items()]
    report = {"tables": [{
        "id": "model-speed", "seed_section": "2.1 Single Model Sequential Inference",
        "title": f"One model: {os.path.basename(args.model)} on {args.threads} CPU threads, decode at batch 1 and "
                 f"{DECODE_BATCH}",
        "columns": ["runtime", "prefill 128 (tok/s)", "prefill 512 (tok/s)", "decode b1 (tok/s)",
                    f"decode b{DECODE_BATCH} (tok/s)", "peak RSS (MiB)"],
        "rows": rows,
        "seed": {"columns": ["baseline", "latency mean (ms)", "p99 (ms)", "throughput (queries/s)", "memory"],
                 "rows": [["LLaMA-3-70B on one A100, 2,048-token context", 247, 347, 4.1, "68 GB GPU"],
                          ["GPT-4 API", 1847, 3102, "rate limited", "-"]]},
        "notes": ["Not the seed's model or hardware: the seed's baseline is a 70B model on an A100 GPU (and GPT-4 over the "
                  "network, which cannot be reached from here); Butterfly's default model is SmolLM2-135M on this "
                  "machine's CPU, measured beside llama.cpp (llama-cpp-python) on the same file and threads.",
                  f"Decode b{DECODE_BATCH}: {DECODE_BATCH} sequences of the same {DECODE_PROMPT_TOKENS}-token prompt "
                  f"decoded together, {DECODE_STEPS} greedy steps; tokens/s counts all sequences' tokens "
                  "(llama.cpp through its llama_batch API with one seq_id per sequence; Butterfly through "
                  f"`butterfly generate --batch {DECODE_BATCH}`).",
                  load_note]
                 + [f"{name} not measured: {error}" for name, error in errors.items()]}, {
        "id": "model-speed-stories260k", "seed_section": "2.1 Single Model Sequential Inference",
        "title": f"stories260K vs the numpy reference on {args.threads} CPU threads",
        "columns": ["runtime", "prefill 128 (tok/s)", "prefill 512 (tok/s)", "decode (tok/s)", "peak RSS (MiB)"],
        "rows": [[r["runtime"], r["prefill_128_tok_s"], r["prefill_512_tok_s"], r["decode_tok_s"], r["peak_rss_mib"]]
                 for r in stories_results],
        "notes": stories_notes}],
        "plots": []}
    out = {"suite": "model", "machine": {"cpu": machine(), "commit": git_commit(), "build_type": "Release"},
           "command": command, "results": results, "errors": errors,
           "stories260k": {"results": stories_results, "errors": stories_errors, "skipped": stories_skipped},
           "report": report}
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
