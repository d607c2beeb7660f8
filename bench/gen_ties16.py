#!/usr/bin/env python3
"""gen_ties16.py OUT DTYPE - a 16-bit float model made of ties, for comparing locks.

Three BF16 or F16 tensors of few distinct magnitudes (so the threshold falls
in a bucket of thousands of ties), with NaN, Inf, +-0 and subnormals; the
first is 3 M elements (two parallel slices of lib/select16.c), the last two
small, so ties are shared out across tensors and slices in file order.
"""
import json, struct, sys
import numpy as np

out, dt = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(11)
vals = np.array([0.5, 0.25, 0.125, 1.0, -0.5, -0.25, 0.0, -0.0, 3e-6], np.float32)


def bits(a):
    if dt == "F16":
        return a.astype("<f2").view("<u2")
    return (a.astype(np.float32).view(np.uint32) >> 16).astype("<u2")


a = rng.choice(vals, size=3 << 20)
a[::997] = np.nan
a[5::1999] = np.inf
a[7::4001] = -np.inf
b = rng.choice(vals[:5], size=300 * 64)
c = rng.choice(vals[:4], size=128 * 96)
T = [("x.weight", [3 << 10, 1 << 10], a), ("y.weight", [300, 64], b), ("z.weight", [128, 96], c)]
hdr, off, data = {}, 0, []
for n, sh, v in T:
    by = bits(v).tobytes()
    hdr[n] = {"dtype": dt, "shape": sh, "data_offsets": [off, off + len(by)]}
    off += len(by)
    data.append(by)
h = json.dumps(hdr).encode()
h += b" " * (-len(h) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(data))
