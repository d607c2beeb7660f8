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
corpus/volume/seed_*        key volumes (full tier, tiers, upgrades, shards,
                            version 1, expiries, nonces) behind a flag byte
                            that makes the harness fit and re-sign them
                            (fuzz_volume.c), and a few re-signed as they are
corpus/volume/raw_*         the same volumes fitted and signed with the
                            harness's test key, as raw inputs that apply
                            accepts (written by replay_volume itself)
corpus/volume/hostile_*     malformed volumes, raw
corpus/index/seed_*         sharded indexes over fuzz_index.c's fixed shards
corpus/index/hostile_*      the hostile indexes of tests/hostile/files
corpus/time/seed_*          RFC 3339 times, good and bad (fuzz_time.c)

--only volume,index,time writes just those corpora (no corelockerctl
needed; volume needs --replay-volume, default tests/fuzz/replay_volume).

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
import json
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


def run(args, ok=True, env=None):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
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


VOL_DIR = os.path.join(HERE, "corpus", "volume")
IDX_DIR = os.path.join(HERE, "corpus", "index")
TIME_DIR = os.path.join(HERE, "corpus", "time")
FIT, SIGNED, RAW = 2, 1, 0  # fuzz_volume.c's modes (flag byte, low bits)
F_NONCE, F_FLIP, F_PEM, F_SHORT, F_NOBASE, F_TRUNC = 0x04, 0x08, 0x10, 0x20, 0x40, 0x80


def leb(v):
    """Unsigned LEB128."""
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7f | 0x80)
        v >>= 7
    return bytes(out + bytes([v]))


def heads_v3(entries):
    """Version 3 entries: LEB128 shard delta, gap (from the previous entry's
    end in the same shard, else from 0), length, the bytes."""
    out, shard, end = b"", 0, 0
    for s, o, b in entries:
        if s != shard:
            end = 0
        out += leb(s - shard) + leb(o - end) + leb(len(b)) + b
        shard, end = s, o + len(b)
    return out


def volume(header, entries, version=2, extra=b"", body=None):
    """A key volume (docs/formats.md) with a zero signature: the harness
    re-signs it.  ENTRIES: [(shard, offset, bytes)]; "entries" and "bytes"
    are set from them unless HEADER has them.  BODY: the entries' bytes as
    given, instead of encoding ENTRIES."""
    h = dict(header)
    h.setdefault("entries", len(entries))
    h.setdefault("bytes", sum(len(b) for _, _, b in entries))
    text = json.dumps(h, separators=(",", ":")).encode()
    if body is None and version == 3:
        body = heads_v3(entries)
    elif body is None:
        body = b"".join(struct.pack("<IQI", s, o, len(b)) + b for s, o, b in entries)
    return b"CLVOL\r\n\x1a" + struct.pack("<II", version, len(text)) + text + body + extra + bytes(64)


def vol_header(beta=0.004, tier="basic", shards=None, **kw):
    h = {"format": "clvol", "model": 1, "model_name": "fuzz", "model_version": "1", "unit": "element",
         "scope": "layer", "alpha": 0.01, "tier": tier, "beta": beta}
    h.update({k: v for k, v in kw.items() if k in ("from_tier", "from_beta", "unit", "scope", "alpha")})
    h["locked_sha256"] = "00" * 32
    if beta == 0:
        h["original_sha256"] = "11" * 32
    h["shards"] = shards or [{"file": "model.safetensors", "header_len": 64, "size": 512,
                              "locked_sha256": "00" * 32}]
    h["license"] = 7
    h["expires_at"] = kw.get("expires_at")
    h["nonce"] = kw.get("nonce", "fuzz-nonce")
    h["ts"] = "2026-11-27T12:00:00Z"
    return h


