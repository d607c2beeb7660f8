#!/usr/bin/python3
"""Write the seed corpora of the fuzz targets.

    /usr/bin/python3 tests/fuzz/seeds.py [--ctl PATH]

corpus/safetensors/seed_*   valid small models: every dtype, metadata,
                            zero-size and scalar tensors, odd names, header
                            order unlike offset order, NaN/Inf, locked files
corpus/safetensors/hostile_* the hostile models of tests/hostile/files
corpus/clkey/seed_*         real keys made by corelockerctl: every unit x
                            scope and random selection (bn_cnn), two per other
                            model, a sharded model
corpus/clkey/seed_v2_*      the bn_cnn and sharded keys again in .clkey
                            version 2 (4-byte unit indexes), which the parser
                            still reads (gen.key_v2 rewrites them)
corpus/clkey/hostile_*      the hostile keys of tests/hostile/files

While it locks, it also checks that every lock unlocks back to the original,
byte for byte, and that tier 0 of an alpha lock equals the original.
Files the fuzzer added (named by their SHA-1) are left alone, except that
a key stamped with an older .clkey version whose layout is one still read
(RESTAMP) is re-stamped with that version and renamed after its new SHA-1,
so that it still reaches the parser beyond the version check.  (The
fuzzer's keys of version 2 stay as they are: version 2 is still read.)
Only the standard library is needed.
"""

import argparse
import glob
import hashlib
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import gen  # noqa: E402  (the hostile generator's safetensors helpers)

ST_DIR = os.path.join(HERE, "corpus", "safetensors")
KEY_DIR = os.path.join(HERE, "corpus", "clkey")


def raw_model(entries, meta=None, order=None, pad=True):
    """entries: [(name, dtype, shape, data bytes)], tiled in list order;
    ORDER lists the names in header order (default: the same)."""
    h, data = {}, b""
    if meta is not None:
        h["__metadata__"] = meta
    spans = {}
    for name, dtype, shape, b in entries:
        spans[name] = gen.entry(dtype, shape, len(data), len(data) + len(b))
        data += b
    for name in order or [e[0] for e in entries]:
        h[name] = spans[name]
    return gen.st_file(gen.header_bytes(h, pad=pad), data)


def t(name, dtype, shape, seed=1):
    return (name, dtype, shape, gen.tensor_bytes(dtype, shape, seed))


