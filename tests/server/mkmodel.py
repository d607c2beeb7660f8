#!/usr/bin/python3
"""mkmodel.py OUT [SEED]: write a small float32 safetensors model (numpy only)."""
import json
import struct
import sys

import numpy as np

rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
tensors = [
    ("fc1.weight", rng.standard_normal((16, 8)).astype("<f4")),
    ("fc1.bias", rng.standard_normal(16).astype("<f4")),
    ("fc2.weight", rng.standard_normal((4, 16)).astype("<f4")),
    ("fc2.bias", rng.standard_normal(4).astype("<f4")),
]
header, off = {}, 0
for name, a in tensors:
    header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
    off += a.nbytes
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for _, a in tensors:
        f.write(a.tobytes())
