#!/usr/bin/python3
"""Stream a reproducible sharded LLaMA-like model (BF16 or F16) for the LLM-scale lock benchmarks.

usage: gen_llm.py OUTDIR [--size-gib 4.0] [--shards 4] [--dtype BF16|F16] [--seed 0]

OUTDIR receives model.safetensors.index.json and model-0000i-of-0000n.safetensors,
Hugging Face style.  The model is a LLaMA decoder of the TinyLlama shape
(hidden 2048, MLP 5632, vocabulary 32000, grouped KV heads: k/v 512 x 2048;
narrower below 1 GiB so that small sizes stay LLaMA-shaped), with as many
layers as fit the requested size:
  model.embed_tokens.weight, model.layers.N.{input_layernorm,
  post_attention_layernorm}.weight, model.layers.N.self_attn.{q,k,v,o}_proj.weight,
  model.layers.N.mlp.{gate,up,down}_proj.weight, model.norm.weight, lm_head.weight.

Values: projections N(0, 0.02), with a few outlier input columns (0.2 % of
the hidden dimensions, the same ones in every layer, scaled 8x: the outlier
features of trained LLMs), down_proj N(0, 0.02 / sqrt(2 * layers)), embeddings
and lm_head N(0, 0.02), RMS norms 1 + 0.05 N.  Each tensor has its own
generator (seed, tensor index) and is written in bounded row chunks, so memory
stays bounded by the chunk and the same arguments give the same bytes.
Tensors are assigned to shards in order, cutting at equal byte shares.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_model import to_bytes  # noqa: E402  (the BF16 rounding lives there)

CHUNK = 1 << 22  # elements per generated chunk


def shape_for(size_bytes):
    s = min(1.0, math.sqrt(size_bytes / float(1 << 30)))
    H = max(64, int(round(2048 * s / 64)) * 64)
    return H, max(64, int(round(5632 * s / 64)) * 64), max(256, int(round(32000 * s / 64)) * 64), H // 4


def plan(size_bytes, esize):
    H, M, V, KV = shape_for(size_bytes)
    per_layer = (2 * H * H + 2 * KV * H + 3 * M * H + 2 * H) * esize
    fixed = (2 * V * H + H) * esize
    L = max(1, -(-(size_bytes - fixed) // per_layer))  # at least the size asked for
    T = [("model.embed_tokens.weight", [V, H], ("normal", 0.02))]
    for i in range(L):
        p = "model.layers.%d." % i
        T.append((p + "input_layernorm.weight", [H], ("norm", 0.05)))
        T.append((p + "self_attn.q_proj.weight", [H, H], ("proj", 0.02)))
        T.append((p + "self_attn.k_proj.weight", [KV, H], ("proj", 0.02)))
        T.append((p + "self_attn.v_proj.weight", [KV, H], ("proj", 0.02)))
        T.append((p + "self_attn.o_proj.weight", [H, H], ("proj", 0.02)))
        T.append((p + "post_attention_layernorm.weight", [H], ("norm", 0.05)))
        T.append((p + "mlp.gate_proj.weight", [M, H], ("proj", 0.02)))
        T.append((p + "mlp.up_proj.weight", [M, H], ("proj", 0.02)))
        T.append((p + "mlp.down_proj.weight", [H, M], ("normal", 0.02 / math.sqrt(2 * L))))
    T.append(("model.norm.weight", [H], ("norm", 0.05)))
    T.append(("lm_head.weight", [V, H], ("normal", 0.02)))
    return T, H


def nelem(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def write_tensor(f, rng, t, dtype, outliers):
    _, shape, (kind, std) = t
    n = nelem(shape)
    cols = shape[-1]
    rows = max(1, CHUNK // cols)
    for r0 in range(0, n // cols, rows):
        m = min(rows, n // cols - r0) * cols
        a = rng.standard_normal(m, dtype=np.float32) * np.float32(std)
        if kind == "norm":
            a += np.float32(1)
        elif kind == "proj":
            a.reshape(-1, cols)[:, outliers] *= np.float32(8)
        f.write(to_bytes(a, dtype))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--size-gib", type=float, default=4.0)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--dtype", default="BF16", choices=["BF16", "F16"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.shards < 1:
        ap.error("--shards must be >= 1")

    T, H = plan(int(a.size_gib * (1 << 30)), 2)
    total = sum(nelem(t[1]) * 2 for t in T)
    outliers = np.random.default_rng(a.seed ^ 0x5EED).choice(H, size=max(1, H // 500), replace=False)
    shards, cur, acc = [[] for _ in range(a.shards)], 0, 0
    for t in T:  # cut at equal byte shares, in order
        if cur < a.shards - 1 and acc >= total * (cur + 1) / a.shards:
            cur += 1
        shards[cur].append(t)
        acc += nelem(t[1]) * 2
    shards = [s for s in shards if s]
    names = ["model-%05d-of-%05d.safetensors" % (i + 1, len(shards)) for i in range(len(shards))]
    seeds = iter(np.random.SeedSequence(a.seed).spawn(len(T)))
    os.makedirs(a.out, exist_ok=True)
    wmap = {}
    for name, ts in zip(names, shards):
        hdr, off = {"__metadata__": {"format": "pt", "generator": "corelocker bench/gen_llm.py",
                                     "seed": str(a.seed)}}, 0
        for t in ts:
            hdr[t[0]] = {"dtype": a.dtype, "shape": t[1], "data_offsets": [off, off + nelem(t[1]) * 2]}
            off += nelem(t[1]) * 2
            wmap[t[0]] = name
        h = json.dumps(hdr, separators=(",", ":")).encode()
        h += b" " * (-len(h) % 8)
        path = os.path.join(a.out, name)
        with open(path + ".tmp", "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for t in ts:
                write_tensor(f, np.random.default_rng(next(seeds)), t, a.dtype, outliers)
            assert f.tell() == 8 + len(h) + off
        os.replace(path + ".tmp", path)
    idx = os.path.join(a.out, "model.safetensors.index.json")
    with open(idx + ".tmp", "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(idx + ".tmp", idx)
    print("%s: %d tensors in %d shards, %d data bytes (%.3f GiB), hidden %d"
          % (idx, len(T), len(shards), total, total / float(1 << 30), H), file=sys.stderr)


if __name__ == "__main__":
    main()
