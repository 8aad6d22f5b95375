#!/usr/bin/env python3
"""Independent reference for Butterfly's CPU forward pass: llama2.c's run.c algorithm in numpy.

Reads the llama2.c v0 checkpoint stories260K.bin, greedy-decodes `steps` tokens from BOS (id 1),
and writes JSON {"ids": [...], "logits": [[...] per step]} with logits rounded to 7 significant
digits. Usage: stories260k.py CHECKPOINT OUT.json [--steps N]
Timing mode (scripts/bench_model.py's "stories260K vs the numpy reference" table):
  stories260k.py CHECKPOINT --bench [--steps N]   prints one JSON line of tokens/s
Written from run.c's description (rmsnorm, RoPE over pairs (2i, 2i+1), grouped-query attention,
SwiGLU, shared classifier); computes in float32 like run.c.
"""
import argparse
import json
import statistics
import struct
import sys
import time

import numpy as np


def load(path):
    raw = open(path, "rb").read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    head = dim // heads
    kv_dim = kv_heads * head
    w = np.frombuffer(raw, dtype="<f4", offset=28)
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        out = w[at:at + n].reshape(shape)
        at += n
        return out

    p = {
        "emb": take(vocab, dim),
        "rms_att": take(layers, dim),
        "wq": take(layers, dim, dim),
        "wk": take(layers, kv_dim, dim),
        "wv": take(layers, kv_dim, dim),
        "wo": take(layers, dim, dim),
        "rms_ffn": take(layers, dim),
        "w1": take(layers, hidden, dim),
        "w2": take(layers, dim, hidden),
        "w3": take(layers, hidden, dim),
        "rms_final": take(dim),
    }
    take(seq_len * head // 2)
    take(seq_len * head // 2)
    p["wcls"] = p["emb"] if shared else take(vocab, dim)
    assert at == w.size, "checkpoint size does not match its header"
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads,
               vocab=vocab, seq_len=seq_len, head=head, kv_dim=kv_dim)
    return cfg, p


def rmsnorm(x, weight):
    ss = np.float32(np.mean(x * x, dtype=np.float32)) + np.float32(1e-5)
    return weight * (x / np.sqrt(ss)).astype(np.float32)


def rope(vec, pos, head):
    out = vec.copy()
    for i in range(0, vec.size, 2):
        j = i % head
        freq = 10000.0 ** (-j / head)  # float64, like Butterfly's table; run.c uses powf
        c, s = np.float32(np.cos(pos * freq)), np.float32(np.sin(pos * freq))
        a, b = vec[i], vec[i + 1]
        out[i] = a * c - b * s
        out[i + 1] = a * s + b * c
    return out


def forward(cfg, p, token, pos, kcache, vcache):
    head, kv_dim = cfg["head"], cfg["kv_dim"]
    group = cfg["heads"] // cfg["kv_heads"]
    x = p["emb"][token].copy()
    for l in range(cfg["layers"]):
        xb = rmsnorm(x, p["rms_att"][l])
        q = rope(p["wq"][l] @ xb, pos, head)
        k = rope(p["wk"][l] @ xb, pos, head)
        v = p["wv"][l] @ xb
        kcache[l, pos] = k
        vcache[l, pos] = v
        att = np.zeros(cfg["dim"], dtype=np.float32)
        for h in range(cfg["heads"]):
            kh = (h // group) * head
            qh = q[h * head:(h + 1) * head]
            keys = kcache[l, :pos + 1, kh:kh + head]
            scores = (keys @ qh) / np.float32(np.sqrt(head))
            scores = np.exp(scores - scores.max())
            scores /= scores.sum()
            att[h * head:(h + 1) * head] = scores @ vcache[l, :pos + 1, kh:kh + head]
        x = x + p["wo"][l] @ att
        xb = rmsnorm(x, p["rms_ffn"][l])
        g = p["w1"][l] @ xb
        u = p["w3"][l] @ xb
        x = x + p["w2"][l] @ ((g / (np.float32(1) + np.exp(-g))) * u)
    x = rmsnorm(x, p["rms_final"])
    return p["wcls"] @ x


def bench(cfg, p, steps, prefill_lengths=(128, 512), repeats=3):
    """Tokens/s of forward() as it is: run.c has no batched path, so a prompt of n tokens goes
    through one token at a time ("prefill" here is n single-token steps over the fixed ids
    1 + (i * 37) mod 500, bench/model_bench.cpp's); decode is `steps` greedy steps from BOS on an
    empty cache. Each figure is the median of `repeats` runs."""
    def caches():
        k = np.zeros((cfg["layers"], cfg["seq_len"], cfg["kv_dim"]), dtype=np.float32)
        return k, np.zeros_like(k)

    result = {"runtime": "numpy reference (tests/reference/stories260k.py, run.c's algorithm)",
              "prefill": "token by token (no batched path)"}
    for n in prefill_lengths:
        if n > cfg["seq_len"]:
            raise SystemExit(f"stories260k.py: prefill {n} exceeds the context of {cfg['seq_len']}")
        ids = [1 + (i * 37) % 500 for i in range(n)]
        times = []
        for _ in range(repeats):
            kcache, vcache = caches()
            start = time.perf_counter()
            for pos, token in enumerate(ids):
                forward(cfg, p, token, pos, kcache, vcache)
            times.append(time.perf_counter() - start)
        result[f"prefill_{n}_tok_s"] = n / statistics.median(times)
    times = []
    for _ in range(repeats):
        kcache, vcache = caches()
        token = 1
        start = time.perf_counter()
        for pos in range(steps):
            token = int(np.argmax(forward(cfg, p, token, pos, kcache, vcache)))
        times.append(time.perf_counter() - start)
    result["decode_tok_s"] = steps / statistics.median(times)
    result["decode_steps"] = steps
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--bench", action="store_true", help="print tokens/s (JSON) instead of writing OUT.json")
    args = ap.parse_args()
    if not 1 <= args.steps <= 512:
        ap.error("--steps must be in 1..512 (the model's context)")
    if args.out is None and not args.bench:
        ap.error("give OUT.json, or --bench")
    cfg, p = load(args.checkpoint)
    if args.bench:
        print(json.dumps(bench(cfg, p, args.steps)))
        return 0
    kcache = np.zeros((cfg["layers"], cfg["seq_len"], cfg["kv_dim"]), dtype=np.float32)
    vcache = np.zeros_like(kcache)
    token = 1  # BOS
    ids, all_logits = [], []
    for pos in range(args.steps):
        logits = forward(cfg, p, token, pos, kcache, vcache)
        token = int(np.argmax(logits))
        ids.append(token)
        all_logits.append([float(f"{v:.7g}") for v in logits.tolist()])
    with open(args.out, "w") as f:
        json.dump({"model": "stories260K.bin", "start": [1], "ids": ids, "logits": all_logits}, f,
                  separators=(",", ":"))
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
