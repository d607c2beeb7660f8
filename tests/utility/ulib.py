"""Shared helpers for the utility sweep, plot and tests.

- Evaluator: imports torch once, loads the Fashion-MNIST test set once and
  evaluates any safetensors file of a reference architecture in-process, with
  exactly what eval.py does (st.load_with_dtypes, strict load_state_dict,
  data.evaluate in batches of 1000, data.THREADS torch threads).  So an
  in-process accuracy equals what `eval.py ARCH FILE` prints.
- ctl(): runs the real corelockerctl (the binary in $CTL, else
  ctl/corelockerctl of this tree) as a subprocess.
- lock(): one lock through the CLI, with the sizes the sweep records.

Run with /usr/bin/python3 (Debian's torch), never a pyenv python.
"""

import json
import math
import os
import re
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
MODELS = os.path.join(HERE, "models")
sys.path.insert(0, HERE)

ARCHS = ("mlp", "cnn", "vit", "lstm", "lm")
CHANCE = 10.0     # the classifiers' (10 classes); the LM's: chance("lm")
_LM_CHANCE = []


def chance(arch):
    """The random baseline in percent: 10 for the classifiers; for the LM
    the unigram one (always the most frequent training byte) on its held-out
    targets, computed from the corpus."""
    if arch != "lm":
        return CHANCE
    if not _LM_CHANCE:
        import lmdata
        train, held = lmdata.load()
        _LM_CHANCE.append(
            lmdata.unigram_correct(train, lmdata.eval_windows(held)) / 100.0)
    return _LM_CHANCE[0]


# glibc malloc returns torch's large (> 32 MiB) activation buffers to the
# kernel after every batch, and faults them back in on the next one: on the
# CNN that is ~600,000 page faults and half the run time per evaluation.
# Raising the mmap and trim thresholds keeps the memory; results are
# unchanged (same arithmetic).  It must be in the environment before the
# interpreter starts, hence the re-exec.
MALLOC_TUNABLES = ("glibc.malloc.mmap_threshold=4294967296:"
                   "glibc.malloc.trim_threshold=4294967296")


def ensure_fast_malloc():
    """Re-exec this script with MALLOC_TUNABLES unless already set (call it
    first thing in main, before torch is imported)."""
    if os.environ.get("GLIBC_TUNABLES") or os.environ.get("CL_NO_REEXEC"):
        return
    env = dict(os.environ, GLIBC_TUNABLES=MALLOC_TUNABLES, CL_NO_REEXEC="1")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


class CtlError(RuntimeError):
    pass


def ctl_path():
    p = os.environ.get("CTL") or os.path.join(TOP, "ctl", "corelockerctl")
    if not os.access(p, os.X_OK):
        raise CtlError("corelockerctl not found at %s (build with make, "
                       "or set CTL)" % p)
    return p


