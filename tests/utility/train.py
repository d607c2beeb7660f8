#!/usr/bin/python3
"""Train the fixture models (the Fashion-MNIST classifiers and the LM) and
write them as safetensors.

usage: train.py [--seed N] [--out DIR] [ARCH ...]   (default: all archs)

For each ARCH: seeds everything from a fixed seed, trains with Adam and a
one-cycle learning-rate schedule, saves models/ARCH.safetensors (F32, all
state_dict entries including BatchNorm buffers, metadata arch/epochs/seed/
test_accuracy/...), re-loads that file with st.py, evaluates it exactly as
eval.py does, and records the accuracy in models/accuracy.json.
Runs on the CPU with data.THREADS (1) thread; same seed + same machine -> same bytes.

ARCH lm is the byte-level language model on the Jane Austen corpus
(lmdata.py): STEPS steps of BATCH random CONTEXT+1-byte windows of the
training text, drawn from a generator seeded with the seed.  It is trained in
F32 and shipped in BF16 (as language models are shipped): the file is BF16,
its test_accuracy (next-token accuracy on the 10,000 held-out targets) and
perplexity are those of the BF16 bytes, f32_accuracy / f32_perplexity those
of the trained F32 weights.

--seed N trains an independent model with the same recipe (the held-out
models of docs/utility.md section 11); it is saved as DIR/ARCH-sN.safetensors
and recorded under "ARCH-sN" in DIR/accuracy.json.  Without --seed the fixture
seed and names are used.  --out DIR defaults to models/.
"""

import argparse

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np
import torch
import torch.nn.functional as F

import data
import models
import st

SEED = 20240519
# arch -> (epochs, batch size, max learning rate)
CONFIG = {
    "mlp": (10, 128, 2e-3),
    "cnn": (5, 128, 4e-3),
    "vit": (5, 256, 3e-3),
    "lstm": (4, 128, 4e-3),
}
# lm: (steps, batch size, max learning rate)
LM_CONFIG = (1200, 32, 3e-3)
OUT = os.path.join(HERE, "models")


def set_seed(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    import random
    random.seed(seed)


def train_one(arch, seed, out, name, xtr, ytr, xte, yte):
    epochs, bs, lr = CONFIG[arch]
    set_seed(seed)
    model = models.build(arch)
    nparams = sum(p.numel() for p in model.parameters())
    steps_per_epoch = (xtr.shape[0] + bs - 1) // bs
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.15)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        g = torch.Generator().manual_seed(seed * 1000 + ep)
        perm = torch.randperm(xtr.shape[0], generator=g)
        tot = 0.0
        for i in range(0, xtr.shape[0], bs):
            idx = perm[i:i + bs]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            tot += float(loss) * idx.shape[0]
        c, n = data.evaluate(model, xte, yte)
        print("%s epoch %d/%d loss %.4f test %.2f%% (%.0fs)"
              % (arch, ep + 1, epochs, tot / xtr.shape[0], c * 100 / n,
                 time.time() - t0), flush=True)
    train_s = time.time() - t0

    path = os.path.join(out, name + ".safetensors")
    # Provisional save, then re-load through st.py and evaluate like eval.py,
    # so the recorded accuracy is that of the bytes in the file.
    model.eval()
    sd = model.state_dict()
    c, n = data.evaluate(model, xte, yte)
    meta = {
        "arch": arch,
        "epochs": str(epochs),
        "seed": str(seed),
        "batch_size": str(bs),
        "optimizer": "Adam+OneCycleLR max_lr=%g" % lr,
        "test_accuracy": "%d.%02d" % divmod(c, 100) if n == 10000
        else "%.2f" % (c * 100 / n),
        "dataset": "fashion-mnist",
        "torch": torch.__version__,
    }
    st.save_state_dict(path, sd, meta)
    check = models.build(arch)
    loaded, _ = st.load_state_dict(path)
    check.load_state_dict(loaded, strict=True)
    c2, _ = data.evaluate(check, xte, yte)
    if c2 != c:
        raise SystemExit("%s: reloaded model scores %d != %d" % (arch, c2, c))
    acc = round(c * 100 / n, 2)
    print("%s: %d params, %d bytes, test %.2f%%, trained in %.0fs"
          % (arch, nparams, os.path.getsize(path), acc, train_s), flush=True)
    return acc


