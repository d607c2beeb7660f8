#!/usr/bin/python3
"""Do the recommended lock settings transfer to independently trained models?

usage: transfer.py [--arch A ...] [--choice 1] [--report 2,3]
                   [--out CSV] [--merge] [--no-csv]

The held-out models are tests/utility/models/heldout/ARCH-sN.safetensors
(train.py --seed N --out models/heldout: the fixture recipe, other seeds).
Every lock is the real corelockerctl (ulib.lock), every accuracy the
in-process eval.py computation, both cached in .cache/ like sweep.py (a
rerun only redoes what changed; an interrupted run resumes).

1. "documented": ulib.RECOMMENDED (setting and ratio) on the fixture and
   on every held-out model.
2. "needed": per model, the smallest ratio of sweep.py's grid at which the
   RECOMMENDED setting reaches <= chance + 2 pp (the spread of this ratio
   is what a fixed documented ratio has to cover).
3. "protocol": for the RECOMMENDED setting and for element-global, the
   smallest ratio of sweep.py's grid at which every CHOICE model (the
   fixture and the --choice seeds) is at <= chance + 2 pp without
   extracting the whole classifier head; that ratio is then measured on
   the REPORT models (--report seeds), which took no part in the choice.

Writes docs/utility-heldout.csv (a run restricted with --arch only prints,
unless --out is given; --merge keeps the other architectures' rows of that
CSV) and prints the markdown tables of docs/utility.md section 11.  The
language model has two held-out seeds: `--arch lm --choice '' --report 1,2`
chooses on the fixture alone and reports on both.

With --fills F,... (docs/utility.md section 13) it compares fills instead:
per fill, the smallest grid ratio of the RECOMMENDED setting at which the
fixture alone is near chance (head not wholly extracted), measured on every
held-out seed (--report, default 1,2,3 there).  Writes docs/utility-fills.csv.  A missing
held-out model is left out and named under the tables.
Run with /usr/bin/python3.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sweep  # noqa: E402
import ulib   # noqa: E402

HELDOUT = os.path.join(ulib.MODELS, "heldout")
DEFAULT_OUT = os.path.join(ulib.TOP, "docs", "utility-heldout.csv")
FILLS_OUT = os.path.join(ulib.TOP, "docs", "utility-fills.csv")
NEAR_CHANCE = 2.0    # pp above ulib.chance(arch)


def near(arch):
    return ulib.chance(arch) + NEAR_CHANCE
GRID = sweep.FINE_RATIOS + sweep.TAIL_RATIOS

FIELDS = ["part", "arch", "setting", "ratio", "model", "role",
          "units_locked", "key_file_pct", "head_pct", "accuracy",
          "original_accuracy"]


def heldout_path(arch, seed):
    return os.path.join(HELDOUT, "%s-s%d.safetensors" % (arch, seed))


def original_accuracy(model):
    """The unlocked accuracy train.py recorded for MODEL (a name)."""
    path = os.path.join(ulib.MODELS, "accuracy.json") if "-s" not in model \
        else os.path.join(HELDOUT, "accuracy.json")
    with open(path) as f:
        return float(json.load(f)[model])


class Transfer:
    def __init__(self, choice, report):
        self.run = sweep.Runner(quiet=True)
        self.choice, self.report = choice, report
        self.rows = []
        self.missing = []

    def models(self, arch, seeds, with_fixture):
        """-> [(name, path)] of the models that exist."""
        out = [(arch, ulib.model_path(arch))] if with_fixture else []
        for s in seeds:
            p = heldout_path(arch, s)
            if os.path.exists(p):
                out.append(("%s-s%d" % (arch, s), p))
            elif p not in self.missing:
                self.missing.append(p)
        return out

    def measure(self, part, arch, st, ratio, name, path, role):
        p = self.run.point(arch, st, ratio, model=path)
        if p is None:
            return None
        row = {
            "part": part, "arch": arch, "setting": st.name, "ratio": ratio,
            "model": name, "role": role, "units_locked": p["units_locked"],
            "key_file_pct": "%.4f" % (100.0 * p["key_file_bytes"]
                                      / p["model_bytes"]),
            "head_pct": "%.1f" % (100.0 * p["head_extracted"] / p["head_units"]
                                  if p["head_units"] else 0.0),
            "accuracy": "%.2f" % p["accuracy"],
            "original_accuracy": "%.2f" % original_accuracy(name),
        }
        self.rows.append(row)
        print("%-10s %-7s %-22s %-6g %-7s acc %6.2f  key %7.3f%%"
              % (part, name, st.name, ratio, role, p["accuracy"],
                 float(row["key_file_pct"])), flush=True)
        return row

    def documented(self, arch):
        rec = ulib.RECOMMENDED[arch]
        st = ulib.setting(arch, rec["setting"])
        for name, path in self.models(arch, self.choice + self.report, True):
            self.measure("documented", arch, st, rec["ratio"], name, path,
                         "fixture" if name == arch else "heldout")

    def smallest(self, arch, st, models):
        """The smallest GRID ratio at which every model of MODELS is near
        chance without losing its whole head, or None."""
        for r in GRID:
            # In MODELS order, stopping at the first miss: the later models
            # need no evaluation at ratios the first is still far above.
            for name, path in models:
                p = self.run.point(arch, st, r, model=path)
                if p is None or p["accuracy"] > near(arch) or \
                        p["head_units"] and \
                        p["head_extracted"] == p["head_units"]:
                    break
            else:
                return r
        return None

    def none_row(self, part, arch, st, name):
        self.rows.append(dict({f: "" for f in FIELDS}, part=part, arch=arch,
                              setting=st.name, model=name, role="none"))

    def needed(self, arch):
        """Per model, the smallest ratio the RECOMMENDED setting needs."""
        st = ulib.setting(arch, ulib.RECOMMENDED[arch]["setting"])
        for name, path in self.models(arch, self.choice + self.report, True):
            r = self.smallest(arch, st, [(name, path)])
            if r is None:
                self.none_row("needed", arch, st, name)
            else:
                self.measure("needed", arch, st, r, name, path,
                             "fixture" if name == arch else "heldout")

    def protocol(self, arch, st):
        """Choose on the CHOICE models, then measure on the REPORT models."""
        choice = self.models(arch, self.choice, True)
        chosen = self.smallest(arch, st, choice)
        if chosen is None:
            self.none_row("protocol", arch, st, "")
            return
        for name, path in choice:
            self.measure("protocol", arch, st, chosen, name, path, "choice")
        for name, path in self.models(arch, self.report, False):
            self.measure("protocol", arch, st, chosen, name, path, "report")


def spread(vals):
    """mean, min, max, sample std (0 for one value)."""
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return sum(vals) / len(vals), min(vals), max(vals), sd


def fmt_spread(vals):
    m, lo, hi, sd = spread(vals)
    return "%.2f" % m, "%.2f..%.2f" % (lo, hi), "%.2f" % sd


def tables(rows, missing):
    out = []
    doc = [r for r in rows if r["part"] == "documented"]
    out.append("Documented recommendation (ulib.RECOMMENDED) on the fixture "
               "and on the held-out models; locked accuracy in %:\n")
    out.append("| arch | setting | ratio | fixture | held-out (seed: acc) "
               "| held-out mean | min..max | std | held-out <= chance + 2 "
               "| ratio needed for <= chance + 2 (model: ratio) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for arch in ulib.ARCHS:
        rs = [r for r in doc if r["arch"] == arch]
        if not rs:
            continue
        fx = [r for r in rs if r["role"] == "fixture"]
        ho = [r for r in rs if r["role"] == "heldout"]
        accs = [float(r["accuracy"]) for r in ho]
        m, mm, sd = fmt_spread(accs) if accs else ("-", "-", "-")
        n_ok = sum(a <= near(arch) for a in accs)
        need = [r for r in rows if r["part"] == "needed" and r["arch"] == arch]
        out.append("| %s | %s | %g | %s | %s | %s | %s | %s | %d of %d | %s |"
                   % (arch, rs[0]["setting"], float(rs[0]["ratio"]),
                      fx[0]["accuracy"] if fx else "-",
                      ", ".join("%s: %s" % (r["model"].split("-")[1],
                                            r["accuracy"]) for r in ho) or "-",
                      m, mm, sd, n_ok, len(accs),
                      ", ".join("%s: %s" % (r["model"], "%g" % float(r["ratio"])
                                            if r["ratio"] != "" else
                                            "none <= %g" % GRID[-1])
                                for r in need)))
    out.append("")
    out.append("Protocol: the smallest ratio of the sweep's grid at which "
               "every CHOICE model is at <= chance + 2 pp (12 %; the LM: unigram "
               "+ 2) (head not wholly extracted), "
               "reported on the REPORT models:\n")
    out.append("| arch | setting | chosen ratio | choice (model: acc) "
               "| report (model: acc) | report mean | min..max | std "
               "| report key file % | goal <= chance + 2 on report |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    pro = [r for r in rows if r["part"] == "protocol"]
    seen = []
    for r in pro:
        if (r["arch"], r["setting"]) not in seen:
            seen.append((r["arch"], r["setting"]))
    for arch, name in seen:
        rs = [r for r in pro if r["arch"] == arch and r["setting"] == name]
        if rs[0]["role"] == "none":
            out.append("| %s | %s | none up to %g | - | - | - | - | - | - "
                       "| no |" % (arch, name, GRID[-1]))
            continue
        ch = [r for r in rs if r["role"] == "choice"]
        rep = [r for r in rs if r["role"] == "report"]
        accs = [float(r["accuracy"]) for r in rep]
        m, mm, sd = fmt_spread(accs) if accs else ("-", "-", "-")
        keys = [float(r["key_file_pct"]) for r in rep]
        holds = ("yes" if all(a <= near(arch) for a in accs) else
                 "no (%d of %d)" % (sum(a <= near(arch) for a in accs),
                                    len(accs))) if accs else "-"
        out.append("| %s | %s | %g | %s | %s | %s | %s | %s | %s | %s |" % (
            arch, name, float(rs[0]["ratio"]),
            ", ".join("%s: %s" % (r["model"], r["accuracy"]) for r in ch),
            ", ".join("%s: %s" % (r["model"], r["accuracy"]) for r in rep)
            or "-",
            m, mm, sd, "%.2f" % (sum(keys) / len(keys)) if keys else "-",
            holds))
    if missing:
        out.append("")
        out.append("Missing (not trained): " + ", ".join(
            os.path.basename(p) for p in missing))
    return "\n".join(out)


FILL_FIELDS = ["arch", "setting", "fill", "ratio", "model", "role",
               "key_file_pct", "head_pct", "accuracy"]


def fill_rows(t, arch, fill):
    """Choose the ratio for FILL on the fixture, report it on the seeds."""
    st = ulib.setting(arch, ulib.RECOMMENDED[arch]["setting"])
    fixture = ulib.model_path(arch)

    def ok(r):
        p = t.run.point(arch, st, r, model=fixture, fill=fill)
        return p is not None and p["accuracy"] <= near(arch) and not (
            p["head_units"] and p["head_extracted"] == p["head_units"])
    # The first grid ratio that is near chance, as smallest() does: the
    # curve is not monotone (a CNN flip lock reads 8.4 % at 0.02, 13.1 % at 0.5).
    hi = next((i for i, r in enumerate(GRID) if ok(r)), None)
    if hi is None:
        return [dict({f: "" for f in FILL_FIELDS}, arch=arch, fill=fill,
                     setting=st.name, role="none")]
    rows = []
    for name, path in [(arch, fixture)] + t.models(arch, t.report, False):
        p = t.run.point(arch, st, GRID[hi], model=path, fill=fill)
        rows.append({
            "arch": arch, "setting": st.name, "fill": fill, "ratio": GRID[hi],
            "model": name, "role": "choice" if path == fixture else "report",
            "key_file_pct": "%.4f" % (100.0 * p["key_file_bytes"]
                                      / p["model_bytes"]),
            "head_pct": "%.1f" % (100.0 * p["head_extracted"] / p["head_units"]
                                  if p["head_units"] else 0.0),
            "accuracy": "%.2f" % p["accuracy"]})
        print("fill %-8s %-7s %-22s %-6g acc %6.2f  key %7.3f%%"
              % (fill, name, st.name, GRID[hi], p["accuracy"],
                 float(rows[-1]["key_file_pct"])), flush=True)
    return rows


def fill_table(rows):
    out = ["| arch | setting | fill | ratio chosen on the fixture | key file % "
           "| fixture acc | held-out acc (seed: acc) | held-out mean | max "
           "| held-out <= 12 % |", "|---|---|---|---|---|---|---|---|---|---|"]
    for arch in ulib.ARCHS:
        for fill in dict.fromkeys(r["fill"] for r in rows if r["arch"] == arch):
            rs = [r for r in rows if r["arch"] == arch and r["fill"] == fill]
            if rs[0]["role"] == "none":
                out.append("| %s | %s | %s | none up to %g | - | - | - | - | - "
                           "| no |" % (arch, rs[0]["setting"], fill, GRID[-1]))
                continue
            ch = [r for r in rs if r["role"] == "choice"][0]
            rep = [r for r in rs if r["role"] == "report"]
            accs = [float(r["accuracy"]) for r in rep]
            out.append("| %s | %s | %s | %g | %.2f | %s | %s | %.2f | %.2f "
                       "| %d of %d |" % (
                           arch, ch["setting"], fill, float(ch["ratio"]),
                           float(ch["key_file_pct"]), ch["accuracy"],
                           ", ".join("%s: %s" % (r["model"].split("-")[1],
                                                 r["accuracy"]) for r in rep),
                           sum(accs) / len(accs), max(accs),
                           sum(a <= near(arch) for a in accs), len(accs)))
    return "\n".join(out)


def seeds(s):
    return [int(x) for x in s.split(",") if x]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", action="append", choices=ulib.ARCHS)
    ap.add_argument("--choice", type=seeds, default=[1],
                    help="held-out seeds the ratio is chosen on, with the "
                    "fixture (default 1)")
    ap.add_argument("--report", type=seeds, default=[2, 3],
                    help="held-out seeds it is reported on (default 2,3)")
    ap.add_argument("--out")
    ap.add_argument("--merge", action="store_true")
    ap.add_argument("--no-csv", action="store_true")
    ap.add_argument("--fills", help="compare these fills (section 13)")
    a = ap.parse_args(argv)
    if a.fills:
        t = Transfer([], a.report if "--report" in argv else [1, 2, 3])
        rows = []
        for arch in a.arch or ulib.ARCHS:
            for fill in a.fills.split(","):
                rows += fill_rows(t, arch, fill)
        out = None if a.no_csv else (a.out or (None if a.arch else
                                               FILLS_OUT))
        if out:
            sweep.write_csv(out, rows, FILL_FIELDS)
        shutil.rmtree(t.run.tmp, ignore_errors=True)
        print()
        print(fill_table(rows))
        return
    if set(a.choice) & set(a.report):
        ap.error("a seed cannot be both --choice and --report")
    out = None if a.no_csv else (a.out or (None if a.arch else DEFAULT_OUT))
    archs = a.arch or ulib.ARCHS

    t = Transfer(a.choice, a.report)
    for arch in archs:
        t.documented(arch)
        t.needed(arch)
        names = [ulib.RECOMMENDED[arch]["setting"]]
        if "element-global" not in names:
            names.append("element-global")
        for n in names:
            t.protocol(arch, ulib.setting(arch, n))
    if out:
        keep = []
        if a.merge and os.path.exists(out):
            with open(out, newline="") as f:
                keep = [r for r in csv.DictReader(f) if r["arch"] not in archs]
        sweep.write_csv(out, keep + t.rows, FIELDS)
    shutil.rmtree(t.run.tmp, ignore_errors=True)
    print()
    print(tables(t.rows, t.missing))
    if out:
        sys.stderr.write("transfer.py: wrote %s\n" % out)


if __name__ == "__main__":
    ulib.ensure_fast_malloc()
    main(sys.argv[1:])
