#!/usr/bin/env python3
"""fp32 reference for SmolLM2 (or any llama-architecture GGUF): dequantizes every tensor with the
`gguf` package's own dequantize() and runs the Llama forward pass in numpy float32, from fixed
token ids, greedy, for a few steps.

Writes JSON {"prompt": [...], "ids": [...], "steps": [{"mean": m, "std": s, "top": [[id, logit],
...]}]}: for each step the full-vocabulary mean and standard deviation of the logits and the
`--top` highest logits, so the committed fixture stays small while the C++ test can still compute
a cosine similarity (of mean-centred logits) over the tokens that matter.

Usage: smollm2_fp32.py MODEL.gguf OUT.json [--steps N] [--top K] [--prompt id,id,...]
RoPE is llama.cpp's "normal" mode for LLM_ARCH_LLAMA (pairs (2i, 2i+1)): llama.cpp's converter
permuted the q/k weights in the file for it.
"""
import argparse
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

# "What is the capital of France?" as llama.cpp tokenizes it (tests/reference/smollm2_tokens.json).
DEFAULT_PROMPT = [1780, 314, 260, 3575, 282, 4649, 47]


def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    v = f.parts[f.data[0]]
    return v.tolist()[0] if len(v) == 1 else v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--top", type=int, default=1000)
    ap.add_argument("--prompt", default=",".join(map(str, DEFAULT_PROMPT)))
    args = ap.parse_args()
    r = GGUFReader(args.model)
    dim = field(r, "llama.embedding_length")
    layers = field(r, "llama.block_count")
    heads = field(r, "llama.attention.head_count")
    kv_heads = field(r, "llama.attention.head_count_kv", heads)
    theta = float(field(r, "llama.rope.freq_base", 10000.0))
    eps = np.float32(field(r, "llama.attention.layer_norm_rms_epsilon", 1e-5))
    head = dim // heads
    group = heads // kv_heads
    W = {}
    for t in r.tensors:
        a = dequantize(t.data, t.tensor_type).astype(np.float32)
        W[t.name] = a.reshape([int(d) for d in reversed(t.shape.tolist())])
    emb = W["token_embd.weight"]
    out_w = W.get("output.weight", emb)

    def rmsnorm(x, w):
        return w * (x / np.sqrt(np.mean(x * x, dtype=np.float32) + eps)).astype(np.float32)

    inv = theta ** (-np.arange(0, head, 2, dtype=np.float64) / head)

    def rope(v, pos):
        v = v.reshape(-1, head // 2, 2)
        c = np.cos(pos * inv).astype(np.float32)
        s = np.sin(pos * inv).astype(np.float32)
        a, b = v[..., 0], v[..., 1]
        return np.stack([a * c - b * s, a * s + b * c], axis=-1).reshape(-1)

    prompt = [int(x) for x in args.prompt.split(",")]
    total = len(prompt) + args.steps
    kc = np.zeros((layers, total, kv_heads * head), dtype=np.float32)
    vc = np.zeros_like(kc)

    def forward(token, pos):
        x = emb[token].copy()
        for l in range(layers):
            b = f"blk.{l}."
            xb = rmsnorm(x, W[b + "attn_norm.weight"])
            q = rope(W[b + "attn_q.weight"] @ xb, pos)
            kc[l, pos] = rope(W[b + "attn_k.weight"] @ xb, pos)
            vc[l, pos] = W[b + "attn_v.weight"] @ xb
            att = np.zeros(heads * head, dtype=np.float32)
            for h in range(heads):
                kh = (h // group) * head
                sc = kc[l, :pos + 1, kh:kh + head] @ q[h * head:(h + 1) * head] / np.float32(np.sqrt(head))
                sc = np.exp(sc - sc.max())
                sc /= sc.sum()
                att[h * head:(h + 1) * head] = sc @ vc[l, :pos + 1, kh:kh + head]
            x = x + W[b + "attn_output.weight"] @ att
            xb = rmsnorm(x, W[b + "ffn_norm.weight"])
            g = W[b + "ffn_gate.weight"] @ xb
            u = W[b + "ffn_up.weight"] @ xb
            x = x + W[b + "ffn_down.weight"] @ ((g / (np.float32(1) + np.exp(-g))) * u)
        return out_w @ rmsnorm(x, W["output_norm.weight"])

    for pos, tok in enumerate(prompt[:-1]):
        forward(tok, pos)
    token, pos = prompt[-1], len(prompt) - 1
    ids, steps = [], []
    for _ in range(args.steps):
        logits = forward(token, pos)
        top = np.argsort(-logits, kind="stable")[:args.top]
        steps.append({"mean": float(f"{logits.mean():.7g}"), "std": float(f"{logits.std():.7g}"),
                      "top": [[int(i), float(f"{logits[i]:.6g}")] for i in top]})
        token = int(np.argmax(logits))
        ids.append(token)
        pos += 1
    with open(args.out, "w") as f:
        json.dump({"model": args.model.split("/")[-1], "prompt": prompt, "ids": ids, "steps": steps}, f,
                  separators=(",", ":"))
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
