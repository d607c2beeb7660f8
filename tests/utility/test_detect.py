#!/usr/bin/env python3
"""make check: the position detector (detect.py) checks itself on the MLP.

The zero fill and negation leave the extracted positions in plain sight, so
the best detector must find them (AUC >= 0.95): a detector that cannot is
broken, and then its low AUC on a position-hiding fill would mean nothing.
The position-hiding fills must then score well below those controls.
"""
import sys

import numpy as np

import detect

fails = 0


def check(ok, what):
    global fails
    print("%s: %s" % ("ok" if ok else "FAIL", what))
    fails += not ok


# the AUC itself, on cases whose answer is known
y = np.array([False, False, True, True])
check(detect.auc(np.array([0.1, 0.2, 0.3, 0.4]), y) == 1.0, "auc: perfect ranking is 1")
check(detect.auc(np.array([0.4, 0.3, 0.2, 0.1]), y) == 0.0, "auc: reversed ranking is 0")
check(detect.auc(np.ones(4), y) == 0.5, "auc: ties are 0.5")
check(detect.free_auc(np.array([0.4, 0.3, 0.2, 0.1]), y) == 1.0, "free_auc picks the direction")

res = {f: detect.detect("mlp", f, ratio=0.1) for f in detect.FILLS}
for f in ("zero", "negate"):
    check(res[f]["best"] >= 0.95, "%s: positions found (best AUC %.3f >= 0.95)" % (f, res[f]["best"]))
for f in ("resample", "flip"):
    check(res[f]["best"] <= res["negate"]["best"] - 0.2,
          "%s: best AUC %.3f is well below negation's %.3f" % (f, res[f]["best"], res["negate"]["best"]))
print("test_detect: %s" % ("OK" if not fails else "%d FAILED" % fails))
sys.exit(1 if fails else 0)