def models():
    m = {}
    all_dtypes = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8",
                  "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0", "C64"]
    m["dtypes"] = raw_model([t("x.%s" % d.lower(), d, [2, 3], i + 1) for i, d in enumerate(all_dtypes)],
                            meta={"format": "pt", "note": "every dtype"})
    m["zero_size"] = raw_model([t("a.weight", "F32", [0, 4]), t("b", "F32", [0]), t("w.weight", "F32", [3, 3]),
                                t("c.weight", "F16", [4, 0]), t("s", "F32", []), t("huge_empty", "F64", [0, 1 << 40]),
                                t("z_end", "BF16", [0, 2])])
    m["scalar_only"] = raw_model([t("s", "F32", []), t("n", "I64", [])])
    m["empty"] = gen.st_file(b"{}")
    m["empty_padded"] = gen.st_file(b"{}      ")
    m["metadata_only"] = gen.st_file(gen.header_bytes({"__metadata__": {"format": "pt", "": ""}}))
    m["bn_cnn"] = raw_model([t("conv.weight", "F32", [4, 2, 1, 1], 3), t("conv.bias", "F32", [4], 4),
                             t("bn.weight", "F32", [4], 5), t("bn.bias", "F32", [4], 6),
                             t("bn.running_mean", "F32", [4], 7), t("bn.running_var", "F32", [4], 8),
                             t("bn.num_batches_tracked", "I64", []), t("fc.weight", "F32", [3, 4], 9),
                             t("fc.bias", "F32", [3], 10)], meta={"format": "pt"})
    m["siblings"] = raw_model([t("attn.in_proj_weight", "F32", [6, 2], 2), t("attn.in_proj_bias", "F32", [6], 3),
                               t("lstm.weight_ih_l0", "F16", [8, 2], 4), t("lstm.bias_ih_l0", "F16", [8], 5),
                               t("cls_token", "F32", [1, 1, 4], 6), t("pos_embed", "BF16", [1, 3, 2], 7),
                               t("head.weight", "F64", [2, 4], 8), t("head.bias", "F32", [2], 9)])
    nan = struct.pack("<6f", 1.0, float("nan"), -2.0, float("inf"), 0.5, -float("inf"))
    m["nonfinite"] = raw_model([("w.weight", "F32", [2, 3], nan), ("w.bias", "F32", [2], struct.pack("<2f", 1, 2)),
                                ("h.weight", "F16", [2, 2], struct.pack("<4e", float("nan"), 1, 2, 3))])
    m["reordered"] = raw_model([t("first.weight", "F32", [2, 2], 1), t("second.weight", "F32", [3, 2], 2),
                                t("third", "U8", [3], 3)], order=["third", "second.weight", "first.weight"])
    m["odd_names"] = raw_model([t('we"ird[{name', "F32", [2, 2], 1), t("\u00fcn\u00efcode.weight", "F16", [2, 2], 2),
                                t("back\\slash", "F32", [2], 3), t("", "F32", [2, 1], 4), t("sp ace", "U8", [1], 5)],
                               pad=False)
    m["unpadded"] = raw_model([t("w", "F32", [3], 1)], pad=False)
    m["deep_string"] = raw_model([t("[[[[{{{{", "F32", [2, 2], 1)], meta={"k": "]]]]}}}}\\\"[["})
    m["many_dims"] = raw_model([t("d16", "F32", [1] * 15 + [2], 1), t("d2", "F32", [2, 2], 2)])
    return m


LOCKS = [("element", "layer", []), ("element", "global", []), ("neuron", "layer", []), ("neuron", "global", []),
         ("channel", "layer", []), ("channel", "global", []), ("element", "global-norm", []),
         ("element", "layer", ["--select", "random", "--seed", "7"])]
# Every lock is checked; the corpus keeps every key of FULL_KEYS, and two
# (element/layer, neuron/global) of the other models, to stay small.
FULL_KEYS = ("bn_cnn",)


def run(args, ok=True):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if ok and p.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(args), p.stderr.decode()))
    return p


def lock_all(ctl, name, path, tmp, problems):
    """Lock PATH every way that applies; return {seed name: key bytes} and locked files."""
    keys, locked = {}, {}
    for unit, scope, extra in LOCKS:
        tag = "%s_%s_%s%s" % (name, unit, scope, "_random" if extra else "")
        out, key = os.path.join(tmp, tag + ".locked"), os.path.join(tmp, tag + ".clkey")
        p = run([ctl, "lock", path, "-o", out, "-k", key, "--ratio", "0.3", "--unit", unit, "--scope", scope] + extra,
                ok=False)
        if p.returncode != 0:
            msg = p.stderr.decode().strip()
            if os.path.exists(out) or os.path.exists(key):
                problems.append("%s: lock failed (%s) but left an output" % (tag, msg))
            continue
        back = os.path.join(tmp, tag + ".back")
        run([ctl, "unlock", out, "-k", key, "-o", back])
        if not same(back, path):
            problems.append("%s: unlock does not give the original back" % tag)
        with open(key, "rb") as f:
            keys[tag] = f.read()
        check_v2(ctl, tag, out, key, keys[tag], tmp, problems)
        if not os.path.isdir(out):
            with open(out, "rb") as f:
                locked[tag] = f.read()
    return keys, locked


