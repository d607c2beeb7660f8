#!/usr/bin/python3
"""Summarise bench/lock_bench.sh results (DIR/lock-results.tsv) as markdown.

usage: lock_summary.py RESULTS.tsv

Medians over the timed runs; ratios are of median wall times.  Targets checked:
  lock < 1.5 x cp (also shown against cp+sync, since corelockerctl fsyncs),
  torch peer / lock >= 3 (same unit, layer scope),
  peak RssAnon < 10% of the model + the key size.
"""
import statistics
import sys
from collections import defaultdict

MiB = 1024.0 * 1024.0


def main():
    path = sys.argv[1]
    times, cpus, keys, anon = defaultdict(list), defaultdict(list), {}, defaultdict(list)
    notes, model_bytes = [], None
    fails = defaultdict(int)
    order = []
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("#"):
            notes.append(line[2:])
            if line.startswith("# model:"):
                model_bytes = int(line.split()[3])
            continue
        kind, name, _, value, rc = line.split("\t")
        if kind == "kind":
            continue
        if name not in order:
            order.append(name)
        if rc != "0":
            fails[name] += 1
            continue
        if kind == "time":
            times[name].append(float(value))
        elif kind == "cpu":
            cpus[name].append(float(value))
        elif kind == "key_bytes":
            keys[name] = int(value)
        elif kind == "rss_anon_kib":
            anon[name].append(int(value))

    med = {k: statistics.median(v) for k, v in times.items() if v}
    print("Conditions:")
    print()
    for n in notes:
        print("    " + n)
    print()
    cmed = {k: statistics.median(v) for k, v in cpus.items() if v}
    print("| command | median wall s | min..max s | median CPU s | lock/cp | lock/(cp+sync) | torch/lock "
          "| peak RssAnon MiB | 10% model + key MiB | key bytes | key % model |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    verdict = []
    for name in order:
        if name not in med:
            print("| %s | failed (%d) | | | | | | | | | |" % (name, fails[name]))
            continue
        t = times[name]
        row = ["`%s`" % name, "%.3f" % med[name], "%.3f..%.3f" % (min(t), max(t)),
               "%.2f" % cmed[name] if name in cmed else ""]
        is_lock = name.startswith("lock-")
        if is_lock and "cp" in med:
            r = med[name] / med["cp"]
            row.append("%.2f" % r)
            verdict.append(("%s < 1.5 x cp" % name, r < 1.5, "%.2fx" % r))
        else:
            row.append("")
        if is_lock and "cp+sync" in med:
            row.append("%.2f" % (med[name] / med["cp+sync"]))
        else:
            row.append("")
        peer = "torch-" + name[5:]
        if is_lock and peer in med:
            r = med[peer] / med[name]
            row.append("%.2f" % r)
            verdict.append(("%s >= 3x faster than %s" % (name, peer), r >= 3, "%.2fx" % r))
        else:
            row.append("")
        if anon.get(name):
            a = max(anon[name]) / 1024.0
            row.append("%.1f" % a)
            if is_lock and model_bytes and name in keys:
                budget = (0.1 * model_bytes + keys[name]) / MiB
                row.append("%.1f" % budget)
                verdict.append(("%s peak RssAnon < 10%% model + key" % name, a < budget,
                                "%.1f of %.1f MiB" % (a, budget)))
            else:
                row.append("")
        else:
            row += ["", ""]
        if name in keys:
            row.append("%d" % keys[name])
            row.append("%.3f" % (100.0 * keys[name] / model_bytes) if model_bytes else "")
        else:
            row += ["", ""]
        print("| " + " | ".join(row) + " |")
    print()
    print("Targets:")
    print()
    for what, ok, how in verdict:
        print("- %s: **%s** (%s)" % (what, "met" if ok else "MISSED", how))
    if fails:
        print()
        print("Failed runs: " + ", ".join("%s x%d" % kv for kv in fails.items()))


if __name__ == "__main__":
    main()
