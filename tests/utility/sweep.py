#!/usr/bin/python3
"""Sweep CoreLocker's lock over the reference models and measure utility.

usage: sweep.py [--arch A ...] [--setting NAME ...] [--ratios R,R,...]
                [--coarse] [--seeds 1,2,3] [--no-random]
                [--spec NAME=UNIT,SCOPE[,include=RE][,exclude=RE] ...]
                [--out CSV] [--merge] [--no-csv] [--quiet]

For each reference model (tests/utility/models/ARCH.safetensors), each
setting of ulib.settings_for(ARCH) (unit x scope, some narrowed with
--include/--exclude: see ulib.SETTING_NAMES and docs/utility.md) and each
ratio, it locks with the real CLI (corelockerctl lock, as a subprocess),
evaluates the locked file in-process on the full 10,000-image Fashion-MNIST
test set (the language model: its 10,000 held-out next bytes) (the same computation as eval.py; torch is imported once), and
locks again with `--select random --seed N` for each seed (the same count
of units at random places) as the baseline.

Ratios: 0.0005 to 0.2 (15 values; --coarse: 9), then 0.25 to 0.5 in steps
of 0.05 if the setting is still above near chance (chance + 2 pp:
12 %, for the language model the unigram baseline + 2 pp) at 0.2.  A ratio whose lock would extract no unit
(corelockerctl refuses it) has no row.

Per point it records the units extracted, the extracted payload (the units'
original bytes: the key's records without their unit indexes, from
`inspect --json`), the .clkey file size (both as % of the model file's
bytes), the share of the classifier head's units extracted (head_pct), the
locked accuracy and the random baseline (mean, min, max over the seeds).

A plain run (no selection options) writes docs/utility-results.csv; with
--arch, --setting, --spec, --ratios or --no-random it only prints, unless
--out is given.  --merge keeps the rows of the other architectures already
in the CSV (e.g. `--arch lm --out docs/utility-results.csv --merge`
adds or refreshes the language model's rows only).  Everything is cached in tests/utility/.cache/ (append-only
JSON lines): lock results by (corelockerctl binary SHA-256, model SHA-256,
lock arguments), accuracies by (arch, SHA-256 of the evaluated file).  A
rerun only redoes what changed (a rebuilt corelockerctl re-locks, which is
cheap, and re-evaluates only files whose bytes changed); an interrupted run
resumes where it stopped.

Run with /usr/bin/python3.  Uncached, the full run took about 70 minutes on
the shared 2-core machine (one core); cached, under a minute.
"""

import argparse
import csv
import hashlib
import json
import os
import sys
import shutil
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ulib  # noqa: E402

CACHE_DIR = os.path.join(HERE, ".cache")
DEFAULT_OUT = os.path.join(ulib.TOP, "docs", "utility-results.csv")

FINE_RATIOS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02,
               0.03, 0.05, 0.075, 0.1, 0.15, 0.2]
