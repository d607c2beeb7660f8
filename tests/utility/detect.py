#!/usr/bin/env python3
"""detect.py - can the extracted positions be found in a locked file alone?

DESIGN.md section 2 "Fill" (Kerckhoffs): someone who knows the method but
holds only the locked model must not find the extracted entries better than
chance (ROC AUC <= 0.6).  This file is that someone.  Per element of every
tensor the key touched, from the LOCKED values alone:

  abs      rank of |w| in its tensor
  dev      rank of |w - median| in its tensor
  rowz     |w - row mean| / row std      (rows: the first axis)
  colz     |w - column mean| / column std (columns: the other axes)
  rowsign  sign(w) x sign(row mean)
  colsign  sign(w) x sign(column mean)
  zero     w == 0 exactly
  dup      the value occurs more than once in its tensor
  rowl1    rank of its row's l1 norm (neuron units hide whole rows)

Each one's AUC is direction-free (max(AUC, 1 - AUC): the detector may pick
the sign).  `combined` is a logistic regression on all of them (and their
squares) trained on one model's lock (the fixture) and scored on another's
(a held-out model), so it cannot fit the file it scores.  The truth is the
key's positions.  `negate` is the fill that fails the rule (-w at the zero
lock's positions): with `zero` it is the detector's own sanity check.

  detect.py [--arch A,...] [--fill F,...] [--ratio R] [--csv FILE]

Without --ratio each architecture uses its recommended setting and ratio
(ulib.RECOMMENDED).  Prints one line per (arch, fill): every detector's AUC
on the held-out model; writes the CSV when asked.
"""
import argparse
import json
import os
import struct
import sys
import tempfile

import numpy as np
from scipy.stats import rankdata

import st
import ulib

FEATURES = ("abs", "dev", "rowz", "colz", "rowsign", "colsign", "zero", "dup",
            "rowl1")
FILLS = ("zero", "negate", "resample", "flip")   # negate: the failing control
MAGIC = b"CLKEY\r\n\x1a"


def key_positions(path, tensors):
    """-> {tensor name: bool array of its extracted elements}, from the key."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != MAGIC:
        raise ValueError("%s: not a .clkey" % path)
    hlen = struct.unpack_from("<I", b, 12)[0]
    h = json.loads(b[16:16 + hlen])
    pos = 16 + hlen
    names = [t["name"] for t in h["tensors"]]
    es = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
    out = {n: np.zeros(tensors[n].size, dtype=bool) for n in names}
    for g in h["groups"]:
        ib, mem = g["index_bytes"], g["members"]
        rec = ib + sum(s for _, s in mem)
        for r in range(g["count"]):
            u = int.from_bytes(b[pos + r * rec:pos + r * rec + ib], "little")
            for ti, stride in mem:
                t = h["tensors"][ti]
                n = stride // es[t["dtype"]]
                out[t["name"]][u * n:(u + 1) * n] = True
        pos += g["count"] * rec
    return out


def rank01(x):
    return (rankdata(x) - 0.5) / len(x)


def tensor_features(w):
    """-> (n, len(FEATURES)) features of tensor W's elements."""
    v = w.astype(np.float64).reshape(-1)
    m2 = v.reshape(w.shape[0], -1) if w.ndim >= 2 else v.reshape(1, -1)
    eps = 1e-12
    rm, rs = m2.mean(1, keepdims=True), m2.std(1, keepdims=True) + eps
    cm, cs = m2.mean(0, keepdims=True), m2.std(0, keepdims=True) + eps
    _, inv, cnt = np.unique(v, return_inverse=True, return_counts=True)
    rowl1 = np.abs(m2).sum(1, keepdims=True)
    f = [rank01(np.abs(v)), rank01(np.abs(v - np.median(v))),
         (np.abs(m2 - rm) / rs).reshape(-1), (np.abs(m2 - cm) / cs).reshape(-1),
         (np.sign(m2) * np.sign(rm)).reshape(-1),
         (np.sign(m2) * np.sign(cm)).reshape(-1),
         (v == 0).astype(np.float64), (cnt[inv] > 1).astype(np.float64),
         np.broadcast_to(rank01(rowl1.reshape(-1)).reshape(-1, 1),
                         m2.shape).reshape(-1)]
    return np.stack(f, 1)


