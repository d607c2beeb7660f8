#!/usr/bin/python3
"""trace_robust.py ARCH DIR KEY: the leak-tracing measurements of one reference
family (docs/trace.md), run by trace_robust.sh with the daemon's settings in
CORELOCKER_SERVER, CORELOCKER_TOKEN and CORELOCKER_CACERT.

DIR holds what trace_robust.sh made with the real daemon and agent:
tier-T.safetensors (the unmarked tier, corelockerctl unlock) and
lic-T-I.safetensors (license I's copy of tier T) for T in the tiers it
cut, and lic.json (license ids).  Prints one JSON object per line:
  {"kind": "utility", "arch", "tier", "license", "accuracy", "unmarked", "delta"}
  {"kind": "attack", "arch", "tier", "attack", "accuracy", "before", "match", "license", "expect", "score", "fp"}
Attacks act on license 1's copy of each tier: casts to F16 and BF16, one
epoch of fine-tuning on 1 % of the training set, pruning the 10 % smallest
weights, Gaussian noise costing about one point, and the average of
licenses 1 and 2 (which must name one of the two).

trace_robust.py --table FILE.jsonl prints the markdown tables of docs/trace.md.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import st  # noqa: E402
import ulib  # noqa: E402


def table(path):
    rows = [json.loads(x) for x in open(path)]
    print("| arch | tier | licenses | unmarked tier | largest change |")
    print("|---|---|---|---|---|")
    seen = {}
    for r in rows:
        if r["kind"] == "utility":
            k = (r["arch"], r["tier"])
            n, base, worst = seen.get(k, (0, r["unmarked"], 0.0))
            seen[k] = (n + 1, base, worst if abs(worst) >= abs(r["delta"]) else r["delta"])
    for (a, t), (n, base, worst) in seen.items():
        print("| %s | %s | %d | %.2f %% | %+.2f |" % (a, t, n, base, worst))
    print()
    print("| arch | tier | attack | accuracy before -> after | score | false-positive bound | named |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if r["kind"] == "attack":
            named = ("yes (license %d)" % r["license"]) if r["match"] and r["license"] in r["expect"] else \
                ("WRONG (license %d)" % r["license"]) if r["match"] else "no"
            print("| %s | %s | %s | %.2f -> %.2f | %.2f | %.2g | %s |" % (
                r["arch"], r["tier"], r["attack"], r["before"], r["accuracy"], r["score"], r["fp"], named))


if sys.argv[1] == "--table":
    table(sys.argv[2])
    sys.exit(0)
arch, d, key = sys.argv[1:4]
lic = json.load(open(os.path.join(d, "lic.json")))
tiers = sorted({k.split("-")[1] for k in lic})
ev = ulib.Evaluator()


def out(**kw):
    print(json.dumps(kw), flush=True)


def trace(path):
    r = ulib.ctl("trace", path, "-k", key, "--json", check=False)
    if r.returncode not in (0, 3):
        raise ulib.CtlError("trace %s: exit %d: %s" % (path, r.returncode, r.stderr.strip()))
    return json.loads(r.stdout)


def floats(tensors):
    """The tensors an attacker would touch: float parameters, not BN statistics."""
    return [k for k, v in tensors.items() if v.dtype.kind == "f" and "running_" not in k]


# ---- utility per license against the unmarked tier ----
for t in tiers:
    base = ev.correct(arch, os.path.join(d, "tier-%s.safetensors" % t))
    for name in sorted(k for k in lic if k.split("-")[1] == t):
        c = ev.correct(arch, os.path.join(d, name + ".safetensors"))
        out(kind="utility", arch=arch, tier=t, license=lic[name], accuracy=c / 100, unmarked=base / 100,
            delta=(c - base) / 100)

# ---- attacks on license 1's copy of each tier ----
def attacks(tier):
    src = os.path.join(d, "lic-%s-1.safetensors" % tier)
    t1, meta, dt1 = st.load_with_dtypes(src)
    orig = ev.correct(arch, src) / 100
    mine = lic["lic-%s-1" % tier]

    def attack(name, tensors, dtypes=None, expect=(mine,)):
        path = os.path.join(d, "attack.safetensors")
        st.save(path, tensors, dtypes=dtypes)
        j = trace(path)
        got = j["license"]["id"] if j["license"] else None
        out(kind="attack", arch=arch, tier=tier, attack=name, accuracy=ev.correct(arch, path) / 100, before=orig,
            match=j["match"], license=got if j["match"] else None, expect=list(expect),
            score=round(j["score"], 2), fp=j["false_positive"])

    attack("none", t1)
    attack("cast-F16", t1, {k: "F16" for k in floats(t1)})
    attack("cast-BF16", t1, {k: "BF16" for k in floats(t1)})

    # prune: the 10 % smallest |w| over all float parameters set to 0
    fl = floats(t1)
    cut = np.quantile(np.concatenate([np.abs(t1[k]).ravel() for k in fl]), 0.10)
    attack("prune-10%", {k: (np.where(np.abs(v) <= cut, 0, v).astype(v.dtype) if k in fl else v)
                         for k, v in t1.items()})

    # Gaussian noise of sigma times each tensor's std, sigma found by bisection for ~1 point lost
    rng = np.random.default_rng(7)
    noise = {k: rng.standard_normal(t1[k].shape) for k in fl}

    def noisy(sigma):
        return {k: ((v + sigma * float(np.std(v)) * noise[k]).astype(v.dtype) if k in fl and v.size > 1 else v)
                for k, v in t1.items()}

    lo, hi = 0.0, 1.0
    for _ in range(10):
        mid = (lo + hi) / 2
        p = os.path.join(d, "noise-probe.safetensors")
        st.save(p, noisy(mid))
        if orig - ev.correct(arch, p) / 100 < 1.0:
            lo = mid
        else:
            hi = mid
    attack("noise-1pt(sigma=%.3g)" % hi, noisy(hi))

    # fine-tune: one epoch of Adam (lr 1e-3, batch 32) on 600 training images (1 %)
    import torch
    import data
    import models
    torch.manual_seed(1)
    x, y = data.load("train")
    idx = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(1))[:x.shape[0] // 100]
    net = models.build(arch)
    net.load_state_dict(st.numpy_to_state_dict(t1, dt1), strict=True)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for i in range(0, len(idx), 32):
        b = idx[i:i + 32]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x[b]), y[b]).backward()
        opt.step()
    ft, _ = st.state_dict_to_numpy(net.state_dict())
    attack("finetune-1ep-1%", ft)

    # two licensees average their copies
    t2, _, _ = st.load_with_dtypes(os.path.join(d, "lic-%s-2.safetensors" % tier))
    attack("average-of-2", {k: ((v.astype(np.float64) + t2[k]) / 2).astype(v.dtype) if k in fl else v
                            for k, v in t1.items()}, expect=(mine, lic["lic-%s-2" % tier]))


for t in ("full", "half"):
    attacks(t)