COARSE_RATIOS = ulib.COARSE_RATIOS
# Past 0.2, only while the setting has not yet reached near-chance.
TAIL_RATIOS = [0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
NEAR_CHANCE = 2.0    # pp above ulib.chance(arch)
SEEDS = [1, 2, 3]
LOCK_CACHE_VERSION = "v2"   # bump when ulib.lock() records more fields


def parse_spec(s):
    """NAME=UNIT,SCOPE[,include=RE][,exclude=RE] -> ulib.Setting"""
    name, _, rest = s.partition("=")
    parts = rest.split(",")
    if not name or len(parts) < 2:
        raise SystemExit("sweep.py: bad --spec %r (NAME=UNIT,SCOPE"
                         "[,include=RE][,exclude=RE])" % s)
    inc = exc = None
    for p in parts[2:]:
        k, _, v = p.partition("=")
        if k == "include":
            inc = v
        elif k == "exclude":
            exc = v
        else:
            raise SystemExit("sweep.py: bad --spec field %r" % p)
    return ulib.Setting(name, parts[0], parts[1], inc, exc)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


class Cache:
    """A dict on disk as an append-only JSON-lines file (the last line for a
    key wins).  Each put appends one line with O_APPEND, so an interrupted
    run keeps everything it measured and two runs at once lose nothing."""

    def __init__(self, name):
        self.path = os.path.join(CACHE_DIR, name + "l")   # *.jsonl
        self.d = {}
        old = os.path.join(CACHE_DIR, name)                # earlier format
        if os.path.exists(old):
            try:
                with open(old) as f:
                    self.d.update(json.load(f))
            except ValueError:
                pass
        if os.path.exists(self.path):
            with open(self.path) as f:
                for line in f:
                    try:
                        e = json.loads(line)
                    except ValueError:   # a line cut short by a crash
                        continue
                    self.d[e["k"]] = e["v"]

    def get(self, k):
        return self.d.get(k)

    def put(self, k, v):
        self.d[k] = v
        os.makedirs(CACHE_DIR, exist_ok=True)
        line = json.dumps({"k": k, "v": v}, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


class Runner:
    def __init__(self, quiet=False):
        self.quiet = quiet
        self.ev = None
        self.locks = Cache("locks.json")
        self.evals = Cache("evals.json")
        self.tmp = tempfile.mkdtemp(prefix="clsweep.")
        # A private copy of corelockerctl: a rebuild of the tree during a
        # long sweep must not make the binary vanish or change under it.
        ctl = os.path.join(self.tmp, "corelockerctl")
        shutil.copy2(ulib.ctl_path(), ctl)
        os.environ["CTL"] = ctl
        self.ctl_sha = sha256_file(ctl)
        self._model_sha = {}
        self.n_eval = 0
        self.t_eval = 0.0

    def evaluator(self):
        if self.ev is None:
            self.ev = ulib.Evaluator()
        return self.ev

    def model_sha(self, path):
        if path not in self._model_sha:
            self._model_sha[path] = sha256_file(path)
        return self._model_sha[path]

    def point(self, arch, setting, ratio, select="top", seed=None, model=None,
              fill="zero"):
        """-> dict with the lock info and 'accuracy', or None if refused.
        MODEL is the file to lock (default: the fixture of ARCH)."""
        args = setting.args(ratio, select, seed, fill)
        model = model or ulib.model_path(arch)
        k = "|".join([LOCK_CACHE_VERSION, self.ctl_sha,
                      self.model_sha(model)] + args)
        info = self.locks.get(k)
        if info is None:
            out = os.path.join(self.tmp, "locked.safetensors")
            key = os.path.join(self.tmp, "key.clkey")
            r = ulib.lock(arch, out, key, setting.unit, setting.scope, ratio,
                          select, seed, setting.include, setting.exclude,
                          model, fill)
            if r is None:
                info = {"refused": True}
            else:
                info = dict(r)
                info["locked_sha256"] = sha256_file(out)
                ek = arch + ":" + info["locked_sha256"]
                if self.evals.get(ek) is None:
                    t = time.time()
                    c = self.evaluator().correct(arch, out)
                    self.t_eval += time.time() - t
                    self.n_eval += 1
                    self.evals.put(ek, c)
            self.locks.put(k, info)
        if info.get("refused"):
            return None
        ek = arch + ":" + info["locked_sha256"]
        c = self.evals.get(ek)
        if c is None:   # eval cache lost: redo from a fresh lock
            self.locks.d.pop(k)
            return self.point(arch, setting, ratio, select, seed, model,
                              fill)
        res = dict(info)
        res["accuracy"] = c / 100.0
        return res


FIELDS = ["arch", "setting", "unit", "scope", "include", "exclude", "ratio",
          "units_total", "units_locked", "units_pct", "model_bytes",
          "payload_bytes", "payload_pct", "key_file_bytes", "key_file_pct",
          "head_pct",
          "accuracy", "random_accuracy", "random_min", "random_max",
          "random_seeds", "reference_accuracy"]


def row_for(run, arch, setting, ratio, seeds):
    p = run.point(arch, setting, ratio)
    if p is None:
        return None
    rnd = []
    for s in seeds:
        q = run.point(arch, setting, ratio, "random", s)
        if q["units_locked"] != p["units_locked"]:
            raise RuntimeError("random seed %d extracted %d units, top %d"
                               % (s, q["units_locked"], p["units_locked"]))
        rnd.append(q["accuracy"])
    mb = p["model_bytes"]
    row = {
        "arch": arch, "setting": setting.name, "unit": setting.unit,
        "scope": setting.scope, "include": setting.include or "",
        "exclude": setting.exclude or "", "ratio": ratio,
        "units_total": p["units_total"], "units_locked": p["units_locked"],
        "units_pct": "%.4f" % (100.0 * p["units_locked"] / p["units_total"]),
        "model_bytes": mb,
        "payload_bytes": p["payload_bytes"],
        "payload_pct": "%.4f" % (100.0 * p["payload_bytes"] / mb),
        "key_file_bytes": p["key_file_bytes"],
        "key_file_pct": "%.4f" % (100.0 * p["key_file_bytes"] / mb),
        "head_pct": "%.1f" % (100.0 * p["head_extracted"] / p["head_units"]
                              if p["head_units"] else 0.0),
        "accuracy": "%.2f" % p["accuracy"],
        "random_accuracy": "%.2f" % (sum(rnd) / len(rnd)) if rnd else "",
        "random_min": "%.2f" % min(rnd) if rnd else "",
        "random_max": "%.2f" % max(rnd) if rnd else "",
        "random_seeds": ";".join("%.2f" % a for a in rnd),
        "reference_accuracy": "%.2f" % ulib.reference_accuracy(arch),
    }
    return row


def write_csv(path, rows, fields=FIELDS):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    os.replace(tmp, path)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", action="append", choices=ulib.ARCHS)
    ap.add_argument("--setting", action="append")
    ap.add_argument("--spec", action="append", default=[])
    ap.add_argument("--ratios")
    ap.add_argument("--coarse", action="store_true")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--no-random", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--merge", action="store_true")
    ap.add_argument("--no-csv", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)

    specs = [parse_spec(s) for s in a.spec]
    for n in a.setting or []:
        if n not in ulib.SETTING_NAMES and n not in [s.name for s in specs]:
            raise SystemExit("sweep.py: unknown setting %r (known: %s)"
                             % (n, " ".join(ulib.SETTING_NAMES)))
    if a.ratios:
        ratios, tail = [float(x) for x in a.ratios.split(",")], []
    else:
        ratios, tail = (COARSE_RATIOS if a.coarse else FINE_RATIOS), TAIL_RATIOS
    seeds = [] if a.no_random else [int(x) for x in a.seeds.split(",") if x]
    archs = a.arch or list(ulib.ARCHS)
    partial = bool(a.spec or a.setting or a.arch or a.ratios or a.no_random)
    out = None if a.no_csv else (a.out or (None if partial else DEFAULT_OUT))

    run = Runner(a.quiet)
    rows = []
    if a.merge and out and os.path.exists(out):
        with open(out, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["arch"] not in archs]
    t0 = time.time()
    for arch in archs:
        ref = ulib.reference_accuracy(arch)
        todo = ulib.settings_for(arch) + specs
        if a.setting:
            todo = [s for s in todo if s.name in a.setting]
        elif a.spec:
            todo = specs
        for st in todo:
            last = None
            for r in ratios + tail:
                if r == (tail or [None])[0] and last is not None \
                        and last <= ulib.chance(arch) + NEAR_CHANCE:
                    break     # at chance by 0.2 already: no tail
                row = row_for(run, arch, st, r, seeds)
                if row is None:
                    if not a.quiet:
                        print("%-5s %-22s %-7g refused: extracts no unit"
                              % (arch, st.name, r), flush=True)
                    continue
                last = float(row["accuracy"])
                rows.append(row)
                if not a.quiet:
                    print("%-5s %-22s %-7g units %7d  payload %7.3f%%  "
                          "key %7.3f%%  acc %6.2f  random %6s  (ref %.2f)"
                          % (arch, st.name, r, row["units_locked"],
                             float(row["payload_pct"]),
                             float(row["key_file_pct"]),
                             float(row["accuracy"]),
                             row["random_accuracy"] or "-", ref), flush=True)
                if out:
                    write_csv(out + ".partial", rows)
    shutil.rmtree(run.tmp, ignore_errors=True)
    if out:
        write_csv(out, rows)
        os.unlink(out + ".partial")
    sys.stderr.write("sweep.py: %d rows, %d new evaluations (%.0f s), "
                     "%.0f s in all%s\n"
                     % (len(rows), run.n_eval, run.t_eval, time.time() - t0,
                        ", wrote " + out if out else ""))


if __name__ == "__main__":
    ulib.ensure_fast_malloc()
    main(sys.argv[1:])
