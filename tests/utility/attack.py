#!/usr/bin/python3
"""The fine-tuning attack: how much of a locked model a little data undoes.

usage: attack.py ARCH LOCKED.safetensors [--fraction F] [--seeds 1,2,3]
                 [--lrs 1e-3,1e-2] [--json]
       attack.py --sweep [--part NAME ...] [--arch A ...] [--fraction F]
                 [--out CSV] [--merge]
       attack.py --table [--csv FILE]

The attacker holds LOCKED (a locked model or a sold tier, any file of the
reference architecture ARCH) and a FRACTION of the Fashion-MNIST training
set, drawn by seed.  Per seed and learning rate the harness fine-tunes all
parameters of LOCKED (Adam, EPOCHS epochs, batch BATCH, grad-norm clip 5 as
train.py) and, as the baseline, trains a fresh ARCH from scratch on the same
images with the same grid and seed.  Both are scored on the full 10,000-image
test set (data.evaluate, as eval.py).  The best learning rate of the grid is
taken for each side: picking it on the test set favours the attacker, a
conservative measure for the owner.

  attack advantage = best attacked accuracy - best scratch accuracy (points)

The language model (ARCH lm): the attacker holds FRACTION of the training
text (lmdata.py) as one contiguous block at a seeded offset, and both sides
train LM_STEPS steps of BATCH random CONTEXT+1-byte windows of that block
(Adam, grad-norm clip 1 as train.py; learning rates LM_LRS); both are scored
by next-byte accuracy on the 10,000 held-out targets (as eval.py).  The
"images" column counts the block's bytes.

Deterministic per seed: torch.manual_seed(seed) before the scratch model is
built, the subset is torch.randperm(60000, Generator(seed))[:n], each epoch
shuffles with Generator(seed*1000 + epoch), deterministic algorithms and
data.THREADS (1) torch thread.

--sweep locks with the real corelockerctl (ulib.lock) and writes
docs/attack-results.csv, one row per (part, point, seed); the parts, in the
order they run:
  recommended  ulib.RECOMMENDED per arch, at 1 % and 5 % of the data
  keysize      element/global at KEY_RATIOS per arch, 1 %
  tier         the half tier (unlock --tier-ratio A/2) of the recommended
               lock per arch, 1 %
  original     the unlocked reference model, 1 % (the ceiling); lm: 1 %
               and 5 %
  heldout      ulib.RECOMMENDED on each held-out model of transfer.py
               (models/heldout/ARCH-sN, N in SEEDS), at 1 % and 5 %:
               settings judged on models they were not chosen on; lm:
               lm-s1 at 1 % only (HELDOUT_SEEDS, ARCH_FRACTIONS)
The model column names the attacked model file under tests/utility/models.
A sweep of some --part (all archs) replaces only those parts' rows of the
CSV; one restricted with --arch only prints, unless --merge: then it
replaces only the rows of those parts and archs (e.g. `--sweep --part
recommended --arch lm --merge`).  --fraction F runs only the points at F
and keeps the rows at other fractions.
Accuracies are cached in tests/utility/.cache/attack.jsonl keyed by the
SHA-256 of the attacked file and the run's parameters, so a rerun or an
interrupted sweep only does what is missing.  --table prints the markdown
tables of docs/utility.md section 12 from the CSV.

Run with /usr/bin/python3 (Debian's torch).
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import tempfile

# OpenBLAS picks its kernels by the thread count it sees at load time:
# without this, an MLP run at lr 1e-2 moved by 0.93 pp between a shell with
# OMP_NUM_THREADS=1 and one without (torch.set_num_threads(1) in both).
os.environ["OMP_NUM_THREADS"] = "1"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ulib  # noqa: E402
from sweep import Cache, sha256_file  # noqa: E402
from transfer import heldout_path  # noqa: E402

EPOCHS = 3
BATCH = 32
LRS = (1e-3, 1e-2)
SEEDS = (1, 2, 3)
FRACTIONS = (0.01, 0.05)
KEY_RATIOS = (0.01, 0.03, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5)
TRAIN_SIZE = 60000
# The language model: short runs (a few hundred steps), an lr grid that
# suits a transformer (1e-2 diverges from scratch); 1e-4 because at 1e-3
# fine-tuning the original loses more than the lock does (docs/utility.md 14).
LM_STEPS = 150
LM_LRS = (1e-4, 1e-3, 3e-3)
PARTS = ("recommended", "keysize", "tier", "original", "heldout")
# The data fractions each part runs at.  The LM's runs cost minutes, the
# classifiers' seconds, so per arch: its original also at 5 % (at lr 1e-3
# the fine-tuned original falls below the fine-tuned lock, so the ceiling
# is needed beside each fraction), its held-out point only lm-s1 at 1 %.
PART_FRACTIONS = {"recommended": FRACTIONS, "keysize": (0.01,),
                  "tier": (0.01,), "original": (0.01,), "heldout": FRACTIONS}
ARCH_FRACTIONS = {"lm": {"original": FRACTIONS, "heldout": (0.01,)}}
HELDOUT_SEEDS = {"lm": (1,)}       # default: SEEDS
DEFAULT_CSV = os.path.join(ulib.TOP, "docs", "attack-results.csv")
CACHE_VERSION = "a2"   # bump when the training procedure changes


class AttackError(RuntimeError):
    pass


def subset_size(fraction, total=TRAIN_SIZE):
    n = int(round(fraction * total))
    if not 0 < n <= total:
        raise AttackError("fraction %g gives %d training items" % (fraction, n))
    return n


def lrs_for(arch):
    return LM_LRS if arch == "lm" else LRS


class Attack:
    """Fine-tunes and trains from scratch in-process (torch imported once,
    train and test sets loaded once).  Raises, never skips, without torch or
    the dataset."""

    def __init__(self, cache=None):
        self.ev = ulib.Evaluator()
        import torch
        self.torch = torch
        torch.use_deterministic_algorithms(True)
        self.xtr, self.ytr = self.ev.data.load("train")
        if self.xtr.shape[0] != TRAIN_SIZE:
            raise AttackError("training set has %d images, want %d"
                              % (self.xtr.shape[0], TRAIN_SIZE))
        self.cache = cache
        self.text = None

    def lm_text(self):
        """The LM's training text as an int64 tensor, loaded on first use."""
        if self.text is None:
            import lmdata
            train, _ = lmdata.load()
            self.text = self.torch.from_numpy(train.astype("int64"))
        return self.text

    def size(self, arch, fraction):
        """The attacker's data: images, or for lm bytes of text."""
        return subset_size(fraction, len(self.lm_text()) if arch == "lm"
                           else TRAIN_SIZE)

    def train_lm(self, net, fraction, seed, lr):
        """LM_STEPS steps on a seeded contiguous block of the text."""
        import lmdata
        torch = self.torch
        text = self.lm_text()
        n = self.size("lm", fraction)
        g = torch.Generator().manual_seed(seed)
        start = int(torch.randint(0, len(text) - n + 1, (1,), generator=g))
        block = text[start:start + n]
        span = torch.arange(lmdata.CONTEXT + 1)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        g = torch.Generator().manual_seed(seed * 1000)
        net.train()
        for _ in range(LM_STEPS):
            off = torch.randint(0, n - lmdata.CONTEXT - 1, (BATCH, 1),
                                generator=g)
            w = block[off + span]
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(
                net(w[:, :-1]).reshape(-1, 256), w[:, 1:].reshape(-1)).backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        return net

    def subset(self, fraction, seed):
        """The attacker's images: a seeded draw without replacement."""
        g = self.torch.Generator().manual_seed(seed)
        return self.torch.randperm(TRAIN_SIZE, generator=g)[:subset_size(fraction)]

    def load(self, arch, path):
        import st
        tensors, _, dtypes = st.load_with_dtypes(path)
        return st.numpy_to_state_dict(tensors, dtypes)

    def train(self, arch, start, fraction, seed, lr):
        """Train ARCH from the state_dict START (None: from scratch) on the
        seed's subset -> the trained nn.Module."""
        torch = self.torch
        F = torch.nn.functional
        torch.manual_seed(seed)
        net = self.ev.models.build(arch)
        if start is not None:
            net.load_state_dict(start, strict=True)
        if arch == "lm":
            return self.train_lm(net, fraction, seed, lr)
        idx = self.subset(fraction, seed)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        for ep in range(EPOCHS):
            net.train()
            g = torch.Generator().manual_seed(seed * 1000 + ep)
            order = idx[torch.randperm(idx.shape[0], generator=g)]
            for i in range(0, order.shape[0], BATCH):
                b = order[i:i + BATCH]
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(self.xtr[b]), self.ytr[b]).backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
        return net

    def correct(self, arch, path, sha, fraction, seed, lr):
        """Correct test images after training from PATH (None: scratch)."""
        k = "|".join([CACHE_VERSION, arch, sha or "scratch", repr(fraction),
                      str(seed), repr(lr), str(EPOCHS), str(BATCH)]
                     + ([str(LM_STEPS)] if arch == "lm" else []))
        c = self.cache.get(k) if self.cache else None
        if c is None:
            start = self.load(arch, path) if path else None
            net = self.train(arch, start, fraction, seed, lr)
            if arch == "lm":
                import lmdata
                c = lmdata.evaluate(net, self.ev.lm_windows())[0]
            else:
                c, _ = self.ev.data.evaluate(net, self.ev.x, self.ev.y)
            if self.cache:
                self.cache.put(k, c)
        return c

    def run(self, arch, path, fraction, seeds, lrs=None):
        """-> list of per-seed dicts: attacked and scratch accuracy per lr,
        the best of each, and the advantage."""
        sha = sha256_file(path) if self.cache else None
        lrs = lrs or lrs_for(arch)
        out = []
        for s in seeds:
            att = {lr: self.correct(arch, path, sha, fraction, s, lr)
                   for lr in lrs}
            scr = {lr: self.correct(arch, None, None, fraction, s, lr)
                   for lr in lrs}
            out.append(outcome(s, att, scr))
        return out


