#!/usr/bin/python3
"""Stream a reproducible synthetic safetensors model for the lock benchmarks.

usage: gen_model.py OUT [--size-gib 1.0] [--dtype F32] [--seed 0]

The model mixes the tensor kinds the lock cares about:
  * a transformer block (LLaMA-like): q/k/v/o projections HxH with Linear
    biases as siblings, MLP gate/up MxH and down HxM (H=4096, M=11008 at
    1 GiB), RMS-norm vectors, a token embedding and an lm_head;
  * a ResNet-like conv stack: 3x3 kernels 512x512 and 256x256, 1x1
    downsample kernels, each followed by a batch-norm group (weight, bias,
    running_mean, running_var and an I64 num_batches_tracked scalar);
  * a classifier Linear with its bias.
Sizes scale with sqrt(size) and conv blocks are appended until the data
section reaches the requested size, so --size-gib 0.0625 gives a ~64 MiB
model of the same shape.

Values are normal with a per-tensor scale (kaiming-like std sqrt(2/fan_in)
for weights, 0.02 for embeddings, BN gamma ~ 1 + 0.1 N, running_var ~ U[0.5,1.5)).
Every tensor has its own generator derived from (seed, tensor index), and the
data is written in bounded chunks: memory stays small, and the same
arguments give the same bytes.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

CHUNK = 1 << 22  # elements per generated chunk (16 MiB of F32)
ESIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8}
NPTYPE = {"F64": np.float64, "F32": np.float32, "F16": np.float16}


def r64(x, lo=64):
    return max(lo, int(round(x / 64.0)) * 64)


def plan(size_bytes, dtype):
    """List of (name, dtype, shape, init) in file order, ~size_bytes of data."""
    s = math.sqrt(size_bytes / float(1 << 30))
    H, M, V = r64(4096 * s), r64(11008 * s), r64(8192 * s)
    C1, C2 = r64(512 * s, 16), r64(256 * s, 16)
    T = []

    def lin(name, out, inp, bias=True, std=None):
        T.append((name + ".weight", dtype, [out, inp], ("normal", std or math.sqrt(2.0 / inp))))
        if bias:
            T.append((name + ".bias", dtype, [out], ("normal", 0.02)))

    def conv(name, out, inp, k):
        fan_in = inp * k * k
        T.append((name + ".weight", dtype, [out, inp, k, k], ("normal", math.sqrt(2.0 / fan_in))))

    def bn(name, c):
        T.append((name + ".weight", dtype, [c], ("gamma", 0.1)))
        T.append((name + ".bias", dtype, [c], ("normal", 0.1)))
        T.append((name + ".running_mean", dtype, [c], ("normal", 0.1)))
        T.append((name + ".running_var", dtype, [c], ("var", 0.5)))
        T.append((name + ".num_batches_tracked", "I64", [], ("count", 0)))

    T.append(("model.embed_tokens.weight", dtype, [V, H], ("normal", 0.02)))
    p = "model.layers.0."
    T.append((p + "input_layernorm.weight", dtype, [H], ("gamma", 0.05)))
    for x in ("q_proj", "k_proj", "v_proj"):
        lin(p + "self_attn." + x, H, H)
    lin(p + "self_attn.o_proj", H, H, bias=False)
    T.append((p + "post_attention_layernorm.weight", dtype, [H], ("gamma", 0.05)))
    lin(p + "mlp.gate_proj", M, H, bias=False)
    lin(p + "mlp.up_proj", M, H, bias=False)
    lin(p + "mlp.down_proj", H, M, bias=False)
    T.append(("model.norm.weight", dtype, [H], ("gamma", 0.05)))
    lin("lm_head", V // 4, H, bias=False, std=0.02)

    # ResNet-like stack: stem, two 256-channel blocks, then 512-channel blocks
    # (the first with a 1x1 downsample) until the model is full.
    conv("conv1", C2 // 4, 3, 7)
    bn("bn1", C2 // 4)
    used = sum(nbytes(t) for t in T)
    tail = (1000 * C1 + 1000) * ESIZE[dtype]  # the fc classifier
    stage, block = 3, 0
    while True:
        c = C2 if stage == 3 else C1
        down = stage == 4 and block == 0
        cost = (2 * c * c * 9 + 8 * c + (c * C2 + 4 * c if down else 0)) * ESIZE[dtype] + 16
        if stage == 4 and block > 0 and used + tail + cost > size_bytes:
            break
        bp = "layer%d.%d." % (stage, block)
        before = len(T)
        if down:
            conv(bp + "downsample.0", c, C2, 1)
            bn(bp + "downsample.1", c)
        conv(bp + "conv1", c, C2 if down else c, 3)
        bn(bp + "bn1", c)
        conv(bp + "conv2", c, c, 3)
        bn(bp + "bn2", c)
        used += sum(nbytes(t) for t in T[before:])
        block += 1
        if stage == 3 and block == 2:
            stage, block = 4, 0
    lin("fc", 1000, C1)
    return T


def nbytes(t):
    n = 1
    for d in t[2]:
        n *= d
    return n * ESIZE[t[1]]


def to_bytes(a, dtype):
    """float64/float32 array -> little-endian bytes of DTYPE."""
    if dtype == "BF16":
        u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
        u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16  # round to nearest even
        return u.astype("<u2").tobytes()
    return np.ascontiguousarray(a, dtype=np.dtype(NPTYPE[dtype]).newbyteorder("<")).tobytes()


def write_tensor(f, rng, t):
    name, dtype, shape, (kind, p) = t
    n = 1
    for d in shape:
        n *= d
    if dtype == "I64":
        f.write(struct.pack("<q", 1000 + 7 * n) if n == 1 else np.full(n, 1000, "<i8").tobytes())
        return
    for off in range(0, n, CHUNK):
        m = min(CHUNK, n - off)
        if kind == "normal":
            a = rng.standard_normal(m, dtype=np.float32) * np.float32(p)
        elif kind == "gamma":
            a = 1 + rng.standard_normal(m, dtype=np.float32) * np.float32(p)
        elif kind == "var":
            a = rng.random(m, dtype=np.float32) + np.float32(p)
        else:
            raise ValueError(kind)
        f.write(to_bytes(a, dtype))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--size-gib", type=float, default=1.0)
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16", "F64"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    T = plan(int(a.size_gib * (1 << 30)), a.dtype)
    hdr, off = {"__metadata__": {"format": "pt", "generator": "corelocker bench/gen_model.py",
                                 "seed": str(a.seed), "dtype": a.dtype}}, 0
    for t in T:
        hdr[t[0]] = {"dtype": t[1], "shape": t[2], "data_offsets": [off, off + nbytes(t)]}
        off += nbytes(t)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)

    tmp = a.out + ".tmp"
    seeds = np.random.SeedSequence(a.seed).spawn(len(T))
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for t, ss in zip(T, seeds):
            write_tensor(f, np.random.default_rng(ss), t)
        assert f.tell() == 8 + len(h) + off
    os.replace(tmp, a.out)
    print("%s: %d tensors, %d data bytes (%.3f GiB), header %d bytes"
          % (a.out, len(T), off, off / float(1 << 30), len(h)), file=sys.stderr)


if __name__ == "__main__":
    main()
