#!/usr/bin/python3
"""Plot the utility sweep (docs/utility-results.csv, written by sweep.py).

usage: plot.py [--csv FILE] [--out PNG] [--settings-out PNG]

docs/utility.png: the paper-style figure, one panel per architecture:
top-1 accuracy against the share of the model's bytes extracted (log x),
for a few CoreLocker settings (solid) and the random baseline of the same
settings and counts (dashed, mean of 3 seeds, band = min..max), with the
chance line (10 %; the language model's: its unigram baseline) and the
near-chance bound (chance + 2 pp).

docs/utility-settings.png: one panel per (architecture, setting), accuracy
against the --ratio given to lock, CoreLocker vs random.

Needs matplotlib (Debian python3-matplotlib); no torch.
"""

import argparse
import csv
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ulib  # noqa: E402

import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOCS = os.path.join(ulib.TOP, "docs")
TITLES = {"mlp": "MLP 784-256-128-10", "cnn": "ResNet-style CNN (BN)",
          "vit": "ViT (3 layers, d 64)", "lstm": "LSTM (hidden 128)",
          "lm": "byte-level LM (4 layers, d 128, BF16)"}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def load(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("ratio", "payload_pct", "key_file_pct", "accuracy",
                  "random_accuracy", "random_min", "random_max",
                  "reference_accuracy"):
            r[k] = float(r[k]) if r[k] != "" else None
    return rows


def pretty(regex):
    """'^(conv1|layer1)\\.' -> 'conv1+layer1'"""
    r = regex.replace("\\.", ".").strip("^$")
    if r.startswith("(") and ")" in r:
        r = r[1:r.index(")")] + r[r.index(")") + 1:]
    return r.replace("|", "+").rstrip(".")


def label_for(st):
    lab = st.name
    if st.include:
        lab += " [%s]" % pretty(st.include)
    if st.exclude:
        lab += " [not %s]" % pretty(st.exclude)
    return lab


def series(rows, arch, setting):
    s = [r for r in rows if r["arch"] == arch and r["setting"] == setting]
    return sorted(s, key=lambda r: r["ratio"])


def main_figure(rows, out):
    cols = (len(ulib.ARCHS) + 1) // 2
    fig, axes = plt.subplots(2, cols, figsize=(6 * cols, 10.5), sharey=True)
    for ax in axes.flat[len(ulib.ARCHS):]:
        ax.set_visible(False)
    for ax, arch in zip(axes.flat, ulib.ARCHS):
        ref = ulib.reference_accuracy(arch)
        for i, name in enumerate(ulib.PLOT_SETTINGS[arch]):
            s = series(rows, arch, name)
            if not s:
                continue
            st = ulib.setting(arch, name)
            x = [r["payload_pct"] for r in s]
            c = COLORS[i % len(COLORS)]
            label = label_for(st)
            if name == ulib.RECOMMENDED[arch]["setting"]:
                label += " *"
            ax.plot(x, [r["accuracy"] for r in s], "-o", color=c, ms=3.5,
                    lw=1.8, label=label)
            ax.plot(x, [r["random_accuracy"] for r in s], "--", color=c,
                    lw=1.1, alpha=0.8)
            ax.fill_between(x, [r["random_min"] for r in s],
                            [r["random_max"] for r in s], color=c, alpha=0.12,
                            lw=0)
        ax.axhline(ref, color="0.35", lw=0.8, ls=":")
        ax.text(0.0011, ref + 1, "original %.2f %%" % ref, fontsize=8,
                color="0.3")
        ch = ulib.chance(arch)
        ax.axhline(ch, color="k", lw=0.9)
        ax.axhline(ch + 2, color="k", lw=0.6, ls=":")
        ax.text(90, ch - 5, "%s %.4g %%  (dotted: + 2)"
                % ("unigram" if arch == "lm" else "chance", ch),
                fontsize=8, ha="right")
        ax.axvline(1.0, color="0.6", lw=0.7, ls="-.")
        ax.set_xscale("log")
        ax.set_xlim(0.001, 100)
        ax.set_ylim(0, 100)
        ax.set_title(TITLES[arch], fontsize=11)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13),
                  ncol=2, frameon=False)
    for ax in axes.flat:
        ax.set_xlabel("extracted weights, % of the model file's bytes (log)",
                      fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("top-1 accuracy, %  (Fashion-MNIST test, 10k; "
                      "LM: next byte, 10k)")
    fig.suptitle("CoreLocker on Fashion-MNIST and a byte-level LM: solid = "
                 "extract the top units, "
                 "dashed = random units of the same count\n(mean of seeds "
                 "1-3, band min-max).  * = recommended setting.  Dash-dot: "
                 "1 % of the model.", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95), h_pad=2.5)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def settings_figure(rows, out):
    archs = list(ulib.ARCHS)
    names = list(ulib.SETTING_NAMES)
    fig, axes = plt.subplots(len(names), len(archs),
                             figsize=(2.9 * len(archs), 1.9 * len(names)),
                             sharey=True)
    for j, name in enumerate(names):
        for i, arch in enumerate(archs):
            ax = axes[j][i]
            s = series(rows, arch, name)
            ax.set_xscale("log")
            ax.set_xlim(0.0004, 0.6)
            ax.set_ylim(0, 100)
            ax.axhline(ulib.chance(arch), color="k", lw=0.7)
            ax.tick_params(labelsize=6.5)
            if j == 0:
                ax.set_title(arch, fontsize=10)
            if i == 0:
                ax.set_ylabel(name + "\naccuracy %", fontsize=7.5)
            if j == len(names) - 1:
                ax.set_xlabel("--ratio (log)", fontsize=8)
            if not s:
                ax.text(0.5, 0.5, "n/a", ha="center", transform=ax.transAxes,
                        fontsize=8, color="0.5")
                continue
            st = ulib.setting(arch, name)
            if st.include or st.exclude:
                ax.text(0.03, 0.04, label_for(st)[len(name) + 1:],
                        transform=ax.transAxes, fontsize=6, color="0.3")
            x = [r["ratio"] for r in s]
            ax.plot(x, [r["accuracy"] for r in s], "-o", ms=2, lw=1.2,
                    color=COLORS[0])
            ax.plot(x, [r["random_accuracy"] for r in s], "--", lw=1,
                    color=COLORS[1])
            ax.grid(True, alpha=0.3)
    fig.suptitle("Accuracy vs --ratio for every setting (blue: CoreLocker "
                 "top units; red dashed: random units, same count, mean of "
                 "3 seeds)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", default=os.path.join(DOCS, "utility-results.csv"))
    ap.add_argument("--out", default=os.path.join(DOCS, "utility.png"))
    ap.add_argument("--settings-out",
                    default=os.path.join(DOCS, "utility-settings.png"))
    a = ap.parse_args(argv)
    rows = load(a.csv)
    main_figure(rows, a.out)
    settings_figure(rows, a.settings_out)
    print("plot.py: wrote %s and %s" % (a.out, a.settings_out))


if __name__ == "__main__":
    main(sys.argv[1:])