def ctl(*args, check=True):
    """Run corelockerctl ARGS -> CompletedProcess (text)."""
    r = subprocess.run([ctl_path()] + [str(a) for a in args],
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        raise CtlError("corelockerctl %s: exit %d: %s"
                       % (" ".join(str(a) for a in args), r.returncode,
                          r.stderr.strip()))
    return r


def model_path(arch):
    return os.path.join(MODELS, arch + ".safetensors")


def reference_accuracy(arch):
    with open(os.path.join(MODELS, "accuracy.json")) as f:
        return float(json.load(f)[arch])


def lock_args(unit, scope, ratio, select="top", seed=None, include=None,
              exclude=None, fill="zero"):
    a = ["--ratio", repr(float(ratio)), "--unit", unit, "--scope", scope]
    if fill != "zero":   # zero is the default: old commands stay as they were
        a += ["--fill", fill]
    if include:
        a += ["--include", include]
    if exclude:
        a += ["--exclude", exclude]
    if select != "top":
        a += ["--select", select, "--seed", str(seed)]
    return a


def lock(arch, out, key, unit, scope, ratio, select="top", seed=None,
         include=None, exclude=None, model=None, fill="zero"):
    """Lock with the CLI.  Returns None when the lock is refused because it
    would extract no unit, else a dict: units_total, units_locked,
    model_bytes, key_file_bytes, payload_bytes (the extracted units' original
    bytes, from `inspect --json`: key_bytes minus index bytes per group)."""
    src = model or model_path(arch)
    r = ctl("lock", src, "-o", out, "-k", key, "--json",
            *lock_args(unit, scope, ratio, select, seed, include, exclude,
                       fill), check=False)
    if r.returncode != 0:
        if "extracts no unit" in r.stderr:
            return None
        raise CtlError("lock %s %s: exit %d: %s"
                       % (arch, " ".join(lock_args(unit, scope, ratio, select,
                                                   seed, include, exclude,
                                                   fill)),
                          r.returncode, r.stderr.strip()))
    j = json.loads(r.stdout)
    info = inspect_key(key)
    payload = 0
    for g in info["groups"]:
        payload += g["key_bytes"] - g["extracted"] * g["index_bytes"]
    if info["extracted"] != j["units_locked"]:
        raise CtlError("inspect says %d extracted, lock says %d"
                       % (info["extracted"], j["units_locked"]))
    head = HEAD.get(arch)
    hu = hx = 0
    if head:
        for g in info["groups"]:
            if any(re.search(head, t) for t in g["tensors"]):
                hu += g["units"]
                hx += g["extracted"]
    return {
        "units_total": j["units_total"],
        "units_locked": j["units_locked"],
        "model_bytes": j["model_bytes"],
        "key_file_bytes": os.path.getsize(key),
        "payload_bytes": payload,
        "head_units": hu,          # units of the classifier head in the key
        "head_extracted": hx,      # (groups with none extracted not listed)
    }


def inspect_key(key):
    return json.loads(ctl("inspect", key, "--json").stdout)


class Evaluator:
    """Evaluate safetensors files of the reference architectures in-process.

    Raises (never skips) if torch or the dataset is missing."""

    def __init__(self):
        warnings.simplefilter("ignore")
        import torch   # noqa: F401  (fails loudly without Debian's torch)
        import data
        import models
        self.data = data
        self.models = models
        data.setup_torch()
        self.x, self.y = data.load("test")
        if self.x.shape[0] != 10000:
            raise RuntimeError("test set has %d images, want 10000"
                               % self.x.shape[0])
        self._nets = {}

    def lm_windows(self):
        """The LM's held-out evaluation windows, loaded on first use."""
        if not hasattr(self, "_lm"):
            import lmdata
            _, held = lmdata.load()
            self._lm = lmdata.eval_windows(held)
        return self._lm

    def net(self, arch):
        if arch not in self._nets:
            self._nets[arch] = self.models.build(arch)
        return self._nets[arch]

    def load(self, arch, path):
        import st
        tensors, _, dtypes = st.load_with_dtypes(path)
        sd = st.numpy_to_state_dict(tensors, dtypes)
        m = self.net(arch)
        m.load_state_dict(sd, strict=True)
        return m

    def correct(self, arch, path):
        """-> number of correct test images, or for lm of correct held-out
        next bytes (out of 10000 either way)."""
        m = self.load(arch, path)
        if arch == "lm":
            import lmdata
            return lmdata.evaluate(m, self.lm_windows())[0]
        c, n = self.data.evaluate(m, self.x, self.y, batch=1000)
        return c

    def perplexity(self, path):
        """The LM's held-out perplexity, as `eval.py lm FILE --metric ppl`
        prints it (three decimals)."""
        import lmdata
        c, n, nll = lmdata.evaluate(self.load("lm", path), self.lm_windows())
        return round(math.exp(nll / n), 3)

    def accuracy(self, arch, path):
        """Top-1 accuracy in percent, rounded as eval.py prints it."""
        return self.correct(arch, path) / 100.0


# Tensor-name patterns per architecture, for the data-free restrictions the
# sweep tries (docs/utility.md).  HEAD is the classifier head; FIRST the
# input layer (the first layer that sees the image); FRONT the input stage
# (the input layer and what directly follows it).
HEAD = {"mlp": r"^fc3\.", "cnn": r"^fc\.", "vit": r"^head\.", "lstm": r"^fc\.",
        "lm": r"^head\."}
FIRST = {"mlp": r"^fc1\.", "cnn": r"^conv1\.", "vit": r"^patch_embed\.",
         "lstm": r"^lstm\.weight_ih", "lm": r"^tok_embed\."}
FRONT = {"cnn": r"^(conv1|layer1)\.",
         "vit": r"^(cls_token|pos_embed|patch_embed\.)",
         "lm": r"^(tok_embed\.|pos_embed)"}


class Setting:
    """A named lock configuration for one architecture."""

    def __init__(self, name, unit, scope, include=None, exclude=None):
        self.name, self.unit, self.scope = name, unit, scope
        self.include, self.exclude = include, exclude

    def args(self, ratio, select="top", seed=None, fill="zero"):
        return lock_args(self.unit, self.scope, ratio, select, seed,
                         self.include, self.exclude, fill)

    def describe(self, ratio=None):
        s = "--unit %s --scope %s" % (self.unit, self.scope)
        if self.include:
            s += " --include '%s'" % self.include
        if self.exclude:
            s += " --exclude '%s'" % self.exclude
        if ratio is not None:
            s = "--ratio %g " % ratio + s
        return s

    def __repr__(self):
        return "Setting(%s: %s)" % (self.name, self.describe())


SETTING_NAMES = ("element-layer", "element-global", "neuron-layer",
                 "neuron-global", "channel-layer", "channel-global",
                 "element-global-nohead", "element-first",
                 "element-global-front", "element-global-nofirst")


def settings_for(arch):
    """The settings the sweep measures on ARCH, in SETTING_NAMES order."""
    out = []
    for name in SETTING_NAMES:
        unit, scope = name.split("-")[:2]
        inc = exc = None
        if unit == "channel" and arch != "cnn":
            continue          # batch-norm channels: only the CNN has them
        if name.endswith("-nohead"):
            exc = HEAD[arch]
        elif name.endswith("-nofirst"):
            exc = FIRST[arch]
        elif name.endswith("-first"):
            inc, scope = FIRST[arch], "layer"
        elif name.endswith("-front"):
            if arch not in FRONT:
                continue
            inc = FRONT[arch]
        out.append(Setting(name, unit, scope, inc, exc))
    return out


def setting(arch, name):
    for s in settings_for(arch):
        if s.name == name:
            return s
    raise KeyError("no setting %r for %s" % (name, arch))


def fmt_acc(correct):
    """eval.py's formatting of a 10k-image accuracy."""
    return "%d.%02d" % divmod(correct, 100)


# The documented near-chance setting per architecture (docs/utility.md),
# chosen from sweep.py's measurements: <= 12 % (the LM: its unigram
# baseline + 2 pp) with a small key, without extracting the whole
# classifier head, with a wide gap to the random baseline.  test_utility.py
# locks at `ratio`, requires every random seed to stay >= locked +
# `random_margin` pp (about 10-20 pp below the worst seed's gap measured in
# the sweep), and cuts tiers at COARSE_RATIOS below `ratio`.
RECOMMENDED = {
    "mlp": {"setting": "element-global", "ratio": 0.3, "random_margin": 60},
    "cnn": {"setting": "element-global-front", "ratio": 0.02,
            "random_margin": 60},
    "vit": {"setting": "element-first", "ratio": 0.45, "random_margin": 40},
    "lstm": {"setting": "element-first", "ratio": 0.45, "random_margin": 40},
    "lm": {"setting": "element-first", "ratio": 0.1, "random_margin": 35},
}

# The coarse sweep the tests cut tiers at (also sweep.py --coarse).
COARSE_RATIOS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]

# calibrate on the CNN: a setting whose tier curve passes 80, 50 and 30
# in small steps.
CALIBRATE = {"arch": "cnn", "setting": "element-global-nofirst", "ratio": 0.02}

# The settings drawn in docs/utility.png, per architecture.
PLOT_SETTINGS = {
    "mlp": ["element-global", "element-layer", "element-global-nohead",
            "element-first"],
    "cnn": ["element-global-front", "element-global", "element-layer",
            "element-first"],
    "vit": ["element-first", "element-global-front", "element-global",
            "element-layer"],
    "lstm": ["element-first", "element-global", "element-layer",
             "element-global-nohead"],
    "lm": ["element-first", "element-global", "element-layer",
           "neuron-global"],
}