def auc(score, label):
    n1 = label.sum()
    n0 = len(label) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(score)
    return float((r[label].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def free_auc(score, label):
    a = auc(score, label)
    return max(a, 1 - a)


def features(locked, key):
    """-> (X, y) over every element of the tensors the key touched."""
    t, _ = st.load(locked)
    pos = key_positions(key, t)
    xs, ys = [], []
    for name, lab in pos.items():
        xs.append(tensor_features(t[name]))
        ys.append(lab)
    return np.concatenate(xs), np.concatenate(ys)


def expand(X):
    return np.concatenate([X, X * X], 1)


def fit_logistic(X, y, l2=1e-3, iters=25):
    """Newton's method on the L2-penalised log-loss; -> (mean, std, w)."""
    X = expand(X)
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = np.concatenate([(X - mu) / sd, np.ones((len(X), 1))], 1)
    w = np.zeros(Z.shape[1])
    yf = y.astype(np.float64)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(Z @ w, -30, 30)))
        g = Z.T @ (p - yf) / len(Z) + l2 * w
        H = (Z * (p * (1 - p))[:, None]).T @ Z / len(Z) + l2 * np.eye(len(w))
        w -= np.linalg.solve(H, g)
    return mu, sd, w


def score_logistic(model, X):
    mu, sd, w = model
    Z = np.concatenate([(expand(X) - mu) / sd, np.ones((len(X), 1))], 1)
    return Z @ w


def lock_one(arch, src, fill, setting, ratio, d, tag):
    """Lock SRC; negate is the zero lock with -w at its positions."""
    out, key = os.path.join(d, tag + ".st"), os.path.join(d, tag + ".clkey")
    real = "zero" if fill == "negate" else fill
    ulib.lock(arch, out, key, setting.unit, setting.scope, ratio,
              include=setting.include, exclude=setting.exclude, model=src,
              fill=real)
    if fill == "negate":
        t, meta, dt = st.load_with_dtypes(src)
        pos = key_positions(key, t)
        for name, lab in pos.items():
            v = t[name].reshape(-1).copy()
            v[lab] = -v[lab]
            t[name] = v.reshape(t[name].shape)
        st.save(out, t, meta, dt)
    return out, key


def detect(arch, fill, ratio=None, heldout="s1"):
    """-> {detector: AUC on the held-out model}, the LR trained on the fixture."""
    rec = ulib.RECOMMENDED[arch]
    setting = ulib.setting(arch, rec["setting"])
    ratio = rec["ratio"] if ratio is None else ratio
    with tempfile.TemporaryDirectory() as d:
        train = lock_one(arch, ulib.model_path(arch), fill, setting, ratio, d,
                         "train")
        test = lock_one(arch, os.path.join(ulib.MODELS, "heldout", "%s-%s.safetensors"
                                           % (arch, heldout)),
                        fill, setting, ratio, d, "test")
        Xa, ya = features(*train)
        Xb, yb = features(*test)
    res = {f: free_auc(Xb[:, i], yb) for i, f in enumerate(FEATURES)}
    res["combined"] = auc(score_logistic(fit_logistic(Xa, ya), Xb), yb)
    res["best"] = max(res[f] for f in FEATURES + ("combined",))
    res["ratio"] = ratio
    res["setting"] = setting.name
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="mlp,cnn,vit,lstm")
    ap.add_argument("--fill", default=",".join(FILLS))
    ap.add_argument("--ratio", type=float)
    ap.add_argument("--csv")
    a = ap.parse_args()
    rows = []
    cols = FEATURES + ("combined", "best")
    print("%-5s %-9s %-22s %6s " % ("arch", "fill", "setting", "ratio")
          + " ".join("%8s" % c for c in cols))
    for arch in a.arch.split(","):
        for fill in a.fill.split(","):
            r = detect(arch, fill, a.ratio)
            rows.append((arch, fill, r))
            print("%-5s %-9s %-22s %6g " % (arch, fill, r["setting"], r["ratio"])
                  + " ".join("%8.3f" % r[c] for c in cols), flush=True)
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("arch,fill,setting,ratio," + ",".join(cols) + "\n")
            for arch, fill, r in rows:
                f.write("%s,%s,%s,%g,%s\n" % (arch, fill, r["setting"], r["ratio"],
                                              ",".join("%.4f" % r[c] for c in cols)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
