#!/usr/bin/python3
"""Markdown tables for docs/utility.md from docs/utility-results.csv.

usage: tables.py [--csv FILE]

Prints, per architecture: every setting's smallest near-chance point (the
row with accuracy <= chance + 2 pp, 12 % or the LM's unigram + 2, and
the smallest .clkey file), the best accuracy
reachable with a key of at most 1 % of the model (file, and payload), and
the recommended setting's whole curve with its random baseline.  A row that
extracts the whole classifier head (head_pct 100) never counts as a
near-chance or moonshot point.  No torch needed.
"""

import argparse
import csv
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ulib  # noqa: E402

NEAR = 2.0    # pp above ulib.chance(arch): 12 %, the LM's unigram + 2


def load(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("ratio", "payload_pct", "key_file_pct", "head_pct",
                  "accuracy", "random_accuracy", "random_min", "random_max",
                  "units_pct"):
            r[k] = float(r[k])
        for k in ("units_locked", "units_total", "payload_bytes",
                  "key_file_bytes", "model_bytes"):
            r[k] = int(r[k])
    return rows


def rnd(r):
    return "%.2f (%.2f)" % (r["random_accuracy"], r["random_min"])


def near_chance(rows):
    ok = [r for r in rows if r["accuracy"] <= ulib.chance(r["arch"]) + NEAR
          and r["head_pct"] < 100]
    return min(ok, key=lambda r: (r["key_file_bytes"], r["ratio"])) if ok else None


def best_under(rows, field, limit):
    ok = [r for r in rows if r[field] <= limit and r["head_pct"] < 100]
    return min(ok, key=lambda r: (r["accuracy"], r["key_file_bytes"])) if ok else None


def flags(st, empty="-"):
    """The restriction as code, with | escaped for a markdown table cell."""
    s = []
    if st.include:
        s.append("`--include '%s'`" % st.include)
    if st.exclude:
        s.append("`--exclude '%s'`" % st.exclude)
    return (" ".join(s) or empty).replace("|", "\\|")


def settings_table(rows, arch):
    out = ["| setting | restriction | near-chance: ratio | accuracy | key file % "
           "| payload % | random: mean (min) | head % | best with key file <= 1 % |",
           "|---|---|---|---|---|---|---|---|---|"]
    for st in ulib.settings_for(arch):
        s = [r for r in rows if r["arch"] == arch and r["setting"] == st.name]
        if not s:
            continue
        n = near_chance(s)
        b = best_under(s, "key_file_pct", 1.0)
        bs = ("%.2f at %g (%.2f %%)" % (b["accuracy"], b["ratio"],
                                        b["key_file_pct"]) if b else "-")
        if n:
            out.append("| %s | %s | %g | %.2f | %.2f | %.3f | %s | %.0f | %s |"
                       % (st.name, flags(st), n["ratio"], n["accuracy"],
                          n["key_file_pct"], n["payload_pct"], rnd(n),
                          n["head_pct"], bs))
        else:
            lo = min(s, key=lambda r: r["accuracy"])
            out.append("| %s | %s | not reached (lowest %.2f at %g, key %.1f %%%s) "
                       "| | | | | | %s |"
                       % (st.name, flags(st), lo["accuracy"], lo["ratio"],
                          lo["key_file_pct"],
                          ", whole head extracted" if lo["head_pct"] >= 100
                          else "", bs))
    return "\n".join(out)


def curve_table(rows, arch, name):
    s = sorted([r for r in rows if r["arch"] == arch and r["setting"] == name],
               key=lambda r: r["ratio"])
    out = ["| ratio | units | payload % | key file % | accuracy | random: mean (min-max) |",
           "|---|---|---|---|---|---|"]
    for r in s:
        out.append("| %g | %d | %.3f | %.2f | **%.2f** | %.2f (%.2f-%.2f) |"
                   % (r["ratio"], r["units_locked"], r["payload_pct"],
                      r["key_file_pct"], r["accuracy"], r["random_accuracy"],
                      r["random_min"], r["random_max"]))
    return "\n".join(out)


def summary(rows):
    out = ["| arch | original | recommended setting | ratio | accuracy | key file % "
           "| payload % | random: mean (min) | smallest key at <= chance + 2 "
           "| lowest accuracy, key file <= 1 % | lowest accuracy, payload <= 1 % |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    cell = lambda b, f: ("%.2f (%s %g, %s %.2f %%)"
                         % (b["accuracy"], b["setting"], b["ratio"],
                            "key" if f == "key_file_pct" else "payload", b[f])
                         if b else "-")
    for arch in ulib.ARCHS:
        rec = ulib.RECOMMENDED[arch]
        st = ulib.setting(arch, rec["setting"])
        r = [x for x in rows if x["arch"] == arch and x["setting"] == st.name
             and x["ratio"] == rec["ratio"]]
        a = [x for x in rows if x["arch"] == arch]
        n = near_chance(a)
        nc = ("%s %g: %.2f, key %.2f %% (random %.2f)"
              % (n["setting"], n["ratio"], n["accuracy"], n["key_file_pct"],
                 n["random_accuracy"]) if n else "-")
        if r:
            r = r[0]
            out.append("| %s | %.2f | %s %s | %g | %.2f | %.2f | %.3f | %s | %s | %s | %s |"
                       % (arch, ulib.reference_accuracy(arch), st.name,
                          flags(st, ""), rec["ratio"], r["accuracy"],
                          r["key_file_pct"], r["payload_pct"], rnd(r), nc,
                          cell(best_under(a, "key_file_pct", 1.0), "key_file_pct"),
                          cell(best_under(a, "payload_pct", 1.0), "payload_pct")))
    return "\n".join(out)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", default=os.path.join(ulib.TOP, "docs",
                                                  "utility-results.csv"))
    a = ap.parse_args(argv)
    rows = load(a.csv)
    print("<!-- generated by tests/utility/tables.py from docs/utility-results.csv -->")
    print()
    print(summary(rows))
    for arch in ulib.ARCHS:
        print()
        print("### %s (original %.2f %%)" % (arch, ulib.reference_accuracy(arch)))
        print()
        print(settings_table(rows, arch))
        print()
        rec = ulib.RECOMMENDED[arch]["setting"]
        print("Curve of the recommended setting, `%s`:"
              % ulib.setting(arch, rec).describe())
        print()
        print(curve_table(rows, arch, rec))


if __name__ == "__main__":
    main(sys.argv[1:])