def train_lm(seed, out, name):
    import lmdata
    steps, bs, lr = LM_CONFIG
    train, held = lmdata.load()
    windows = lmdata.eval_windows(held)
    text = torch.from_numpy(train.astype(np.int64))
    set_seed(seed)
    model = models.build("lm")
    nparams = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(seed)
    span = torch.arange(lmdata.CONTEXT + 1)
    t0 = time.time()
    tot = 0.0
    model.train()
    for step in range(1, steps + 1):
        off = torch.randint(0, len(text) - lmdata.CONTEXT - 1, (bs, 1),
                            generator=g)
        w = text[off + span]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(w[:, :-1]).reshape(-1, 256),
                               w[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        tot += float(loss)
        if step % 200 == 0 or step == steps:
            c, n, nll = lmdata.evaluate(model, windows)
            print("lm step %d/%d loss %.4f held-out %.2f%% ppl %.3f (%.0fs)"
                  % (step, steps, tot / 200, c * 100 / n, np.exp(nll / n),
                     time.time() - t0), flush=True)
            tot = 0.0
            model.train()
    train_s = time.time() - t0
    c32, n, nll32 = lmdata.evaluate(model, windows)
    sd = {k: v.to(torch.bfloat16) for k, v in model.state_dict().items()}
    path = os.path.join(out, name + ".safetensors")
    meta = {
        "arch": "lm",
        "steps": str(steps),
        "seed": str(seed),
        "batch_size": str(bs),
        "context": str(lmdata.CONTEXT),
        "optimizer": "Adam+OneCycleLR max_lr=%g" % lr,
        "f32_accuracy": "%d.%02d" % divmod(c32, 100),
        "f32_perplexity": "%.3f" % np.exp(nll32 / n),
        "dataset": "r-cran-janeaustenr (held out: %s)" % lmdata.HELDOUT,
        "torch": torch.__version__,
    }
    # The BF16 bytes are what ships: measure them after a reload, as eval.py.
    st.save_state_dict(path, sd, meta)
    check = models.build("lm")
    loaded, _ = st.load_state_dict(path)
    check.load_state_dict(loaded, strict=True)
    c, n, nll = lmdata.evaluate(check, windows)
    meta["test_accuracy"] = "%d.%02d" % divmod(c, 100)
    meta["perplexity"] = "%.3f" % np.exp(nll / n)
    st.save_state_dict(path, sd, meta)
    print("lm: %d params, %d bytes, held-out BF16 %.2f%% ppl %s, F32 %.2f%% "
          "ppl %s, trained in %.0fs"
          % (nparams, os.path.getsize(path), c / 100, meta["perplexity"],
             c32 / 100, meta["f32_perplexity"], train_s), flush=True)
    return round(c / 100, 2)


def order(name):
    """accuracy.json order: arch as in models.ARCHS, then seed."""
    arch, _, seed = name.partition("-s")
    return (models.ARCHS.index(arch) if arch in models.ARCHS else 99,
            int(seed) if seed.isdigit() else 0, name)


def main(argv):
    ap = argparse.ArgumentParser(prog="train.py")
    ap.add_argument("--seed", type=int,
                    help="train an independent model (saved as ARCH-sN)")
    ap.add_argument("--out", default=OUT, help="output directory")
    ap.add_argument("archs", nargs="*", metavar="ARCH")
    args = ap.parse_args(argv)
    archs = args.archs or list(models.ARCHS)
    for a in archs:
        if a not in models.ARCHS:
            ap.error("unknown arch %r (expected %s)" % (a, " ".join(models.ARCHS)))
    seed = SEED if args.seed is None else args.seed
    data.setup_torch()
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    if any(a != "lm" for a in archs):
        xtr, ytr = data.load("train")
        xte, yte = data.load("test")
    accp = os.path.join(args.out, "accuracy.json")
    for a in archs:
        name = a if args.seed is None else "%s-s%d" % (a, seed)
        if a == "lm":
            acc = train_lm(seed, args.out, name)
        else:
            acc = train_one(a, seed, args.out, name, xtr, ytr, xte, yte)
        accs = {}
        if os.path.exists(accp):
            with open(accp) as f:
                accs = json.load(f)
        accs[name] = acc
        accs = {k: accs[k] for k in sorted(accs, key=order)}
        tmp = accp + ".tmp"
        with open(tmp, "w") as f:   # two decimals, as eval.py prints them
            f.write("{\n" + ",\n".join('  "%s": %.2f' % kv for kv in accs.items())
                    + "\n}\n")
        os.replace(tmp, accp)


if __name__ == "__main__":
    main(sys.argv[1:])
