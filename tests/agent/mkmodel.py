#!/usr/bin/python3
"""mkmodel.py OUT [--mib N] [--seed S] [--shards K]: a float32 safetensors model (numpy only).

Linear layers with sibling biases, a conv kernel and a batch-norm group, sized
so that the data section is about N MiB (default: a small model of ~40 KiB).
With --shards K, OUT is a directory that receives a Hugging Face sharded
model: model.safetensors.index.json and K shard files.  The same arguments
always give the same bytes.
"""
import argparse
import json
import struct

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--mib", type=float, default=0)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--shards", type=int, default=0)
a = ap.parse_args()
rng = np.random.default_rng(a.seed)

# width w: the big layers are w x w and w x 2w, ~ 3 w^2 floats in all
w = 64 if a.mib <= 0 else max(64, int((a.mib * (1 << 20) / 4 / 3) ** 0.5))
tensors = [
    ("conv.weight", rng.standard_normal((16, 3, 3, 3)) * 0.3),
    ("conv.bias", rng.standard_normal(16) * 0.1),
    ("bn.weight", 1 + 0.1 * rng.standard_normal(16)),
    ("bn.bias", 0.1 * rng.standard_normal(16)),
    ("bn.running_mean", 0.1 * rng.standard_normal(16)),
    ("bn.running_var", rng.uniform(0.5, 1.5, 16)),
    ("fc1.weight", rng.standard_normal((w, w)) / np.sqrt(w)),
    ("fc1.bias", rng.standard_normal(w) * 0.1),
    ("fc2.weight", rng.standard_normal((2 * w, w)) / np.sqrt(w)),
    ("fc2.bias", rng.standard_normal(2 * w) * 0.1),
    ("head.weight", rng.standard_normal((10, 2 * w)) / np.sqrt(2 * w)),
    ("head.bias", np.zeros(10)),
]


def write(path, part):
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, t in part:
        t = np.ascontiguousarray(t, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + t.nbytes]}
        off += t.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _, t in part:
            f.write(np.ascontiguousarray(t, dtype="<f4").tobytes())


if a.shards <= 0:
    write(a.out, tensors)
else:
    import os
    os.makedirs(a.out, exist_ok=True)
    k, wm = a.shards, {}
    for i in range(k):
        part = tensors[i::k]
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, k)
        write(os.path.join(a.out, fn), part)
        wm.update({name: fn for name, _ in part})
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f, indent=2)
