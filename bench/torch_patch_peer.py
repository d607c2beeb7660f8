#!/usr/bin/python3
"""The "ordinary PyTorch way" peer of `corelocker-agent unlock` (full tier).

usage: torch_patch_peer.py LOCKED OUT KEY [--threads 2] [--fsync]

LOCKED and KEY come from bench/torch_lock_peer.py (element or neuron unit,
layer scope): the peer reads the whole locked file into memory (its load()),
puts every saved value back with index_put_, and writes OUT as safetensors
(its save()).  Unlike the agent it verifies no signature and no SHA-256, and
fsyncs only with --fsync.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_lock_peer import load, save  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("locked")
    ap.add_argument("out")
    ap.add_argument("key")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fsync", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    buf, hbytes, tensors = load(a.locked)
    key = torch.load(a.key)
    n = 0
    for name, e in key["tensors"].items():
        w = tensors[name][1]
        idx = e["indices"]
        if e["unit"] == "element":
            w.view(-1).index_put_((idx,), e["values"])
        elif e["unit"] == "neuron":
            w.view(w.shape[0], -1).index_put_((idx,), e["rows"])
            if "bias_name" in e:
                tensors[e["bias_name"]][1].index_put_((idx,), e["bias"])
        else:
            w.index_put_((idx,), e["weight"])
            tensors[name[:-len(".weight")] + ".bias"][1].index_put_((idx,), e["bias"])
        n += idx.numel()
    save(a.out, hbytes, tensors, a.fsync)
    print("restored %d units in %d tensors" % (n, len(key["tensors"])), file=sys.stderr)


if __name__ == "__main__":
    main()
