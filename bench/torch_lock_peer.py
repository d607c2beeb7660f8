#!/usr/bin/python3
"""The "ordinary PyTorch way" peer of `corelockerctl lock`.

usage: torch_lock_peer.py MODEL OUT KEY --ratio A [--unit element|neuron|channel]
                          [--scope layer|global] [--threads 2] [--fsync]

MODEL is a safetensors file, or a sharded model's *.index.json; then OUT is a
directory that receives the index and the shards, as corelockerctl does.

It does the job the way a PyTorch user would, without the `safetensors`
package (not installed here): read the whole file, wrap each tensor with
torch.frombuffer, and per eligible tensor
  element: score |w| over a float tensor with ndim >= 2,
  neuron:  score the l1-norm of each row (dim 0; summed in float64) of a
           float tensor with ndim >= 2; the sibling bias entry goes too,
  channel: score |gamma| of each batch-norm group <p>.weight/.bias/
           .running_mean/.running_var; gamma and beta are zeroed,
take torch.topk with k = floor(ratio * n + 0.5) (per tensor, or with --scope
global over every eligible element of the model at once: element unit only,
one torch.cat of all |w|), save the original values and
their indices to KEY with torch.save, zero them, and write the modified
model to OUT as safetensors (same header, so the layout matches the input).

Differences from corelockerctl, all in the peer's favour: no NaN/Inf
filtering, ties broken however torch.topk likes, no SHA-256 of either
model, and no fsync unless --fsync is given.
"""
import argparse
import json
import math
import os
import struct
import sys

import torch

DT = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
      "U8": torch.uint8, "BOOL": torch.bool}
FLOAT = {"F64", "F32", "F16", "BF16"}


def load(path):
    """Full read of a safetensors file: (header bytes, {name: (meta, tensor view)})."""
    buf = bytearray(os.path.getsize(path))
    with open(path, "rb", buffering=0) as f:
        if f.readinto(buf) != len(buf):
            sys.exit("%s: short read" % path)
    (hlen,) = struct.unpack_from("<Q", buf, 0)
    hbytes = bytes(buf[8:8 + hlen])
    hdr = json.loads(hbytes)
    hdr.pop("__metadata__", None)
    base, out = 8 + hlen, {}
    for name, meta in hdr.items():
        b, e = meta["data_offsets"]
        dt = DT[meta["dtype"]]
        n = math.prod(meta["shape"])
        t = (torch.frombuffer(buf, dtype=dt, count=n, offset=base + b) if n
             else torch.empty(0, dtype=dt))
        out[name] = (meta, t.reshape(meta["shape"]))
    return buf, hbytes, out


def count(ratio, n):
    return int(math.floor(ratio * n + 0.5))


def sibling(name):
    pre, _, comp = name.rpartition(".")
    pre = pre + "." if pre else ""
    if comp == "weight":
        return pre + "bias"
    if comp.endswith("_weight") and len(comp) > 7:
        return pre + comp[:-7] + "_bias"
    if comp.startswith("weight_"):
        return pre + "bias_" + comp[7:]
    return None


def lock(tensors, ratio, unit):
    key = {}
    claimed = set()
    order = sorted(tensors, key=lambda k: tensors[k][0]["order"])
    for name in order:
        meta, w = tensors[name]
        if meta["dtype"] not in FLOAT or w.numel() == 0 or name in claimed:
            continue
        if unit == "channel":
            if w.dim() != 1 or not name.endswith(".weight"):
                continue
            p = name[:-len(".weight")]
            grp = [p + s for s in (".bias", ".running_mean", ".running_var")]
            if not all(g in tensors and tensors[g][1].dim() == 1 and
                       tensors[g][1].shape[0] == w.shape[0] for g in grp):
                continue
            bias = tensors[grp[0]][1]
            claimed.add(grp[0])
            k = count(ratio, w.shape[0])
            idx = torch.topk(w.abs(), k).indices
            key[name] = {"unit": "channel", "indices": idx, "weight": w[idx].clone(),
                         "bias": bias[idx].clone()}
            w[idx] = 0
            bias[idx] = 0
        elif w.dim() >= 2:
            if unit == "element":
                flat = w.view(-1)
                k = count(ratio, flat.numel())
                v, idx = torch.topk(flat.abs(), k)
                key[name] = {"unit": "element", "indices": idx, "values": flat[idx].clone()}
                flat[idx] = 0
            else:
                rows = w.view(w.shape[0], -1)
                k = count(ratio, rows.shape[0])
                score = rows.abs().sum(dim=1, dtype=torch.float64)
                idx = torch.topk(score, k).indices
                entry = {"unit": "neuron", "indices": idx, "rows": rows[idx].clone()}
                s = sibling(name)
                if s and s in tensors and tensors[s][0]["dtype"] in FLOAT and \
                        tensors[s][1].dim() == 1 and tensors[s][1].shape[0] == w.shape[0]:
                    b = tensors[s][1]
                    entry["bias_name"], entry["bias"] = s, b[idx].clone()
                    claimed.add(s)
                    b[idx] = 0
                key[name] = entry
                rows[idx] = 0
    return key


