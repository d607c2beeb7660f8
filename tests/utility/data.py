"""Fashion-MNIST from Debian's dataset-fashion-mnist (gzip idx files).

load(split) returns (x, y): x float32 tensor (N, 1, 28, 28) normalised as
(pixel/255 - MEAN) / STD with fixed constants (the train-set statistics), so
train and eval see the same normalisation; y int64 tensor (N,).
The directory is $FASHION_MNIST_DIR if set, else found under /usr/share or
from `dpkg -L dataset-fashion-mnist`.
"""

import glob
import gzip
import os
import struct
import subprocess

import numpy as np

MEAN = 0.2860   # mean of the 60k training pixels / 255
STD = 0.3530    # their standard deviation

# Torch intra-op threads for training and evaluation.  One thread: on this
# 2-core machine shared with compiles, OpenMP with 2 threads was 2-7x slower
# under load, and a fixed count keeps train.py's and eval.py's numbers equal.
THREADS = 1

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}


class DataError(RuntimeError):
    pass


def find_dir():
    want = FILES["test"][0]
    env = os.environ.get("FASHION_MNIST_DIR")
    if env:
        if os.path.isfile(os.path.join(env, want)):
            return env
        raise DataError("FASHION_MNIST_DIR=%s has no %s" % (env, want))
    for d in ["/usr/share/datasets/fashion-mnist"]:
        if os.path.isfile(os.path.join(d, want)):
            return d
    hits = glob.glob("/usr/share/**/" + want, recursive=True)
    if not hits:
        try:
            out = subprocess.run(["dpkg", "-L", "dataset-fashion-mnist"],
                                 capture_output=True, text=True).stdout
            hits = [l for l in out.splitlines() if l.endswith("/" + want)]
        except OSError:
            pass
    if not hits:
        raise DataError("Fashion-MNIST not found: install dataset-fashion-mnist "
                        "or set FASHION_MNIST_DIR")
    return os.path.dirname(sorted(hits)[0])


def _read_idx(path, ndim):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    if magic != 0x0800 + ndim:
        raise DataError("%s: bad idx magic 0x%08x" % (path, magic))
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    off = 4 + 4 * ndim
    n = int(np.prod(dims))
    if len(raw) - off != n:
        raise DataError("%s: expected %d bytes of data, got %d"
                        % (path, n, len(raw) - off))
    return np.frombuffer(raw, dtype=np.uint8, offset=off).reshape(dims)


def load_numpy(split):
    """-> (uint8 images (N, 28, 28), uint8 labels (N,))"""
    img_name, lab_name, n = FILES[split]
    d = find_dir()
    x = _read_idx(os.path.join(d, img_name), 3)
    y = _read_idx(os.path.join(d, lab_name), 1)
    if x.shape != (n, 28, 28) or y.shape != (n,):
        raise DataError("unexpected %s shapes %s %s" % (split, x.shape, y.shape))
    return x, y


def load(split):
    """-> (float32 tensor (N, 1, 28, 28) normalised, int64 tensor (N,))"""
    import torch
    x, y = load_numpy(split)
    xf = (x.astype(np.float32) * np.float32(1 / 255.0) - np.float32(MEAN)) \
        / np.float32(STD)
    return (torch.from_numpy(xf.reshape(-1, 1, 28, 28)),
            torch.from_numpy(y.astype(np.int64)))


def setup_torch():
    import torch
    torch.set_num_threads(THREADS)
    return torch


def evaluate(model, x, y, batch=1000):
    """Top-1 accuracy of model on (x, y), eval mode, no grad.

    Returns (correct, total); percent is correct * 100 / total.
    """
    import torch
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            out = model(x[i:i + batch])
            correct += int((out.argmax(1) == y[i:i + batch]).sum())
    return correct, int(x.shape[0])