def outcome(seed, attacked, scratch):
    """Per-lr correct counts -> the seed's result (accuracies in percent)."""
    la = max(attacked, key=lambda lr: (attacked[lr], -lr))
    ls = max(scratch, key=lambda lr: (scratch[lr], -lr))
    return {
        "seed": seed,
        "attacked": attacked[la] / 100.0, "attacked_lr": la,
        "scratch": scratch[ls] / 100.0, "scratch_lr": ls,
        # from the integer counts: exact, no float rounding
        "advantage": (attacked[la] - scratch[ls]) / 100.0,
        "attacked_by_lr": {repr(lr): c / 100.0 for lr, c in attacked.items()},
        "scratch_by_lr": {repr(lr): c / 100.0 for lr, c in scratch.items()},
    }


def spread(values):
    """-> (mean, sample std, min, max)"""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), sd, min(values), max(values)


def report(arch, path, fraction, size, res):
    lines = ["%s %s: %d %s (%g of the training set), %s, batch %d, "
             "best of lr %s"
             % (arch, path, size, "bytes" if arch == "lm" else "images",
                fraction, "%d steps" % LM_STEPS if arch == "lm"
                else "%d epochs" % EPOCHS, BATCH,
                "/".join(res[0]["attacked_by_lr"]))]
    for r in res:
        lines.append("seed %d: attacked %6.2f (lr %g)  scratch %6.2f (lr %g)"
                     "  advantage %+6.2f"
                     % (r["seed"], r["attacked"], r["attacked_lr"],
                        r["scratch"], r["scratch_lr"], r["advantage"]))
    m, sd, lo, hi = spread([r["advantage"] for r in res])
    lines.append("advantage: mean %+.2f, std %.2f, min %+.2f, max %+.2f"
                 % (m, sd, lo, hi))
    return "\n".join(lines)


