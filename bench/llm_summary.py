#!/usr/bin/python3
"""Markdown tables from bench/llm_bench.sh's TSV.

usage: llm_summary.py llm-results.tsv

Per model size and command: the median wall time and its range, the median
CPU time (user + sys, all threads), lock / (cp -r + sync), peer / lock, wall
seconds per GiB, the peak RssAnon (absolute and as % of the model) and the
load average range of the timed runs.  Then the goals, met or missed.
"""
import statistics
import sys
from collections import defaultdict


def main():
    rows = defaultdict(list)
    head, size_bytes = [], {}
    for line in open(sys.argv[1]):
        if line.startswith("#"):
            head.append(line[2:].rstrip())
            continue
        f = line.rstrip("\n").split("\t")
        if f[0] == "kind":
            continue
        kind, size, name, _, value, rc, load = f
        if kind == "model_bytes":
            size_bytes[size] = int(value)
        elif rc == "0":
            rows[(kind, size, name)].append((float(value), float(load) if load else None))
    med = lambda k: statistics.median(v for v, _ in rows[k]) if rows.get(k) else None
    print("\n".join("- " + h for h in head))
    print()
    print("| model | command | runs | median wall s | min..max s | median CPU s | lock/(cp -r+sync) "
          "| peer/lock | wall s per GiB | peak RssAnon MiB | RssAnon % model | load (1 min) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    goals = []
    for size in sorted(size_bytes, key=float):
        gib = size_bytes[size] / float(1 << 30)
        names = [n for (k, s, n) in rows if k == "time" and s == size]
        order = ["cp-r+sync", "lock", "lock-1-thread", "torch-peer"]
        names = sorted(set(names), key=lambda n: order.index(n) if n in order else 9)
        base = med(("time", size, "cp-r+sync"))
        lock = med(("time", size, "lock"))
        peer = med(("time", size, "torch-peer"))
        for n in names:
            t = rows[("time", size, n)]
            w = med(("time", size, n))
            cpu = med(("cpu", size, n))
            anon = rows.get(("rss_anon_kib", size, n))
            loads = [l for _, l in t if l is not None]
            cells = [
                "%.2f GiB" % gib, "`%s`" % n, str(len(t)), "%.3f" % w,
                "%.3f..%.3f" % (min(v for v, _ in t), max(v for v, _ in t)), "%.2f" % cpu,
                "%.2f" % (w / base) if base and n.startswith("lock") else "",
                "%.2f" % (peer / w) if peer and n == "lock" else "",
                "%.2f" % (w / gib),
                "%.1f" % (anon[0][0] / 1024) if anon else "",
                "%.2f" % (100 * anon[0][0] * 1024 / size_bytes[size]) if anon else "",
                "%.1f..%.1f" % (min(loads), max(loads)) if loads else "",
            ]
            print("| " + " | ".join(cells) + " |")
        anon = rows.get(("rss_anon_kib", size, "lock"))
        if lock and base:
            goals.append(("%s GiB: lock <= 1.5x cp -r + sync" % size, "%.2fx" % (lock / base), lock / base <= 1.5))
        if lock and peer:
            goals.append(("%s GiB: lock >= 5x faster than the peer" % size, "%.1fx" % (peer / lock), peer / lock >= 5))
        if anon:
            pct = 100 * anon[0][0] * 1024 / size_bytes[size]
            goals.append(("%s GiB: RssAnon < 5 %% of the model" % size, "%.1f %%" % pct, pct < 5))
    print()
    print("| goal | measured | verdict |")
    print("|---|---:|---|")
    for g, m, ok in goals:
        print("| %s | %s | %s |" % (g, m, "**met**" if ok else "**missed**"))


if __name__ == "__main__":
    main()