def volumes():
    e3 = [(0, 72, b"\x01\x02\x03\x04"), (0, 100, b"\xff" * 8), (0, 508, b"\x7f" * 4)]
    three = [{"file": "m-%d.safetensors" % i, "header_len": 32 * i, "size": 256 + 64 * i,
              "locked_sha256": "00" * 32} for i in (1, 2, 3)]
    three_orig = [dict(sh, original_sha256="22" * 32) for sh in three]
    e_sh = [(0, 40, b"ab"), (0, 42, b"cd"), (1, 80, b"\x00" * 16), (2, 104, b"z" * 200)]
    v = {
        "full": (FIT, volume(vol_header(beta=0, tier="full"), e3)),
        "tier": (FIT, volume(vol_header(), e3[:2])),
        "tier_nonce": (FIT | F_NONCE, volume(vol_header(), e3[:2])),
        "tier_pem": (FIT | F_PEM, volume(vol_header(), e3[1:])),
        "upgrade": (FIT, volume(vol_header(from_tier="trial", from_beta=0.008), e3[:1])),
        "upgrade_by_beta": (FIT, volume(vol_header(from_beta=0.008), e3[:2])),
        "upgrade_full": (FIT, volume(vol_header(beta=0, tier="full", from_tier="basic", from_beta=0.004), e3)),
        "sharded_full": (FIT, volume(vol_header(beta=0, tier="full", shards=three_orig), e_sh)),
        "sharded_full_no_originals": (FIT, volume(vol_header(beta=0, tier="full", shards=three), e_sh)),
        "sharded_tier": (FIT, volume(vol_header(shards=three, unit="neuron", scope="global"), e_sh)),
        "v1": (FIT, volume(vol_header(beta=0, tier="full"), e3, version=1)),
        "v3_full": (FIT, volume(vol_header(beta=0, tier="full"), e3, version=3)),
        "v3_tier_nonce": (FIT | F_NONCE, volume(vol_header(), e3[:2], version=3)),
        "v3_upgrade": (FIT, volume(vol_header(from_beta=0.008), e3[:2], version=3)),
        "v3_sharded_full": (FIT, volume(vol_header(beta=0, tier="full", shards=three_orig), e_sh, version=3)),
        "v3_sharded_skip": (FIT, volume(vol_header(shards=three), [e_sh[0], e_sh[3]], version=3)),
        "v3_no_entries": (FIT, volume(vol_header(), [], version=3)),
        "v3_signed_tier": (SIGNED, volume(vol_header(), e3, version=3)),
        "v3_short": (FIT | F_SHORT, volume(vol_header(shards=three), e_sh, version=3)),
        "expires_future": (FIT, volume(vol_header(expires_at="2030-01-01T00:00:00Z"), e3)),
        "expires_past": (FIT, volume(vol_header(expires_at="2020-01-01T00:00:00Z"), e3)),
        "no_entries": (FIT, volume(vol_header(unit="channel", scope="global-norm"), [])),
        "flip": (FIT | F_FLIP, volume(vol_header(beta=0, tier="full"), e3)),
        "short": (FIT | F_SHORT, volume(vol_header(shards=three), e_sh)),
        "signed_tier": (SIGNED, volume(vol_header(), e3)),
        "signed_upgrade": (SIGNED, volume(vol_header(from_tier="trial", from_beta=0.008), e3)),
        "signed_upgrade_full": (SIGNED, volume(vol_header(beta=0, tier="full", from_tier="basic",
                                                          from_beta=0.004), e3)),
        "no_base": (FIT | F_NOBASE, volume(vol_header(from_tier="trial", from_beta=0.008), e3[:1])),
        "truncated_shard": (FIT | F_TRUNC, volume(vol_header(), e3[:1])),
        "full_shard_original": (FIT, volume(vol_header(beta=0, tier="full", shards=[
            {"file": "model.safetensors", "header_len": 64, "size": 512, "locked_sha256": "00" * 32,
             "original_sha256": "22" * 32}]), e3)),
    }
    good = volume(vol_header(), e3)
    hostile = {
        "bad_magic": b"CLVOX" + good[5:],
        "version_4": good[:8] + struct.pack("<I", 4) + good[12:],
        "v2_read_as_v3": good[:8] + struct.pack("<I", 3) + good[12:],
        "v3_overlong_gap": volume(vol_header(), [(0, 72, b"ab")], 3, body=b"\x00\xc8\x00\x02ab"),
        "v3_overlong_len": volume(vol_header(), [(0, 72, b"ab")], 3, body=b"\x00\x48\x82\x00ab"),
        "v3_65_bit_gap": volume(vol_header(), [(0, 72, b"ab")], 3, body=b"\x00" + b"\xff" * 9 + b"\x02\x02ab"),
        "v3_no_shard": volume(vol_header(), [(1, 72, b"abcd")], 3),
        "v3_shard_delta_wraps": volume(dict(vol_header(shards=three), entries=2, bytes=3), [], 3,
                                       body=b"\x00\x28\x02ab" + leb(2**32 - 1) + b"\x00\x01z"),
        "v3_past_shard": volume(vol_header(), [(0, 510, b"abcd")], 3),
        "v3_gap_past_shard": volume(vol_header(), [(0, 72, b"ab")], 3, body=b"\x00" + leb(2**64 - 1) + b"\x02ab"),
        "v3_in_header": volume(vol_header(), [(0, 8, b"abcd")], 3),
        "v3_empty_entry": volume(dict(vol_header(), entries=2, bytes=2), [], 3, body=b"\x00\x48\x00\x00\x00\x02ab"),
        "v3_4gib_entry": volume(vol_header(), [(0, 72, b"ab")], 3, body=b"\x00\x48" + leb(2**32) + b"ab"),
        "v3_trailing": volume(vol_header(), e3, 3, extra=b"\0"),
        "v3_entries_lie": volume(dict(vol_header(), entries=1000), e3, 3),
        "v3_truncated": volume(dict(vol_header(), entries=3, bytes=16), [], 3, body=heads_v3(e3)[:-3]),
        "header_past_end": good[:12] + struct.pack("<I", len(good)) + good[16:],
        "trailing": volume(vol_header(), e3, extra=b"\0"),
        "overlap": volume(vol_header(), [(0, 72, b"abcd"), (0, 74, b"ef")]),
        "unsorted": volume(vol_header(), [(0, 100, b"ab"), (0, 72, b"cd")]),
        "past_shard": volume(vol_header(), [(0, 510, b"abcd")]),
        "in_header": volume(vol_header(), [(0, 8, b"abcd")]),
        "no_shard": volume(vol_header(), [(1, 72, b"abcd")]),
        "empty_entry": volume(vol_header(), [(0, 72, b"")]),
        "entries_lie": volume(dict(vol_header(), entries=1000), e3),
        "bytes_lie": volume(dict(vol_header(), bytes=1), e3),
        "beta_above_alpha": volume(vol_header(beta=0.02), e3),
        "from_beta_below_beta": volume(vol_header(from_tier="trial", from_beta=0.001), e3),
        "full_no_original": volume(dict(vol_header(beta=0), original_sha256=None), e3),
        "truncated": good[:40],
    }
    return v, hostile