# --- the sweep ------------------------------------------------------------

FIELDS = ["part", "arch", "model", "setting", "ratio", "tier_ratio",
          "fraction", "images", "seed", "units_locked", "payload_pct",
          "key_file_pct", "locked_accuracy", "attacked", "attacked_lr",
          "scratch", "scratch_lr", "advantage", "attacked_by_lr",
          "scratch_by_lr"]


def fractions(part, arch):
    return ARCH_FRACTIONS.get(arch, {}).get(part, PART_FRACTIONS[part])


def points(part, arch, only=None):
    """-> [(model path, setting name, ratio, tier ratio or None, fraction)];
    ONLY: keep the points at these fractions."""
    rec = ulib.RECOMMENDED[arch]
    fixture = ulib.model_path(arch)
    if part == "recommended":
        pts = [(fixture, rec["setting"], rec["ratio"], None)]
    elif part == "keysize":
        pts = [(fixture, "element-global", r, None) for r in KEY_RATIOS]
    elif part == "tier":
        pts = [(fixture, rec["setting"], rec["ratio"], rec["ratio"] / 2)]
    elif part == "heldout":
        pts = [(heldout_path(arch, n), rec["setting"], rec["ratio"], None)
               for n in HELDOUT_SEEDS.get(arch, SEEDS)]
    else:                                            # original
        pts = [(fixture, None, None, None)]
    return [p + (f,) for f in fractions(part, arch) for p in pts
            if only is None or f in only]


