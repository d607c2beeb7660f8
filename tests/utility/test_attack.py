#!/usr/bin/python3
"""make check: what the attack harness (attack.py) itself must get right.

On the MLP (the cheapest model) at 1 % of the training data, seeds 1-3:

  subset       the seed's draw is deterministic, has the asked size, has no
               repeated image, and another seed draws other images
  scratch      training from scratch twice with the same seed and lr gives
               identical weights and identical accuracy
  ceiling      per seed, fine-tuning the original (unlocked) model is not
               worse than fine-tuning its recommended lock (ulib.RECOMMENDED,
               locked by the real corelockerctl) and beats training from
               scratch, and fine-tuning the lock does better than the lock
               itself
  arithmetic   attacked and scratch are the best of their lr grid, the
               advantage is attacked - scratch, and the scratch side does not
               depend on the attacked file
  cli          `attack.py mlp LOCKED --seeds 1 --json` (a separate process)
               prints the same numbers as the in-process run, `--mean` the
               mean advantage alone; the MLP file
               given as `cnn` is refused with one error line and exit 2
  plan         the sweep's points per fraction (--fraction F keeps only
               F's, the LM's original runs at both fractions) and the CSV
               rows a restricted sweep keeps; a --fraction with no point is
               refused with one error line and exit 2

It fails, never skips, without torch, the dataset or corelockerctl.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ulib  # noqa: E402
import test_utility as tu  # noqa: E402  (check and its counters)
from test_utility import check  # noqa: E402

ARCH = "mlp"
FRACTION = 0.01
SEEDS = (1, 2, 3)


def test(attack, atk, tmp):
    torch = atk.torch
    n = attack.subset_size(FRACTION)
    s1, s1b, s2 = (atk.subset(FRACTION, 1), atk.subset(FRACTION, 1),
                   atk.subset(FRACTION, 2))
    check(s1.shape[0] == n == 600, "subset: %d images for fraction %g (want "
          "600)" % (s1.shape[0], FRACTION))
    check(torch.equal(s1, s1b), "subset: seed 1 draws the same images twice")
    check(torch.unique(s1).shape[0] == n, "subset: no image drawn twice")
    check(not torch.equal(s1, s2), "subset: seeds 1 and 2 draw other images")

    a = atk.train(ARCH, None, FRACTION, 1, attack.LRS[0])
    b = atk.train(ARCH, None, FRACTION, 1, attack.LRS[0])
    sa, sb = a.state_dict(), b.state_dict()
    check(sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa),
          "scratch: two runs with seed 1 give identical weights")
    ca = atk.ev.data.evaluate(a, atk.ev.x, atk.ev.y)[0]
    cb = atk.ev.data.evaluate(b, atk.ev.x, atk.ev.y)[0]
    check(ca == cb, "scratch: two runs with seed 1 score %d and %d" % (ca, cb))

    rec = ulib.RECOMMENDED[ARCH]
    s = ulib.setting(ARCH, rec["setting"])
    locked = os.path.join(tmp, "locked.safetensors")
    ulib.lock(ARCH, locked, os.path.join(tmp, "k.clkey"), s.unit, s.scope,
              rec["ratio"], include=s.include, exclude=s.exclude)
    locked_acc = atk.ev.accuracy(ARCH, locked)
    orig = atk.run(ARCH, ulib.model_path(ARCH), FRACTION, SEEDS)
    lock = atk.run(ARCH, locked, FRACTION, SEEDS)
    for o, l in zip(orig, lock):
        sd = o["seed"]
        check(o["attacked"] >= l["attacked"],
              "ceiling: seed %d: fine-tuned original %.2f >= fine-tuned lock "
              "%.2f" % (sd, o["attacked"], l["attacked"]))
        check(o["attacked"] > o["scratch"],
              "ceiling: seed %d: fine-tuned original %.2f > scratch %.2f "
              "(the start weights are used)" % (sd, o["attacked"], o["scratch"]))
        check(l["attacked"] > locked_acc,
              "ceiling: seed %d: fine-tuned lock %.2f > the lock %.2f"
              % (sd, l["attacked"], locked_acc))
        check(o["scratch_by_lr"] == l["scratch_by_lr"],
              "arithmetic: seed %d: scratch is the same for both files" % sd)
        for r in (o, l):
            check(r["attacked"] == max(r["attacked_by_lr"].values())
                  and r["scratch"] == max(r["scratch_by_lr"].values())
                  and len(r["attacked_by_lr"]) == len(attack.LRS),
                  "arithmetic: seed %d: best of %d lrs (%s / %s)"
                  % (sd, len(attack.LRS), r["attacked_by_lr"],
                     r["scratch_by_lr"]))
            check(abs(r["advantage"] - (r["attacked"] - r["scratch"])) < 1e-9,
                  "arithmetic: seed %d: advantage %+.2f = %.2f - %.2f"
                  % (sd, r["advantage"], r["attacked"], r["scratch"]))

    p = subprocess.run([sys.executable, os.path.join(HERE, "attack.py"),
                        ARCH, locked, "--seeds", "1", "--json"],
                       capture_output=True, text=True)
    ok = p.returncode == 0
    if ok:
        got = json.loads(p.stdout)["seeds"]
        ok = len(got) == 1 and all(got[0][k] == lock[0][k] for k in
                                   ("attacked", "scratch", "advantage"))
    check(ok, "cli: attack.py --json prints the in-process seed 1 result "
          "(exit %d%s)" % (p.returncode, ", " + p.stderr.strip()
                           if p.returncode else ""))

    p = subprocess.run([sys.executable, os.path.join(HERE, "attack.py"),
                        ARCH, locked, "--seeds", "1", "--mean"],
                       capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout.strip().splitlines()[-1:]
          == ["%.4f" % lock[0]["advantage"]],
          "cli: --mean's last line is the mean advantage, for lock "
          "--attack-cmd (%r, want %.4f)" % (p.stdout[-200:],
                                            lock[0]["advantage"]))

    p = subprocess.run([sys.executable, os.path.join(HERE, "attack.py"),
                        "cnn", locked, "--seeds", "1"],
                       capture_output=True, text=True)
    err = p.stderr.strip().splitlines()
    check(p.returncode == 2 and p.stdout == "" and len(err) == 1
          and err[0].startswith("attack.py: error: ")
          and "does not match arch cnn" in err[0],
          "cli: an MLP file given as cnn: exit %d, one error line (%s)"
          % (p.returncode, p.stderr.strip()[:200]))


def test_plan(attack):
    bad = []
    for part in attack.PARTS:
        for arch in ulib.ARCHS:
            every = attack.points(part, arch)
            at = {f: attack.points(part, arch, (f,))
                  for f in attack.FRACTIONS}
            if not every or sorted(sum(at.values(), [])) != sorted(every) \
                    or any(p[4] != f for f, ps in at.items() for p in ps):
                bad.append("%s %s" % (part, arch))
    check(not bad, "plan: --fraction splits every part's points by fraction"
          " (wrong: %s)" % (", ".join(bad) or "none"))
    check({p[4] for p in attack.points("original", "lm")}
          == set(attack.FRACTIONS),
          "plan: the LM's original runs at every fraction")
    rows = [{"part": p, "arch": a, "fraction": f}
            for p in ("recommended", "original") for a in ("mlp", "lm")
            for f in ("0.01", "0.05")]
    got = attack.kept(rows, ["recommended"], ["lm"], (0.05,))
    check(len(got) == len(rows) - 1 and all(
        (r["part"], r["arch"], r["fraction"]) != ("recommended", "lm", "0.05")
        for r in got),
        "plan: a --merge of recommended lm at 0.05 replaces that row only")
    check(len(attack.kept(rows, ["original"])) == 4,
          "plan: a sweep of part original (all archs) replaces its 4 rows")
    p = subprocess.run([sys.executable, os.path.join(HERE, "attack.py"),
                        "--sweep", "--part", "tier", "--arch", "mlp",
                        "--fraction", "0.05"], capture_output=True, text=True)
    err = p.stderr.strip().splitlines()
    check(p.returncode == 2 and p.stdout == "" and err
          and err[-1].startswith("attack.py: error: no point of tier"),
          "plan: --fraction with no point: exit %d (%s)"
          % (p.returncode, (err or [""])[-1][:200]))


def main():
    t0 = time.time()
    try:
        ulib.ctl_path()
        import attack
        atk = attack.Attack()
    except Exception as e:
        print("FAIL: cannot set up the attack test (%s: %s); scripts/setup.sh"
              " installs python3-torch, python3-numpy and dataset-fashion-mnist"
              ", and make builds corelockerctl" % (type(e).__name__, e))
        print("test_attack: FAILED (setup)")
        return 1
    tmp = tempfile.mkdtemp(prefix="clattack.")
    try:
        test(attack, atk, tmp)
        test_plan(attack)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_attack: %d checks, %d failed, %.0f s"
          % (tu.checks, len(tu.failures), time.time() - t0))
    if tu.failures:
        print("test_attack: FAILED")
        return 1
    print("test_attack: OK")
    return 0


if __name__ == "__main__":
    ulib.ensure_fast_malloc()
    sys.exit(main())