def index_seeds():
    """Indexes over fuzz_index.c's fixed shards a, b, c (a.w again), e (no
    tensor), bad, l (a symlink to a)."""
    ab = {"a.w": "a.safetensors", "a.b": "a.safetensors", "b.w": "b.safetensors"}
    return {
        "ab": {"metadata": {"total_size": 20}, "weight_map": ab},
        "a": {"weight_map": {"a.w": "a.safetensors", "a.b": "a.safetensors"}},
        "via_link": {"weight_map": {"a.w": "l.safetensors", "a.b": "l.safetensors"}},
        "two_a": {"weight_map": dict(ab, **{"x": "c.safetensors"})},
        "with_empty": {"weight_map": dict(ab, **{"z": "e.safetensors"})},
        "bad_shard": {"weight_map": {"a.w": "bad.safetensors"}},
        "missing": {"weight_map": {"a.w": "nope.safetensors"}},
        "wrong_shard": {"weight_map": {"a.w": "b.safetensors", "a.b": "a.safetensors", "b.w": "a.safetensors"}},
        "unmapped": {"weight_map": {"a.w": "a.safetensors"}},
        "extra_name": {"weight_map": dict(ab, **{"ghost": "a.safetensors"})},
        "dotdot": {"weight_map": {"a.w": "../a.safetensors"}},
        "dot": {"weight_map": {"a.w": "."}},
        "number": {"weight_map": {"a.w": 1}},
    }


