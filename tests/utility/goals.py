#!/usr/bin/python3
"""Issue 11's two measured goals, held out (docs/utility.md section 15).

usage: goals.py near [--run NAME ...] [--fill F,...] [--models M,...]
       goals.py attack [--run NAME ...] [--fill F,...] [--models M,...]
                       [--ratios R,...]
       goals.py table

near (G1): per RUN (a setting chosen on the fixture, RUNS below) and fill,
`corelockerctl lock --target-utility T --eval-cmd ...` on the fixture and
on each held-out model (models/heldout/ARCH-sN), T = ulib.chance(arch) + 2
(12 for the classifiers).  The eval command is evalclient.py, answered by
this process (torch imported and the test set loaded once; the figure is
eval.py's own computation, ulib.Evaluator).  One row per model: the ratio
the search chose, the locked accuracy, the key file as % of the model, the
number of evaluations and the wall time.

attack (G2): per RUN, fill and --ratios, a plain `corelockerctl lock` of
each model, then attack.py's harness at 1 % of the data, seeds 1-3 (its
cache, .cache/attack.jsonl, is shared).  One row per model, ratio and seed.

Rows are appended to docs/utility-goals.csv (a rerun of the same point
replaces its rows); `table` prints the markdown tables of section 15.
Run with /usr/bin/python3, niced: it is one PyTorch process.
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ulib   # noqa: E402
from evalclient import EvalServer   # noqa: E402

OUT = os.path.join(ulib.TOP, "docs", "utility-goals.csv")
HELDOUT = os.path.join(ulib.MODELS, "heldout")
NEAR_CHANCE = 2.0
ATTACK_FRACTION = 0.01
ATTACK_SEEDS = (1, 2, 3)
FILLS = ("zero", "resample", "flip")

# name -> (arch, unit, scope, include): the settings chosen on the fixture
# (sections 3, 3a, 13 and this section's fixture runs); "auto" lets the
# search try every unit and scope (near only).
RUNS = {
    "mlp-element": ("mlp", "element", "global", None),
    "mlp-first-element": ("mlp", "element", "global", r"^fc1\."),
    "mlp-first-neuron": ("mlp", "neuron", "global", r"^fc1\."),
    "mlp-neuron": ("mlp", "neuron", "global", None),
    "mlp-auto": ("mlp", "auto", "auto", None),
    "cnn-front": ("cnn", "element", "global", r"^(conv1|layer1)\."),
    "cnn-element": ("cnn", "element", "global", None),
    "cnn-element-layer": ("cnn", "element", "layer", None),
    "cnn-element-norm": ("cnn", "element", "global-norm", None),
    "vit-first": ("vit", "element", "global", r"^patch_embed\."),
    "vit-element": ("vit", "element", "global", None),
    "vit-front": ("vit", "element", "global", r"^(patch_embed\.|pos_embed|cls_token)"),
    "lstm-first": ("lstm", "element", "global", r"^lstm\.weight_ih"),
    "lstm-element": ("lstm", "element", "global", None),
    "lstm-first-auto": ("lstm", "auto", "auto", r"^lstm\.weight_ih"),
    "lm-first": ("lm", "element", "global", r"^tok_embed\."),
}

FIELDS = ["goal", "run", "arch", "model", "unit", "scope", "include", "fill",
          "target", "ratio", "units_locked", "key_file_pct", "locked_accuracy",
          "evals", "seconds", "seed", "attacked", "scratch", "advantage"]


def model_file(arch, m):
    """m: 'fixture' or 'sN'."""
    if m == "fixture":
        return ulib.model_path(arch)
    return os.path.join(HELDOUT, "%s-%s.safetensors" % (arch, m))


def target(arch):
    return round(ulib.chance(arch) + NEAR_CHANCE, 2)


def lock_opts(unit, scope, include, fill):
    a = ["--unit", unit, "--scope", scope, "--fill", fill]
    return a + (["--include", include] if include else [])


def near(ev, tmp, run, fill, m):
    arch, unit, scope, include = RUNS[run]
    path = model_file(arch, m)
    sock = os.path.join(tmp, "eval.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    srv = EvalServer(sock, ev.accuracy)
    t = target(arch)
    cmd = [ulib.ctl_path(), "lock", path, "-o", os.path.join(tmp, "L"),
           "-k", os.path.join(tmp, "K"), "--target-utility", repr(t),
           "--eval-cmd", "%s %s %s %s {model}" % (
               sys.executable, os.path.join(HERE, "evalclient.py"), sock, arch),
           "--json", "--quiet"] + lock_opts(unit, scope, include, fill)
    for f in ("L", "K"):
        if os.path.exists(os.path.join(tmp, f)):
            os.unlink(os.path.join(tmp, f))
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    srv.serve_until(proc)
    out, err = proc.communicate()
    secs = time.time() - t0
    row = {"goal": "near", "run": run, "arch": arch, "model": m, "unit": unit,
           "scope": scope, "include": include or "", "fill": fill,
           "target": t, "seconds": "%.0f" % secs}
    try:
        d = json.loads(out)
    except ValueError:
        raise RuntimeError("%s %s %s: corelockerctl exit %d: %s"
                           % (run, fill, m, proc.returncode, err.strip()))
    row["evals"] = sum(s["evals"] for s in d["settings"])
    c = d.get("chosen")
    if not c:
        row["ratio"] = "none"    # not reached up to --max-ratio
        return [row]
    # the full ratio: rounded, it can lock one unit fewer (cnn-s2: 0.00515572
    # locks 24 units, the search's 25)
    row.update(unit=c["unit"], scope=c["scope"],     # what auto chose
               ratio=repr(c["ratio"]), units_locked=c["units_locked"],
               key_file_pct="%.4f" % (100.0 * c["key_bytes"] / c["model_bytes"]),
               locked_accuracy="%.2f" % d["utility"])
    return [row]


def attack(atk, tmp, run, fill, m, ratio):
    arch, unit, scope, include = RUNS[run]
    L, K = os.path.join(tmp, "L.safetensors"), os.path.join(tmp, "K.clkey")
    for f in (L, K):
        if os.path.exists(f):
            os.unlink(f)
    info = ulib.lock(arch, L, K, unit, scope, ratio, include=include,
                     model=model_file(arch, m), fill=fill)
    if info is None:
        raise RuntimeError("%s %s --ratio %g extracts no unit" % (run, m, ratio))
    acc = atk.ev.accuracy(arch, L)
    rows = []
    for r in atk.run(arch, L, ATTACK_FRACTION, ATTACK_SEEDS):
        rows.append({
            "goal": "attack", "run": run, "arch": arch, "model": m,
            "unit": unit, "scope": scope, "include": include or "",
            "fill": fill, "ratio": ratio,
            "units_locked": info["units_locked"],
            "key_file_pct": "%.4f" % (100.0 * info["key_file_bytes"]
                                      / info["model_bytes"]),
            "locked_accuracy": "%.2f" % acc, "seed": r["seed"],
            "attacked": "%.2f" % r["attacked"],
            "scratch": "%.2f" % r["scratch"],
            "advantage": "%.2f" % r["advantage"]})
    return rows


def key(r):
    return (r["goal"], r["run"], r["model"], r["fill"],
            str(r.get("ratio", "")) if r["goal"] == "attack" else "",
            str(r.get("seed", "")))


def read_rows(path=OUT):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def save(new, path=OUT):
    """Replace the rows of NEW's points, keep the others, in order."""
    rows = read_rows(path)
    done = {key(r)[:5] for r in new}
    rows = [r for r in rows if key(r)[:5] not in done] + new
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in FIELDS})
    os.replace(path + ".tmp", path)


