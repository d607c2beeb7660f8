#!/usr/bin/python3
"""resave.py IN OUT [--dtype F32|F16|BF16] [--shards K] [--average OTHER]: re-save a
float32 safetensors model as a leaker would (numpy only).

The tensors are written in reverse name order (another header, other
offsets), cast to DTYPE (rounded to nearest even), or averaged with OTHER
first; with --shards K, OUT is a directory with a sharded model and its
model.safetensors.index.json.
"""
import argparse
import json
import os
import struct

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("inp")
ap.add_argument("out")
ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
ap.add_argument("--shards", type=int, default=0)
ap.add_argument("--average")
a = ap.parse_args()


def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], "<f4").reshape(v["shape"])
            for k, v in h.items()}


def encode(t):
    t = np.ascontiguousarray(t, dtype="<f4")
    if a.dtype == "F16":
        return t.astype("<f2").tobytes()
    if a.dtype == "BF16":
        u = t.view("<u4").astype(np.uint64)
        return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2").tobytes()
    return t.tobytes()


def write(path, names):
    header, blobs, off = {}, [], 0
    for name in names:
        d = encode(ts[name])
        header[name] = {"dtype": a.dtype, "shape": list(ts[name].shape), "data_offsets": [off, off + len(d)]}
        blobs.append(d)
        off += len(d)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


ts = read(a.inp)
if a.average:
    other = read(a.average)
    ts = {k: (v.astype(np.float64) + other[k]) / 2 for k, v in ts.items()}
names = sorted(ts, reverse=True)
if a.shards <= 0:
    write(a.out, names)
else:
    os.makedirs(a.out, exist_ok=True)
    wm = {}
    for i in range(a.shards):
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, a.shards)
        write(os.path.join(a.out, fn), names[i::a.shards])
        wm.update({n: fn for n in names[i::a.shards]})
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": wm}, f)
