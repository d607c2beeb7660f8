#!/usr/bin/python3
"""Measure a fixture model's utility.

usage: eval.py ARCH FILE [--metric acc|ppl]

FILE is a safetensors file (or a sharded model's *.safetensors.index.json)
read with st.py, never torch.load.  ARCH is one of mlp cnn vit lstm lm.  The
weights are loaded strictly into models.build(ARCH); the model is evaluated
in eval mode, under torch.no_grad(), in batches of 1000 on the full 10,000
image test set.  The last stdout line is the top-1 accuracy in percent with
two decimals (e.g. 91.23).  On bad input: one line on stderr, exit status 2.

ARCH lm is the byte-level language model (lmdata.py): the accuracy is its
next-token accuracy on the 10,000 held-out targets; --metric ppl prints their
perplexity instead (three decimals; lower is better), e.g. as calibrate's
--eval-cmd.  The classifiers have only acc.
"""

import json
import math
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def fail(msg):
    sys.stderr.write("eval.py: error: %s\n" % msg)
    sys.exit(2)


def load_weights(path):
    import st
    if path.endswith(".index.json"):
        try:
            with open(path) as f:
                wm = json.load(f)["weight_map"]
        except OSError as e:
            raise st.SafetensorsError("%s: cannot read: %s" % (path, e.strerror))
        except (ValueError, KeyError, TypeError) as e:
            raise st.SafetensorsError("%s: bad index file (%s)" % (path, e))
        tensors, dtypes = {}, {}
        base = os.path.dirname(path)
        for shard in sorted(set(wm.values())):
            t, _, d = st.load_with_dtypes(os.path.join(base, shard))
            tensors.update(t)
            dtypes.update(d)
    else:
        tensors, _, dtypes = st.load_with_dtypes(path)
    return st.numpy_to_state_dict(tensors, dtypes)


def main(argv):
    metric = "acc"
    if len(argv) == 4 and argv[2] == "--metric":
        metric = argv.pop()
        argv.pop()
    if len(argv) != 2:
        fail("usage: eval.py ARCH FILE [--metric acc|ppl] "
             "(ARCH: mlp cnn vit lstm lm)")
    arch, path = argv
    if metric not in ("acc", "ppl") or (metric == "ppl" and arch != "lm"):
        fail("--metric %s: expected acc, or ppl with arch lm" % metric)
    warnings.simplefilter("ignore")
    import torch
    import data
    import models
    import st
    data.setup_torch()
    if arch not in models.ARCHS:
        fail("unknown arch %r (expected one of: %s)"
             % (arch, " ".join(models.ARCHS)))
    if not os.path.isfile(path):
        fail("%s: no such file" % path)
    try:
        sd = load_weights(path)
    except st.SafetensorsError as e:
        fail(str(e))
    model = models.build(arch)
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    extra = [k for k in sd if k not in own]
    if missing or extra:
        fail("%s does not match arch %s: %d missing tensor(s)%s, "
             "%d unexpected tensor(s)%s"
             % (path, arch, len(missing),
                " (e.g. %s)" % missing[0] if missing else "",
                len(extra), " (e.g. %s)" % extra[0] if extra else ""))
    for k, v in own.items():
        if tuple(sd[k].shape) != tuple(v.shape):
            fail("%s: tensor %s has shape %s, arch %s needs %s"
                 % (path, k, list(sd[k].shape), arch, list(v.shape)))
        if sd[k].is_floating_point() != v.is_floating_point():
            fail("%s: tensor %s has dtype %s, arch %s needs %s"
                 % (path, k, sd[k].dtype, arch, v.dtype))
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        fail("%s: %s" % (path, str(e).replace("\n", " ").strip()))
    if arch == "lm":
        import lmdata
        try:
            _, held = lmdata.load()
        except (lmdata.DataError, OSError) as e:
            fail(str(e))
        c, n, nll = lmdata.evaluate(model, lmdata.eval_windows(held))
        if metric == "ppl":
            print("%.3f" % math.exp(nll / n))
            return
    else:
        try:
            x, y = data.load("test")
        except (data.DataError, OSError) as e:
            fail(str(e))
        c, n = data.evaluate(model, x, y, batch=1000)
    print("%d.%02d" % divmod(c, 100) if n == 10000 else "%.2f" % (c * 100 / n))


if __name__ == "__main__":
    main(sys.argv[1:])