MODEL_ORDER = {"fixture": 0, "s1": 1, "s2": 2, "s3": 3}


def order(r):
    return (ulib.ARCHS.index(r["arch"]), r["run"], r["fill"],
            MODEL_ORDER.get(r["model"], 9))


def setting(r):
    s = "%s-%s" % (r["unit"], r["scope"])
    return s + (" `%s`" % r["include"].replace("|", "\\|")
                if r["include"] else "")


def table(rows):
    near_rows = sorted((r for r in rows if r["goal"] == "near"), key=order)
    if near_rows:
        print("| run | setting (chosen) | fill | model | ratio | units | "
              "key file % | locked | evaluations | time |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in near_rows:
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s s |" % (
                r["run"], setting(r), r["fill"], r["model"], r["ratio"],
                r["units_locked"] or "-",
                "%.2f" % float(r["key_file_pct"]) if r["key_file_pct"] else "-",
                r["locked_accuracy"] or "not reached", r["evals"],
                r["seconds"]))
        print()
    groups = {}
    for r in sorted((r for r in rows if r["goal"] == "attack"), key=order):
        groups.setdefault(key(r)[1:5], []).append(r)
    if groups:
        print("| run | setting | fill | model | ratio | key file % | locked | "
              "attacked | scratch | advantage: mean (std) [min, max] |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for (run, m, fill, ratio), g in groups.items():
            adv = [float(r["advantage"]) for r in g]
            sd = statistics.stdev(adv) if len(adv) > 1 else 0.0
            print("| %s | %s | %s | %s | %s | %.2f | %s | %.2f | %.2f | %+.2f "
                  "(%.2f) [%+.2f, %+.2f] |" % (
                      run, setting(g[0]), fill, m, ratio,
                      float(g[0]["key_file_pct"]), g[0]["locked_accuracy"],
                      statistics.mean(float(r["attacked"]) for r in g),
                      statistics.mean(float(r["scratch"]) for r in g),
                      statistics.mean(adv), sd, min(adv), max(adv)))


def main(argv):
    p = argparse.ArgumentParser(prog="goals.py")
    p.add_argument("what", choices=("near", "attack", "table"))
    p.add_argument("--run", action="append", choices=sorted(RUNS))
    p.add_argument("--fill", default="flip")
    p.add_argument("--models", default="fixture,s1,s2,s3")
    p.add_argument("--ratios", default="")
    p.add_argument("--csv", default=OUT)
    a = p.parse_args(argv)
    if a.what == "table":
        table(read_rows(a.csv))
        return 0
    if not a.run:
        p.error("--run is required")
    if a.what == "attack" and not a.ratios:
        p.error("attack needs --ratios")
    fills = a.fill.split(",")
    if not set(fills) <= set(FILLS):
        p.error("--fill: one or more of %s" % ",".join(FILLS))
    models = a.models.split(",")
    tmp = tempfile.mkdtemp(prefix="clgoals.")
    if a.what == "near":
        ev = ulib.Evaluator()
    else:
        import attack as A
        atk = A.Attack(A.Cache("attack.json"))
    for run in a.run:
        for fill in fills:
            for m in models:
                if not os.path.exists(model_file(RUNS[run][0], m)):
                    print("%s: no model %s, skipped" % (run, m), flush=True)
                    continue
                if a.what == "near":
                    rows = near(ev, tmp, run, fill, m)
                else:
                    rows = []
                    for ratio in a.ratios.split(","):
                        rows += attack(atk, tmp, run, fill, m, float(ratio))
                save(rows, a.csv)
                for r in rows:
                    print(" ".join("%s=%s" % (k, r.get(k, "")) for k in FIELDS
                                   if r.get(k, "") != ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