def sweep(parts, archs, out, keep=(), only=None):
    """KEEP: rows of other parts to carry over into OUT; ONLY: the
    fractions to run (None: every part's own)."""
    atk = Attack(Cache("attack.json"))
    tmp = tempfile.mkdtemp(prefix="clattack.")
    # a private corelockerctl: a rebuild during the sweep must not change it
    ctl = os.path.join(tmp, "corelockerctl")
    shutil.copy2(ulib.ctl_path(), ctl)
    old_ctl = os.environ.get("CTL")
    os.environ["CTL"] = ctl
    rows = list(keep)
    try:
        for part in parts:
            for arch in archs:
                for model, name, ratio, tier, frac in points(part, arch,
                                                             only):
                    rows += sweep_point(atk, tmp, part, arch, model, name,
                                        ratio, tier, frac)
                    if out:
                        write_csv(out + ".partial", rows)
    finally:   # CTL back: a second sweep in this process must find it
        if old_ctl is None:
            os.environ.pop("CTL", None)
        else:
            os.environ["CTL"] = old_ctl
        shutil.rmtree(tmp, ignore_errors=True)
    if out:
        write_csv(out, rows)
        os.unlink(out + ".partial")


def kept(rows, parts, archs=None, only=None):
    """The CSV rows a sweep of PARTS does not replace: other parts', and
    with ARCHS (--merge) other archs', with ONLY other fractions'."""
    return [r for r in rows if not (
        r["part"] in parts and (archs is None or r["arch"] in archs)
        and (only is None or float(r["fraction"]) in only))]


def sweep_point(atk, tmp, part, arch, model, name, ratio, tier, frac):
    path = model
    rel = os.path.relpath(model, ulib.MODELS)    # the CSV's model column
    info = {"units_locked": 0, "payload_bytes": 0, "key_file_bytes": 0,
            "model_bytes": os.path.getsize(path)}
    if name:
        s = ulib.setting(arch, name)
        locked = os.path.join(tmp, "locked.safetensors")
        key = os.path.join(tmp, "key.clkey")
        info = ulib.lock(arch, locked, key, s.unit, s.scope, ratio,
                         include=s.include, exclude=s.exclude, model=model)
        if info is None:
            raise AttackError("%s %s --ratio %g extracts no unit"
                              % (arch, name, ratio))
        path = locked
        if tier is not None:
            path = os.path.join(tmp, "tier.safetensors")
            ulib.ctl("unlock", locked, "-k", key, "--tier-ratio", repr(tier),
                     "-o", path)
    acc = atk.ev.accuracy(arch, path)
    mb = info["model_bytes"]
    rows = []
    for r in atk.run(arch, path, frac, SEEDS):
        rows.append({
            "part": part, "arch": arch,
            "model": rel, "setting": name or "",
            "ratio": "" if ratio is None else ratio,
            "tier_ratio": "" if tier is None else tier,
            "fraction": frac, "images": atk.size(arch, frac),
            "seed": r["seed"],
            "units_locked": info["units_locked"],
            "payload_pct": "%.4f" % (100.0 * info["payload_bytes"] / mb),
            "key_file_pct": "%.4f" % (100.0 * info["key_file_bytes"] / mb),
            "locked_accuracy": "%.2f" % acc,
            "attacked": "%.2f" % r["attacked"], "attacked_lr": r["attacked_lr"],
            "scratch": "%.2f" % r["scratch"], "scratch_lr": r["scratch_lr"],
            "advantage": "%.2f" % r["advantage"],
            "attacked_by_lr": json.dumps(r["attacked_by_lr"], sort_keys=True),
            "scratch_by_lr": json.dumps(r["scratch_by_lr"], sort_keys=True),
        })
        print("%-11s %-4s %-26s %-20s %-6s tier %-6s data %-4g seed %d: "
              "locked %6.2f attacked %6.2f scratch %6.2f advantage %+6.2f"
              % (part, arch, rel, name or "-", ratio or "-", tier or "-",
                 frac, r["seed"], acc, r["attacked"], r["scratch"],
                 r["advantage"]),
              flush=True)
    return rows