def check_v2(ctl, tag, locked, key, blob, tmp, problems):
    """The key rewritten in .clkey version 2 must cut the same tiers."""
    v2 = os.path.join(tmp, tag + ".v2.clkey")
    write(tmp, tag + ".v2.clkey", gen.key_v2(blob))
    for beta in ("0", "0.15"):
        a, b = os.path.join(tmp, tag + ".t3"), os.path.join(tmp, tag + ".t2")
        run([ctl, "unlock", locked, "-k", key, "--tier-ratio", beta, "-o", a])
        run([ctl, "unlock", locked, "-k", v2, "--tier-ratio", beta, "-o", b])
        if not same(a, b):
            problems.append("%s: the version 2 key cuts tier %s differently" % (tag, beta))
        for p in (a, b):
            if os.path.isdir(p):
                shutil.rmtree(p)
            else:
                os.remove(p)


def same(a, b):
    if os.path.isdir(a):
        return all(same(os.path.join(a, f), os.path.join(b, f)) for f in os.listdir(a)) and \
            sorted(os.listdir(a)) == sorted(os.listdir(b))
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()


def write(d, name, content):
    with open(os.path.join(d, name), "wb") as f:
        f.write(content)


# Older .clkey versions whose layout is one still read: {old: new}.
# Version 1 keys written after commit 3626374 already had the version-2
# layout (no group number in global records); the fuzzer found its keys then.
RESTAMP = {1: 2}