def lock_global(tensors, ratio):
    """Element units ranked over the whole model: one topk over all |w|."""
    names = [n for n in sorted(tensors, key=lambda k: tensors[k][0]["order"])
             if tensors[n][0]["dtype"] in FLOAT and tensors[n][1].dim() >= 2 and tensors[n][1].numel()]
    flat = [tensors[n][1].view(-1) for n in names]
    allabs = torch.cat([f.abs() for f in flat])
    _, idx = torch.topk(allabs, count(ratio, allabs.numel()))
    del allabs
    starts = torch.tensor([0] + [f.numel() for f in flat]).cumsum(0)
    which = torch.searchsorted(starts, idx, right=True) - 1
    key = {}
    for i, n in enumerate(names):
        sel = idx[which == i] - starts[i]
        if sel.numel():
            key[n] = {"unit": "element", "indices": sel, "values": flat[i][sel].clone()}
            flat[i][sel] = 0
    return key


def save(path, hbytes, tensors, do_fsync):
    """Write a safetensors file: length, the header, each tensor's bytes in offset order."""
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for name in sorted(tensors, key=lambda k: tensors[k][0]["data_offsets"][0]):
            t = tensors[name][1]
            if t.numel():
                # bfloat16 has no numpy dtype: write its bits through a same-size view.
                v = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
                f.write(memoryview(v.contiguous().numpy()).cast("B"))
        if do_fsync:
            f.flush()
            os.fsync(f.fileno())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("key")
    ap.add_argument("--ratio", type=float, required=True)
    ap.add_argument("--unit", default="element", choices=["element", "neuron", "channel"])
    ap.add_argument("--scope", default="layer", choices=["layer", "global"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fsync", action="store_true", help="fsync OUT and KEY like corelockerctl")
    a = ap.parse_args()
    if not 0 < a.ratio <= 0.5:
        sys.exit("--ratio must lie in (0, 0.5]")
    torch.set_num_threads(a.threads)

    if a.scope == "global" and a.unit != "element":
        sys.exit("--scope global: element unit only")
    files = [(a.model, a.out)]
    if a.model.endswith(".json"):  # sharded: the index names the shards
        with open(a.model) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        src = os.path.dirname(a.model)
        os.makedirs(a.out, exist_ok=True)
        with open(a.model, "rb") as f, open(os.path.join(a.out, os.path.basename(a.model)), "wb") as g:
            g.write(f.read())
        files = [(os.path.join(src, s), os.path.join(a.out, s)) for s in shards]
    tensors, loaded = {}, []
    for i, (path, _) in enumerate(files):
        buf, hbytes, ts = load(path)
        for name, (meta, t) in ts.items():
            meta["order"] = (i, meta["data_offsets"][0])
            tensors[name] = (meta, t)
        loaded.append((hbytes, ts))
    key = lock_global(tensors, a.ratio) if a.scope == "global" else lock(tensors, a.ratio, a.unit)
    torch.save({"ratio": a.ratio, "unit": a.unit, "scope": a.scope, "tensors": key}, a.key)
    if a.fsync:
        fd = os.open(a.key, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    for (hbytes, ts), (_, out) in zip(loaded, files):
        save(out, hbytes, ts, a.fsync)
    n = sum(e["indices"].numel() for e in key.values())
    print("locked %d %s units in %d tensors; key %d bytes"
          % (n, a.unit, len(key), os.path.getsize(a.key)), file=sys.stderr)


if __name__ == "__main__":
    main()