def time_seeds():
    good = ["2026-11-27T12:00:00Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-02-29T23:59:59Z",
            "2026-11-27T12:00:00.5Z", "2026-11-27T12:00:00+01:00", "2026-11-27T12:00:00-23:59",
            "2016-12-31T23:59:60Z", "2026-11-27t12:00:00z"]
    bad = ["9999-12-31T23:59:60-23:59", "9999-12-31T23:59:60Z", "9999-12-31T23:59:59-00:01", "1969-12-31T23:59:59Z",
           "1969-12-31T23:59:58Z", "1970-01-01T00:00:00+00:01", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
           "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T12:60:00Z",
           " 2026-11-27T12:00:00Z", "+2026-11-27T12:00:00Z", "2026-1-27T12:00:00Z", "2026-11-27T12:00:00",
           "2026-11-27T12:00:00Zjunk", "2026-11-27T12:00:00+24:00", "10000-01-01T00:00:00Z", "",
           "2026-11-27T12:00:00.Z", "2026-11-27T12: 0:00Z"]
    return good, bad


def write_trust(targets, replay_volume):
    for d, names in ((VOL_DIR, "volume"), (IDX_DIR, "index"), (TIME_DIR, "time")):
        if names not in targets:
            continue
        os.makedirs(d, exist_ok=True)
        for f in glob.glob(os.path.join(d, "seed_*")) + glob.glob(os.path.join(d, "hostile_*")) + \
                glob.glob(os.path.join(d, "raw_*")):
            os.remove(f)
    if "volume" in targets:
        v, hostile = volumes()
        for name, (flags, content) in v.items():
            write(VOL_DIR, "seed_" + name, bytes([flags]) + content)
        for name, content in hostile.items():
            write(VOL_DIR, "hostile_" + name, bytes([RAW]) + content)
        # raw inputs that apply accepts: the fitted, signed volumes of the seeds
        fitted = [os.path.join(VOL_DIR, "seed_" + n) for n, (f, _) in v.items() if f == FIT]
        run([replay_volume] + fitted, env=dict(os.environ, CL_FUZZ_VOLUME_EMIT=VOL_DIR))
    if "index" in targets:
        for name, doc in index_seeds().items():
            write(IDX_DIR, "seed_" + name, json.dumps(doc).encode())
        hostile = os.path.join(HERE, "..", "hostile", "files")
        for d in sorted(os.listdir(hostile)):
            src = os.path.join(hostile, d, "model.safetensors.index.json")
            if d.startswith("shard_") and os.path.exists(src):
                shutil.copy(src, os.path.join(IDX_DIR, "hostile_" + d))
    if "time" in targets:
        good, bad = time_seeds()
        for i, t in enumerate(good):
            write(TIME_DIR, "seed_good_%02d" % i, t.encode())
        for i, t in enumerate(bad):
            write(TIME_DIR, "seed_bad_%02d" % i, t.encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ctl", default=os.environ.get("CTL") or os.path.join(HERE, "..", "..", "ctl", "corelockerctl"))
    ap.add_argument("--only", help="comma-separated targets among volume,index,time")
    ap.add_argument("--replay-volume", default=os.path.join(HERE, "replay_volume"))
    args = ap.parse_args()
    if args.only:
        write_trust(args.only.split(","), args.replay_volume)
        return 0
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