def restamp_fuzzer_keys():
    """Re-stamp the fuzzer's keys (SHA-1 names) of a RESTAMP version; the
    trailer is recomputed when it was valid.  Returns how many were."""
    n = 0
    for f in sorted(os.listdir(KEY_DIR)):
        path = os.path.join(KEY_DIR, f)
        if len(f) != 40 or any(c not in "0123456789abcdef" for c in f):
            continue
        with open(path, "rb") as fh:
            b = fh.read()
        if len(b) < 12 or b[:8] != gen.MAGIC or struct.unpack("<I", b[8:12])[0] not in RESTAMP:
            continue
        new = b[:8] + struct.pack("<I", RESTAMP[struct.unpack("<I", b[8:12])[0]]) + b[12:]
        if len(b) >= 32 and hashlib.sha256(b[:-32]).digest() == b[-32:]:
            new = new[:-32] + hashlib.sha256(new[:-32]).digest()
        os.remove(path)
        write(KEY_DIR, hashlib.sha1(new).hexdigest(), new)
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ctl", default=os.environ.get("CTL") or os.path.join(HERE, "..", "..", "ctl", "corelockerctl"))
    args = ap.parse_args()
    for d in (ST_DIR, KEY_DIR):
        os.makedirs(d, exist_ok=True)
        for f in glob.glob(os.path.join(d, "seed_*")) + glob.glob(os.path.join(d, "hostile_*")):
            os.remove(f)

    problems = []
    tmp = tempfile.mkdtemp(prefix="clseeds.")
    try:
        ms = models()
        for name, content in ms.items():
            write(ST_DIR, "seed_%s.safetensors" % name, content)
            path = os.path.join(tmp, name + ".safetensors")
            write(tmp, name + ".safetensors", content)
            keys, locked = lock_all(args.ctl, name, path, tmp, problems)
            for tag, k in keys.items():
                if name in FULL_KEYS or tag.endswith(("_element_layer", "_neuron_global")):
                    write(KEY_DIR, "seed_%s.clkey" % tag, k)
                if name in FULL_KEYS:
                    write(KEY_DIR, "seed_v2_%s.clkey" % tag, gen.key_v2(k))
            # one locked file per model is enough: the header is the original's
            for tag, l in list(locked.items())[:1]:
                write(ST_DIR, "seed_%s.locked.safetensors" % tag, l)
        # (A ratio so small that nothing is extracted used to give keys
        # without groups; corelockerctl now refuses such a lock, and checks
        # it here: it must fail and leave nothing behind.)
        for scope in ("layer", "global"):
            key, out = os.path.join(tmp, "none.clkey"), os.path.join(tmp, "none.locked")
            p = run([args.ctl, "lock", os.path.join(tmp, "bn_cnn.safetensors"), "-o", out, "-k", key,
                     "--ratio", "0.001", "--scope", scope], ok=False)
            if p.returncode == 0 or os.path.exists(key) or os.path.exists(out):
                problems.append("a lock extracting no unit (scope %s) succeeded or left an output" % scope)
        # a sharded model, locked both scopes
        sd = os.path.join(tmp, "sharded")
        os.makedirs(sd)
        h1, d1 = gen.model([("a.weight", "F32", [4, 3]), ("a.bias", "F32", [4])])
        h2, d2 = gen.model([("b.weight", "F16", [2, 4]), ("b.bias", "F16", [2])])
        write(sd, "m-1.safetensors", gen.st_file(h1, d1))
        write(sd, "m-2.safetensors", gen.st_file(h2, d2))
        write(sd, "m.safetensors.index.json",
              b'{"metadata":{"total_size":%d},"weight_map":{"a.weight":"m-1.safetensors","a.bias":"m-1.safetensors",'
              b'"b.weight":"m-2.safetensors","b.bias":"m-2.safetensors"}}' % (len(d1) + len(d2)))
        for scope in ("layer", "global"):
            out, key = os.path.join(tmp, "sh_" + scope), os.path.join(tmp, "sh_%s.clkey" % scope)
            run([args.ctl, "lock", os.path.join(sd, "m.safetensors.index.json"), "-o", out, "-k", key,
                 "--ratio", "0.25", "--unit", "neuron", "--scope", scope])
            back = os.path.join(tmp, "sh_back_" + scope)
            run([args.ctl, "unlock", os.path.join(out, "m.safetensors.index.json"), "-k", key, "-o", back])
            if not same(back, sd):
                problems.append("sharded %s: unlock does not give the original back" % scope)
            with open(key, "rb") as f:
                blob = f.read()
            check_v2(args.ctl, "sh_" + scope, os.path.join(out, "m.safetensors.index.json"), key, blob, tmp,
                     problems)
            write(KEY_DIR, "seed_sharded_neuron_%s.clkey" % scope, blob)
            write(KEY_DIR, "seed_v2_sharded_neuron_%s.clkey" % scope, gen.key_v2(blob))
        for f in ("m-1.safetensors", "m-2.safetensors"):
            shutil.copy(os.path.join(sd, f), os.path.join(ST_DIR, "seed_shard_" + f))
    finally:
        shutil.rmtree(tmp)

    restamped = restamp_fuzzer_keys()
    if restamped:
        print("re-stamped %d fuzzer keys with .clkey version %d" % (restamped, RESTAMP[1]))

    hostile = os.path.join(HERE, "..", "hostile", "files")
    seen = set()
    for d in (ST_DIR, KEY_DIR):
        for f in os.listdir(d):
            with open(os.path.join(d, f), "rb") as fh:
                seen.add(fh.read())
    for root, dirs, files in os.walk(hostile):
        dirs.sort()
        for f in sorted(files):
            src = os.path.join(root, f)
            rel = os.path.relpath(src, hostile).replace(os.sep, "__")
            if rel.startswith("good"):
                continue
            dest = KEY_DIR if f.endswith(".clkey") else ST_DIR
            with open(src, "rb") as fh:
                content = fh.read()
            if f.endswith(".json") or content in seen:  # indexes; the same valid shard many times
                continue
            seen.add(content)
            shutil.copy(src, os.path.join(dest, "hostile_" + rel))
    for d in (ST_DIR, KEY_DIR):
        files = os.listdir(d)
        print("%s: %d files, %d bytes" % (os.path.relpath(d, HERE), len(files),
                                          sum(os.path.getsize(os.path.join(d, f)) for f in files)))
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
