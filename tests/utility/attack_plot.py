#!/usr/bin/python3
"""Plot the attack advantage against the key size (docs/attack.png).

usage: attack_plot.py [--csv FILE] [--out PNG]

From docs/attack-results.csv (attack.py --sweep): the `keysize` part, one
line per architecture, x = the .clkey file as % of the model (log), y = the
mean attack advantage over the seeds with min..max as error bars; the
recommended setting of each architecture at 1 % of the data as a hollow
marker of the line's colour (the language model has only that marker: no
keysize part was run on it).  Needs matplotlib (Debian python3-matplotlib);
no torch.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ulib  # noqa: E402
from attack import DEFAULT_CSV, read_csv, summarize  # noqa: E402
from plot import COLORS, TITLES  # noqa: E402

import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", default=DEFAULT_CSV)
    ap.add_argument("--out", default=os.path.join(ulib.TOP, "docs",
                                                  "attack.png"))
    a = ap.parse_args(argv)
    groups = summarize(read_csv(a.csv))
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for arch, color in zip(ulib.ARCHS, COLORS):
        pts = sorted((g["key_file_pct"][0], g["advantage"])
                     for g in groups
                     if g["arch"] == arch and g["part"] == "keysize")
        if pts:
            x = [p[0] for p in pts]
            m = [p[1][0] for p in pts]
            err = [[p[1][0] - p[1][2] for p in pts],
                   [p[1][3] - p[1][0] for p in pts]]
            ax.errorbar(x, m, yerr=err, color=color, marker="o", capsize=3,
                        label="%s, element/global" % TITLES[arch])
        for g in groups:
            if g["arch"] == arch and g["part"] == "recommended" \
                    and float(g["fraction"]) == 0.01:
                d = g["advantage"]
                ax.errorbar([g["key_file_pct"][0]], [d[0]],
                            yerr=[[d[0] - d[2]], [d[3] - d[0]]], color=color,
                            marker="s", mfc="white", ms=8, capsize=3,
                            linestyle="none",
                            label="%s, recommended" % arch)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(".clkey size, % of the model file (log)")
    ax.set_ylabel("attack advantage, pp (attacked - scratch)")
    ax.set_title("Fine-tuning with 1 % of the training data (600 images; "
                 "lm: 35,582 bytes of text)\nmean of seeds 1-3, bars "
                 "min..max", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print("wrote %s" % a.out)


if __name__ == "__main__":
    main(sys.argv[1:])