def write_csv(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def summarize(rows):
    """Group the per-seed rows by point -> list of dicts with the point's
    fields and (mean, std, min, max) of attacked, scratch and advantage,
    and of locked_accuracy and key_file_pct (a point may span models)."""
    groups = {}
    for r in rows:
        k = tuple(r[f] for f in ("part", "arch", "setting", "ratio",
                                 "tier_ratio", "fraction"))
        groups.setdefault(k, []).append(r)
    out = []
    for rs in groups.values():
        g = dict(rs[0])
        g["seeds"] = len(rs)
        g["models"] = len({r["model"] for r in rs})
        for f in ("attacked", "scratch", "advantage", "locked_accuracy",
                  "key_file_pct"):
            g[f] = spread([float(r[f]) for r in rs])
        out.append(g)
    return out


def fmt_advantage(d):
    return "%+.2f (%.2f) [%+.2f, %+.2f]" % d


def fmt_locked(g):
    """One model: its accuracy; several: mean (min..max)."""
    m, _, lo, hi = g["locked_accuracy"]
    return "%.2f" % m if g["models"] == 1 else \
        "%.2f (%.2f..%.2f)" % (m, lo, hi)


def table(rows):
    """Markdown: one table per part, in PARTS order; the heldout table
    puts the fixture's recommended figure at the same point beside it."""
    groups = summarize(rows)
    point = ("arch", "setting", "ratio", "tier_ratio", "fraction")
    fixture = {tuple(g[f] for f in point): g for g in groups
               if g["part"] == "recommended"}
    out = []
    for part in PARTS:
        gs = [g for g in groups if g["part"] == part]
        if not gs:
            continue
        held = part == "heldout"
        out += ["**%s**" % part, "",
                "| arch | lock | data | key % | locked | attacked | scratch "
                "| advantage: mean (std) [min, max] |"
                + (" models x seeds | fixture advantage |" if held else ""),
                "|---|---|---|---|---|---|---|---|" + ("---|---|" if held
                                                        else "")]
        for g in gs:
            lock = "-"
            if g["setting"]:
                lock = "%s %s" % (g["setting"], g["ratio"])
                if g["tier_ratio"]:
                    lock += ", tier %s" % g["tier_ratio"]
            a, s, d = g["attacked"], g["scratch"], g["advantage"]
            line = ("| %s | %s | %g %% | %.2f | %s | %.2f | %.2f | %s |"
                    % (g["arch"], lock, 100 * float(g["fraction"]),
                       g["key_file_pct"][0], fmt_locked(g), a[0], s[0],
                       fmt_advantage(d)))
            if held:
                f = fixture.get(tuple(g[k] for k in point))
                line += " %d x %d | %s |" % (
                    g["models"], g["seeds"] // g["models"],
                    fmt_advantage(f["advantage"]) if f else "not run")
            out.append(line)
        out.append("")
    return "\n".join(out).rstrip("\n")


def main(argv):
    ap = argparse.ArgumentParser(
        prog="attack.py", description=__doc__.split("\n")[0])
    ap.add_argument("arch", nargs="?", choices=ulib.ARCHS)
    ap.add_argument("locked", nargs="?")
    ap.add_argument("--fraction", type=float,
                    help="default 0.01; with --sweep: run only the points "
                    "at this fraction")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--lrs", help="default %s (lm: %s)"
                    % (",".join(map(repr, LRS)), ",".join(map(repr, LM_LRS))))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--mean", action="store_true",
                    help="print only the mean advantage (lock --attack-cmd reads it)")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--part", action="append", choices=PARTS)
    ap.add_argument("--arch", dest="archs", action="append",
                    choices=ulib.ARCHS)
    ap.add_argument("--out", default=DEFAULT_CSV)
    ap.add_argument("--merge", action="store_true")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--csv", default=DEFAULT_CSV)
    a = ap.parse_args(argv)
    if a.table:
        print(table(read_csv(a.csv)))
        return
    if a.sweep:
        # a sweep restricted by --arch prints only, never overwrites the
        # CSV; one restricted by --part or --fraction keeps the other
        # parts' and fractions' rows
        parts, archs = a.part or PARTS, a.archs or ulib.ARCHS
        only = None if a.fraction is None else (a.fraction,)
        if not any(points(p, x, only) for p in parts for x in archs):
            ap.error("no point of %s on %s at fraction %g"
                     % ("/".join(parts), "/".join(archs), a.fraction))
        out = None if a.archs and a.out == DEFAULT_CSV and not a.merge \
            else a.out
        keep = kept(read_csv(out), parts, archs if a.merge else None, only) \
            if out and (a.part or a.merge or only) and os.path.exists(out) \
            else []
        sweep(parts, archs, out, keep, only)
        return
    if not a.arch or not a.locked:
        ap.error("ARCH and LOCKED are required (or --sweep, --table)")
    try:
        seeds = [int(x) for x in a.seeds.split(",")]
        lrs = [float(x) for x in a.lrs.split(",")] if a.lrs \
            else list(lrs_for(a.arch))
    except ValueError:
        ap.error("--seeds and --lrs take comma-separated numbers")
    if not os.path.isfile(a.locked):
        ap.error("%s: no such file" % a.locked)
    if a.fraction is None:
        a.fraction = 0.01
    try:
        subset_size(a.fraction)
    except AttackError as e:
        ap.error(str(e))
    atk = Attack()
    import st
    try:   # a file that is not a model of ARCH: one line, as eval.py
        sd = atk.load(a.arch, a.locked)
        net = atk.ev.net(a.arch)
        odd = set(sd) ^ set(net.state_dict())
        if odd:
            raise RuntimeError("%s does not match arch %s: %d tensor(s) "
                               "missing or unexpected (e.g. %s)"
                               % (a.locked, a.arch, len(odd), min(odd)))
        net.load_state_dict(sd, strict=True)
    except (st.SafetensorsError, RuntimeError) as e:
        sys.stderr.write("attack.py: error: %s\n" % " ".join(str(e).split()))
        sys.exit(2)
    res = atk.run(a.arch, a.locked, a.fraction, seeds, lrs)
    if a.json:
        print(json.dumps({"arch": a.arch, "model": a.locked,
                          "fraction": a.fraction,
                          "images": atk.size(a.arch, a.fraction),
                          "epochs": EPOCHS, "batch": BATCH, "lrs": lrs,
                          "seeds": res}, indent=1))
    elif a.mean:
        print("%.4f" % spread([r["advantage"] for r in res])[0])
    else:
        print(report(a.arch, a.locked, a.fraction,
                     atk.size(a.arch, a.fraction), res))


if __name__ == "__main__":
    ulib.ensure_fast_malloc()
    try:
        main(sys.argv[1:])
    except (AttackError, ulib.CtlError) as e:
        sys.stderr.write("attack.py: error: %s\n" % e)
        sys.exit(1)
