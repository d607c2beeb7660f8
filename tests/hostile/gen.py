#!/usr/bin/python3
"""Generate the hostile-file catalogue: malformed safetensors files, sharded
models and .clkey keys, plus catalogue.tsv (file, defect, expected message).

Run with Debian's /usr/bin/python3 (standard library only):

    /usr/bin/python3 tests/hostile/gen.py [--ctl PATH]

The generated files are committed; tests/hostile/run.sh only reads them, so
this script is needed only to reproduce or extend the catalogue.  It writes:

  files/good/model.safetensors   a valid model (run.sh locks it at test time)
  files/good/sharded/            a valid sharded model (idem)
  files/good/model.v2.clkey      the key of run.sh's control lock in .clkey
                                 version 2 (4-byte unit indexes), byte for
                                 byte what corelockerctl wrote before version
                                 3 (key_v2 rebuilds it from the version 3
                                 key); run.sh unlocks with it
  files/st_*.safetensors         malformed single-file models
  files/shard_*/                 malformed sharded models (the row names the
                                 *.safetensors.index.json)
  files/key_*.clkey              malformed keys; the ones with a valid
                                 checksum are edited from real keys that
                                 corelockerctl made from files/good/model
                                 (.clkey version KEY_VERSION: rerun this
                                 script whenever lib/ changes the key format)
  catalogue.tsv                  the cases the code rejects as it should
  known-bugs.tsv                 the cases it does not (yet): run.sh reports
                                 them as XFAIL, and as a failure once fixed,
                                 so that the row moves to catalogue.tsv (it
                                 may hold no row at all)

The expected substrings were taken from what lib/ really prints, after
checking that each one names the defect.  Keep every file small (< 4 KiB).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, "files")

# ---------------------------------------------------------------------------
# safetensors helpers

DSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
         "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
         "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "C64": 8}


def values(n, seed):
    """n deterministic, distinct-magnitude floats in [-1, 1]."""
    out = []
    x = seed * 7919 + 17
    for _ in range(n):
        x = (x * 1103515245 + 12345) % (1 << 31)
        out.append((x / float(1 << 30)) - 1.0)
    return out


def tensor_bytes(dtype, shape, seed):
    n = 1
    for d in shape:
        n *= d
    v = values(n, seed)
    if dtype == "F32":
        return struct.pack("<%df" % n, *v)
    if dtype == "F64":
        return struct.pack("<%dd" % n, *v)
    if dtype == "F16":
        return struct.pack("<%de" % n, *v)
    if dtype == "BF16":
        return b"".join(struct.pack("<f", x)[2:] for x in v)
    return bytes((i * 37 + seed) & 0xFF for i in range(n * DSIZE[dtype]))


def header_bytes(obj, pad=True):
    text = json.dumps(obj, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return text


def st_file(header, data=b"", hlen=None):
    """8-byte length, header (dict or raw bytes), data."""
    h = header if isinstance(header, bytes) else header_bytes(header)
    n = len(h) if hlen is None else hlen
    return struct.pack("<Q", n) + h + data


def model(tensors, meta=None):
    """A valid file from [(name, dtype, shape)]; returns (header dict, data)."""
    h = {}
    if meta is not None:
        h["__metadata__"] = meta
    data = b""
    for i, (name, dtype, shape) in enumerate(tensors):
        b = tensor_bytes(dtype, shape, i + 1)
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    return h, data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


GOOD_TENSORS = [
    ("fc1.weight", "F32", [6, 4]),
    ("fc1.bias", "F32", [6]),
    ("bn.weight", "F32", [6]),
    ("bn.bias", "F32", [6]),
    ("bn.running_mean", "F32", [6]),
    ("bn.running_var", "F32", [6]),
    ("fc2.weight", "F16", [3, 6]),
    ("fc2.bias", "F16", [3]),
    ("emb", "BF16", [2, 4]),
    ("head.weight", "F64", [2, 3]),
    ("steps", "I64", [1]),
]

# ---------------------------------------------------------------------------
# the catalogue

rows = []       # (relative path, description, expected substring)
known = []      # idem, for known-bug rows


def put(rel, content):
    path = os.path.join(FILES, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)
    return "files/" + rel


def case(name, desc, expect, content, bug=False):
    rel = put(name, content)
    (known if bug else rows).append((rel, desc, expect))


def st_cases():
    one = {"w": entry("F32", [2], 0, 8)}
    d8 = bytes(8)

    def st(name, desc, expect, content, bug=False):
        case("st_" + name + ".safetensors", desc, expect, content, bug)

    # --- the length prefix
    st("empty", "empty file (0 bytes)", "file too short for a safetensors header (0 bytes)", b"")
    st("short5", "5 bytes, shorter than the 8-byte length prefix",
       "file too short for a safetensors header (5 bytes)", b"\x02\x00\x00\x00\x00")
    st("len_only", "the 8-byte length prefix (0) and nothing else", "header is not a JSON object",
       struct.pack("<Q", 0))
    st("hlen_huge", "header length 256 MiB, above the 100 MiB bound",
       "header length 268435456 exceeds the 104857600-byte limit", st_file(b"{}", hlen=256 << 20))
    st("hlen_limit_plus1", "header length 100 MiB + 1, one past the bound",
       "header length 104857601 exceeds the 104857600-byte limit", st_file(b"{}", hlen=(100 << 20) + 1))
    st("hlen_u64max", "header length 2^64-1 (must not wrap around)",
       "header length 18446744073709551615 exceeds", st_file(b"{}", hlen=(1 << 64) - 1))
    st("hlen_past_eof", "header length 200, but only 10 bytes follow the prefix",
       "header length 200 runs past the end of the file (18 bytes)", st_file(b"{}        ", hlen=200))
    st("hlen_past_eof_by1", "header length one byte more than the rest of the file",
       "header length 9 runs past the end of the file (16 bytes)", st_file(b"{}      ", hlen=9))
    st("hlen_one", "header length 1: '{' alone", "header is not a JSON object", st_file(b"{"))
    # --- what the header is
    st("not_brace_array", "header is a JSON array, not an object", "header is not a JSON object",
       st_file(b"[]      "))
    st("not_brace_space", "header starts with a space before '{'", "header is not a JSON object",
       st_file(b" {}     "))
    st("not_brace_bom", "header starts with a UTF-8 byte-order mark", "header is not a JSON object",
       st_file(b"\xef\xbb\xbf{}   "))
    st("not_brace_string", "header is a JSON string", "header is not a JSON object", st_file(b'"abc"   '))
    st("utf8_invalid", "invalid UTF-8 byte 0xff inside a tensor name",
       "header: invalid JSON at byte 3: unable to decode byte 0xff", st_file(b'{"a\xff":{}}    '))
    st("utf8_overlong", "overlong UTF-8 encoding (0xc0 0xaf) in a name",
       "unable to decode byte 0xc0", st_file(b'{"\xc0\xaf":{}}    '))
    st("utf8_surrogate", "lone UTF-16 surrogate escape \\ud800 in a name",
       "invalid Unicode '\\uD800'", st_file(b'{"\\ud800":{}}   '))
    st("json_truncated", "header JSON cut off in the middle", "header: invalid JSON at byte",
       st_file(b'{"w":{"dtype":"F32","shape":[2],', d8))
    st("json_trailing_garbage", "garbage after the header object", "end of file expected near 'x'",
       st_file(b'{} x    '))
    st("json_nul_padding", "header padded with NUL bytes instead of spaces",
       "header: invalid JSON at byte 2: a raw NUL byte", st_file(b"{}\0\0\0\0\0\0"))
    st("json_raw_nul_after_number", "a raw NUL byte right after a number in a shape",
       "header: invalid JSON at byte 31: a raw NUL byte",
       st_file(b'{"w":{"dtype":"F32","shape":[2]\0,"data_offsets":[0,8]}}', d8))
    st("json_raw_nul_in_name", "a raw NUL byte inside a tensor name",
       "header: invalid JSON at byte 3: a raw NUL byte",
       st_file(b'{"a\0b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', d8))
    st("json_raw_newline", "raw newline inside a name string", "unexpected newline",
       st_file(b'{"a\nb":{}}      '))
    st("json_too_deep", "JSON nested 4 levels (a valid header needs 3)",
       "header: JSON nested deeper than 3 levels",
       st_file(header_bytes({"w": {"dtype": "F32", "shape": [[2]], "data_offsets": [0, 8]}}), d8))
    st("json_very_deep", "JSON nested 1000 levels", "JSON nested deeper than 3 levels",
       st_file(b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}"))
    st("json_int_too_big", "integer above int64 in a shape",
       "header: invalid JSON at byte 49: too big integer",
       st_file(b'{"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}}', d8))
    st("nul_in_name", "\\u0000 (NUL) in a tensor name", "NUL byte in object key not supported",
       st_file(b'{"a\\u0000b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', d8))
    st("duplicate_name", "the same tensor name twice", "duplicate object key near '\"w\"'",
       st_file(b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
               b'"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', bytes(16)))
    # --- tensor entries
    st("entry_not_object", "a tensor entry is a number", "tensor 'w': entry is not an object",
       st_file({"w": 5}))
    st("entry_array", "a tensor entry is an array", "tensor 'w': entry is not an object",
       st_file({"w": ["F32", [2], [0, 8]]}, d8))
    st("dtype_unknown", "unknown dtype F128", "tensor 'w': unknown dtype 'F128'",
       st_file({"w": entry("F128", [2], 0, 8)}, d8))
    st("dtype_lowercase", "dtype spelled in lower case", "tensor 'w': unknown dtype 'f32'",
       st_file({"w": entry("f32", [2], 0, 8)}, d8))
    st("dtype_missing", "entry without dtype", "tensor 'w': dtype missing or not a string",
       st_file({"w": {"shape": [2], "data_offsets": [0, 8]}}, d8))
    st("dtype_number", "dtype is a number", "tensor 'w': dtype missing or not a string",
       st_file({"w": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}}, d8))
    st("shape_not_array", "shape is an integer", "tensor 'w': shape is not an array",
       st_file({"w": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}}, d8))
    st("shape_missing", "entry without shape", "tensor 'w': shape is not an array",
       st_file({"w": {"dtype": "F32", "data_offsets": [0, 8]}}, d8))
    st("shape_negative", "negative dimension", "tensor 'w': shape[1] is not a non-negative integer",
       st_file({"w": entry("F32", [2, -1], 0, 8)}, d8))
    st("shape_float", "dimension written as 2.0", "tensor 'w': shape[0] is not a non-negative integer",
       st_file({"w": entry("F32", [2.0], 0, 8)}, d8))
    st("shape_string", "dimension written as a string", "shape[0] is not a non-negative integer",
       st_file({"w": entry("F32", ["2"], 0, 8)}, d8))
    st("shape_overflow", "shape product 2^32 x 2^32 overflows u64", "tensor 'w': element count overflows",
       st_file({"w": entry("F32", [1 << 32, 1 << 32], 0, 0)}))
    st("bytes_overflow", "2^62 F32 elements: byte size overflows u64", "tensor 'w': byte size overflows",
       st_file({"w": entry("F32", [1 << 61, 2], 0, 0)}))
    st("too_many_dims", "17 dimensions", "tensor 'w': 17 dimensions, at most 16 allowed",
       st_file({"w": entry("F32", [1] * 17, 0, 4)}, bytes(4)))
    st("offsets_arity3", "data_offsets with 3 numbers",
       "tensor 'w': data_offsets is not a pair of non-negative integers",
       st_file({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}}, d8))
    st("offsets_arity1", "data_offsets with 1 number", "data_offsets is not a pair",
       st_file({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8]}}, d8))
    st("offsets_missing", "entry without data_offsets", "tensor 'w': data_offsets is not a pair",
       st_file({"w": {"dtype": "F32", "shape": [2]}}, d8))
    st("offsets_negative", "negative data offset", "tensor 'w': data_offsets is not a pair",
       st_file({"w": entry("F32", [2], -8, 0)}, d8))
    st("offsets_begin_gt_end", "data_offsets begin 8 > end 0", "tensor 'w': data_offsets begin 8 > end 0",
       st_file({"w": entry("F32", [0], 8, 0)}, d8))
    st("offsets_beyond", "data_offsets end 16 past an 8-byte data section",
       "tensor 'w': data_offsets end 16 beyond the data section (8 bytes)",
       st_file({"w": entry("F32", [4], 0, 16)}, d8))
    st("size_mismatch", "F32 x [3] is 12 bytes but data_offsets span 8",
       "tensor 'w': F32 x shape is 12 bytes but data_offsets span 8",
       st_file({"w": entry("F32", [3], 0, 8)}, d8))
    st("size_mismatch_scalar", "F64 scalar (shape []) spanning 4 bytes",
       "tensor 'w': F64 x shape is 8 bytes but data_offsets span 4",
       st_file({"w": entry("F64", [], 0, 4)}, bytes(4)))
    st("overlap", "two tensors share bytes 4..8",
       "tensor 'b' overlaps the tensor before it (offset 4 < 8)",
       st_file({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}, bytes(12)))
    st("overlap_same", "two tensors at the very same offsets", "overlaps the tensor before it",
       st_file({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 0, 8)}, d8))
    st("overlap_zero_inside", "zero-size tensor placed inside another tensor",
       "tensor 'z' overlaps the tensor before it (offset 4 < 8)",
       st_file({"a": entry("F32", [2], 0, 8), "z": entry("F32", [0], 4, 4)}, d8))
    st("hole", "4 unused bytes between two tensors",
       "hole in the data section before tensor 'b' (bytes 8..12 unused)",
       st_file({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 12, 20)}, bytes(20)))
    st("hole_at_start", "first tensor starts at offset 4",
       "hole in the data section before tensor 'w' (bytes 0..4 unused)",
       st_file({"w": entry("F32", [1], 4, 8)}, d8))
    st("trailing_bytes", "4 bytes after the last tensor", "4 trailing bytes after the last tensor",
       st_file(one, bytes(12)))
    st("no_tensors_trailing", "no tensors but an 8-byte data section",
       "8 trailing bytes after the last tensor", st_file({}, d8))
    st("metadata_not_object", "__metadata__ is a string", "__metadata__ is not an object",
       st_file({"__metadata__": "pt", "w": entry("F32", [2], 0, 8)}, d8))
    st("metadata_number_value", "__metadata__ value is a number",
       "__metadata__ value of 'epoch' is not a string",
       st_file({"__metadata__": {"format": "pt", "epoch": 3}, "w": entry("F32", [2], 0, 8)}, d8))
    st("metadata_object_value", "__metadata__ value is an object",
       "__metadata__ value of 'cfg' is not a string",
       st_file({"__metadata__": {"cfg": {}}, "w": entry("F32", [2], 0, 8)}, d8))
    st("unexpected_field", "tensor entry with an extra field 'offset'",
       "tensor 'w': unexpected field 'offset'",
       st_file({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "offset": 0}}, d8))
    # --- untrusted names reach the error line with every control character as '?'
    st("name_newline", "tensor name with an escaped newline, then an unknown dtype",
       "tensor 'a?b': unknown dtype 'X'", st_file({"a\nb": entry("X", [], 0, 0)}))
    st("name_escape_seq", "tensor name with a terminal escape sequence (ESC [31m)",
       "tensor 'a?[31mred': unknown dtype 'X'", st_file({"a\x1b[31mred": entry("X", [], 0, 0)}))
    st("name_del_bell", "tensor name with DEL and BEL, then an unknown dtype",
       "tensor 'a??b': unknown dtype 'X'", st_file({"a\x7f\x07b": entry("X", [], 0, 0)}))
    st("metadata_key_ctrl", "__metadata__ key with a carriage return, value a number",
       "__metadata__ value of 'ep?och' is not a string",
       st_file({"__metadata__": {"ep\roch": 3}, "w": entry("F32", [2], 0, 8)}, d8))
    st("nul_in_value", "\\u0000 (NUL) in a __metadata__ value",
       "header: invalid JSON at byte 31: \\u0000 is not allowed in a string",  # (byte 31: the string's end)
       st_file(b'{"__metadata__":{"a":"x\\u0000y"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', d8))


def shard_cases():
    def shard(name, desc, expect, files, bug=False):
        index = None
        for fname, content in files.items():
            rel = put("shard_%s/%s" % (name, fname), content)
            if fname.endswith(".index.json"):
                index = rel
        (known if bug else rows).append((index, desc, expect))

    h1, d1 = model([("a.weight", "F32", [2, 2]), ("a.bias", "F32", [2])])
    h2, d2 = model([("b.weight", "F32", [2, 2])])
    s1, s2 = st_file(h1, d1), st_file(h2, d2)
    IX = "model.safetensors.index.json"
    S1, S2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"

    def index(wmap, meta=True):
        o = {"metadata": {"total_size": len(d1) + len(d2)}} if meta else {}
        o["weight_map"] = wmap
        return json.dumps(o, indent=1).encode() + b"\n"

    wmap = {"a.weight": S1, "a.bias": S1, "b.weight": S2}
    shard("missing", "weight_map names a shard file that does not exist",
          S2 + ": No such file or directory", {IX: index(wmap), S1: s1})
    shard("tensor_absent", "weight_map names tensor 'b.bias', which its shard lacks",
          "weight_map names tensor 'b.bias', which " + S2 + " lacks",
          {IX: index(dict(wmap, **{"b.bias": S2})), S1: s1, S2: s2})
    shard("unmapped", "a shard holds tensor 'a.bias', which weight_map does not list",
          "tensor 'a.bias' of shard " + S1 + " is not mapped to it",
          {IX: index({"a.weight": S1, "b.weight": S2}), S1: s1, S2: s2})
    shard("wrong_shard", "weight_map maps 'a.bias' to the other shard",
          "tensor 'a.bias' of shard " + S1 + " is not mapped to it",
          {IX: index(dict(wmap, **{"a.bias": S2})), S1: s1, S2: s2})
    shard("slash", "shard name with a '/' (sub/x.safetensors)",
          "weight_map entry 'b.weight' is not a plain shard file name",
          {IX: index(dict(wmap, **{"b.weight": "sub/" + S2})), S1: s1, "sub/" + S2: s2})
    shard("dotdot", "shard name '..'", "weight_map entry 'b.weight' is not a plain shard file name",
          {IX: index(dict(wmap, **{"b.weight": ".."})), S1: s1})
    shard("dot", "shard name '.'", "weight_map entry 'b.weight' is not a plain shard file name",
          {IX: index(dict(wmap, **{"b.weight": "."})), S1: s1})
    shard("dotdot_path", "shard name '../x.safetensors' escaping the directory",
          "weight_map entry 'b.weight' is not a plain shard file name",
          {IX: index(dict(wmap, **{"b.weight": "../" + S2})), S1: s1})
    shard("absolute", "absolute shard path /etc/passwd",
          "weight_map entry 'b.weight' is not a plain shard file name",
          {IX: index(dict(wmap, **{"b.weight": "/etc/passwd"})), S1: s1})
    shard("empty_name", "empty shard name", "weight_map entry 'b.weight' is not a plain shard file name",
          {IX: index(dict(wmap, **{"b.weight": ""})), S1: s1})
    shard("name_ctrl", "shard name with a newline and ESC, which does not exist (printed as '?')",
          "shard_name_ctrl/model?0000?[2.safetensors: No such file or directory",
          {IX: index(dict(wmap, **{"b.weight": "model\n0000\x1b[2.safetensors"})), S1: s1})
    shard("name_number", "weight_map value is a number, not a file name",
          "weight_map entry 'b.weight' is not a plain shard file name",
          {IX: index(dict(wmap, **{"b.weight": 2})), S1: s1})
    shard("dup_tensor", "the same tensor stored in both shards", "tensor 'a.bias' appears in two shards",
          {IX: index(wmap), S1: s1, S2: st_file(*model([("b.weight", "F32", [2, 2]), ("a.bias", "F32", [2])]))})
    shard("bad_shard", "one shard is malformed (data_offsets beyond its data)",
          S2 + ": tensor 'b.weight': data_offsets end 16 beyond the data section (8 bytes)",
          {IX: index(wmap), S1: s1, S2: st_file({"b.weight": entry("F32", [2, 2], 0, 16)}, bytes(8))})
    shard("no_weight_map", "index without weight_map", "no weight_map object",
          {IX: json.dumps({"metadata": {}}).encode(), S1: s1})
    shard("empty_weight_map", "index with an empty weight_map", "no weight_map object",
          {IX: index({}), S1: s1})
    shard("index_not_object", "index is a JSON array", "no weight_map object", {IX: b"[1, 2]\n", S1: s1})
    shard("index_invalid", "index is not valid JSON", "invalid JSON at byte",
          {IX: b'{"weight_map": {"a.weight": ', S1: s1})
    shard("index_empty", "index is an empty file", "empty JSON text", {IX: b"", S1: s1})
    shard("index_raw_nul", "a raw NUL byte after a shard name in the index", "a raw NUL byte",
          {IX: index(wmap).replace(b'"' + S1.encode() + b'",', b'"' + S1.encode() + b'"\0,', 1), S1: s1, S2: s2})
    shard("index_deep", "index nested 4 levels", "JSON nested deeper than 3 levels",
          {IX: b'{"weight_map": {"a.weight": [["x"]]}}', S1: s1})
    shard("index_dup", "weight_map lists a tensor twice", "duplicate object key",
          {IX: b'{"weight_map": {"a.weight": "%s", "a.weight": "%s"}}' % (S1.encode(), S1.encode()),
           S1: s1})
    shard("index_as_shard", "weight_map names the index itself as a shard",
          IX + ": not a safetensors file", {IX: index(dict(wmap, **{"b.weight": IX})), S1: s1})
    # --- not a model at all (issue 16): say what a model is
    case("not_model/README.md", "a Markdown text given as a model",
         "README.md: not a safetensors file (expected an 8-byte little-endian header length, then a JSON header)",
         b"# corelocker\n\nLocks a trained network and sells its key by the tier.\n")
    case("not_model/notes.txt", "a short text file given as a model",
         "notes.txt: not a safetensors file (expected an 8-byte little-endian header length, then a JSON "
         "header): file too short for a safetensors header (3 bytes)", b"ok\n")
    case("not_model/config.json", "a model's config.json given as a model (a .json is read as an index)",
         "config.json: not a sharded safetensors index (a model is a .safetensors file, or the "
         "*.safetensors.index.json of a sharded one): no weight_map object",
         json.dumps({"model_type": "vit", "hidden_size": 64}).encode() + b"\n")


# ---------------------------------------------------------------------------
# .clkey helpers

MAGIC = b"CLKEY\r\n\x1a"
KEY_VERSION = 3     # CL_KEY_VERSION in lib/clkey.h: the version corelockerctl writes


def index_bytes(version, units):
    """Bytes of a unit index (lib/clkey.c cl_key_index_bytes): version 2 uses
    4 (8 past 2^32 units), version 3 the fewest bytes that hold units - 1."""
    if version == 2:
        return 4 if units < 1 << 32 else 8
    return max(1, ((units - 1).bit_length() + 7) // 8)


def key_v2(blob):
    """The version 2 form of a version 3 key, as corelockerctl of version 2
    wrote it: each group's index_bytes changed in the header text (one digit
    for another: nothing else moves), every unit index widened, a new trailer."""
    ver, h, body = key_split(blob)
    assert ver == 3, ver
    text = blob[16:16 + struct.unpack("<I", blob[12:16])[0]]
    widths = iter([index_bytes(2, g["units"]) for g in h["groups"]])
    text = re.sub(rb'"index_bytes":\d', lambda m: b'"index_bytes":%d' % next(widths), text)
    out, pos = bytearray(), 0
    for g in h["groups"]:
        old, new = g["index_bytes"], index_bytes(2, g["units"])
        unit = sum(m[1] for m in g["members"])
        for _ in range(g["count"]):
            out += body[pos:pos + old] + bytes(new - old) + body[pos + old:pos + old + unit]
            pos += old + unit
    assert pos == len(body) and next(widths, None) is None
    return key_join(text, bytes(out), version=2)


def key_split(blob):
    assert blob[:8] == MAGIC
    ver, hlen = struct.unpack("<II", blob[8:16])
    header = blob[16:16 + hlen]
    body = blob[16 + hlen:-32]
    assert hashlib.sha256(blob[:-32]).digest() == blob[-32:]
    return ver, json.loads(header), body


def key_join(header, body, version=KEY_VERSION, hlen=None, checksum=True):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    pre = MAGIC + struct.pack("<II", version, len(h) if hlen is None else hlen) + h + body
    return pre + (hashlib.sha256(pre).digest() if checksum else bytes(32))


def body_error(h, body):
    """The message lib/clkey.c (parse_body) gives for BODY under header H,
    which it must refuse: the first group whose block runs past the end, or
    whose records name a unit out of range or twice, else trailing bytes."""
    pos = 0
    for gi, g in enumerate(h["groups"]):
        rec = g["index_bytes"] + sum(m[1] for m in g["members"])
        if rec * g["count"] > len(body) - pos:
            return "key body: group %d runs past the end (truncated key?)" % gi
        idx = [int.from_bytes(body[pos + j * rec:pos + j * rec + g["index_bytes"]], "little")
               for j in range(g["count"])]
        for j, u in enumerate(idx):
            if u >= g["units"]:
                return "key body: group %d record %d has unit index out of range" % (gi, j)
        dup = sorted(u for u in set(idx) if idx.count(u) > 1)
        if dup:
            return "key body: group %d lists unit %d twice" % (gi, dup[0])
        pos += rec * g["count"]
    assert pos < len(body), "the body is valid"
    return "key body: %d unexpected byte(s) after the records" % (len(body) - pos)


def resum(blob):
    """Recompute the trailer of a whole key."""
    return blob[:-32] + hashlib.sha256(blob[:-32]).digest()


def flip(blob, pos, bit=0):
    b = bytearray(blob)
    b[pos] ^= 1 << bit
    return bytes(b)


def make_keys(ctl):
    """Lock files/good/model.safetensors three ways; return {name: key bytes}.
    (Ratio 0.5 for the global key, so that several groups have records.)"""
    keys = {}
    model_path = os.path.join(FILES, "good", "model.safetensors")
    tmp = tempfile.mkdtemp(prefix="clhostile.")
    try:
        for unit, scope, ratio in (("element", "layer", "0.25"), ("neuron", "global", "0.5"),
                                   ("channel", "layer", "0.25")):
            out, key = os.path.join(tmp, "m.locked"), os.path.join(tmp, "m.clkey")
            subprocess.run([ctl, "lock", model_path, "-o", out, "-k", key, "--ratio", ratio,
                            "--unit", unit, "--scope", scope], check=True, stdout=subprocess.DEVNULL)
            with open(key, "rb") as f:
                keys[unit + "_" + scope] = f.read()
            assert key_split(keys[unit + "_" + scope])[0] == KEY_VERSION, \
                "corelockerctl writes another .clkey version than KEY_VERSION"
        # run.sh's control lock (default unit and scope), for files/good/model.v2.clkey
        out, key = os.path.join(tmp, "m.locked"), os.path.join(tmp, "m.clkey")
        subprocess.run([ctl, "lock", model_path, "-o", out, "-k", key, "--ratio", "0.25"], check=True,
                       stdout=subprocess.DEVNULL)
        with open(key, "rb") as f:
            keys["control"] = f.read()
    finally:
        shutil.rmtree(tmp)
    return keys


def key_cases(ctl):
    keys = make_keys(ctl)
    kl = keys["element_layer"]       # layer scope: per-group record blocks
    kg = keys["neuron_global"]       # global scope: per-group blocks too, cut by a merge
    _, hl, bl = key_split(kl)
    _, hg, bg = key_split(kg)
    hlen_l = struct.unpack("<I", kl[12:16])[0]

    def key(name, desc, expect, content, bug=False):
        case("key_" + name + ".clkey", desc, expect, content, bug)

    def edit(h, **changes):
        h = json.loads(json.dumps(h))
        for path, value in changes.items():
            o = h
            parts = path.split("__")
            for p in parts[:-1]:
                o = o[int(p)] if isinstance(o, list) else o[p]
            last = parts[-1]
            if isinstance(o, list):
                o[int(last)] = value
            elif value is DELETE:
                del o[last]
            else:
                o[last] = value
        return h

    # --- framing (no valid checksum needed to reach these).  inspect reads a
    # file named *.clkey as a key, whatever its first bytes.
    key("empty", "empty file named .clkey", "not a .clkey file (bad magic or too short)", b"")
    key("trunc_4", "cut after 4 bytes, inside the magic", "not a .clkey file (bad magic or too short)", kl[:4])
    key("bad_magic", "magic 'CLKEX...' instead of 'CLKEY...'", "not a .clkey file (bad magic or too short)",
        b"CLKEX" + kl[5:])
    key("trunc_12", "cut after the magic and the version", "not a .clkey file (bad magic or too short)",
        kl[:12])
    key("trunc_40", "40 bytes: shorter than prefix + trailer", "not a .clkey file (bad magic or too short)",
        kl[:40])
    key("trunc_header", "cut in the middle of the JSON header",
        "key header length %d runs past the end of the key" % hlen_l, kl[:16 + hlen_l // 2])
    key("trunc_body", "cut in the middle of the records",
        "key checksum mismatch: the key is truncated or corrupted", kl[:16 + hlen_l + len(bl) // 2])
    key("trunc_trailer", "last 10 bytes of the SHA-256 trailer missing", "key checksum mismatch", kl[:-10])
    key("flip_header", "one bit flipped in the JSON header", "key checksum mismatch", flip(kl, 40, 1))
    key("flip_body", "one bit flipped in a record's bytes", "key checksum mismatch",
        flip(kl, 16 + hlen_l + 6, 3))
    key("flip_trailer", "one bit flipped in the SHA-256 trailer", "key checksum mismatch", flip(kl, len(kl) - 1))
    key("flip_body_global", "one bit flipped in a global-scope record", "key checksum mismatch",
        flip(kg, len(kg) - 40, 7))
    key("version_%d" % (KEY_VERSION + 1), "version %d, newer than this code (valid checksum)" % (KEY_VERSION + 1),
        "unsupported .clkey version %d" % (KEY_VERSION + 1), key_join(hl, bl, version=KEY_VERSION + 1))
    key("version_0", "version 0 (valid checksum)", "unsupported .clkey version 0",
        key_join(hl, bl, version=0))
    key("version_1", "version 1: a real key re-stamped with a version no longer read (valid checksum)",
        "unsupported .clkey version 1", key_join(hl, bl, version=1))
    # version 2 is still read, with its own index width (4 bytes): a version 3
    # key re-stamped 2 has too narrow indexes, a version 2 key stamped 3 too wide
    key("version_2_narrow", "a version 3 key (1-byte indexes) re-stamped version 2 (valid checksum)",
        "key header: group 0: 'index_bytes' must be 4 for %d units (version 2)" % hl["groups"][0]["units"],
        key_join(hl, bl, version=2))
    _, h2, b2 = key_split(key_v2(kl))
    key("version_3_wide", "a version 2 key (4-byte indexes) stamped version 3 (valid checksum)",
        "key header: group 0: 'index_bytes' must be 1 for %d units (version 3)" % h2["groups"][0]["units"],
        key_join(h2, b2, version=3))
    # the layout before commit 3626374 (version 1): a u32 group number led
    # every global record
    recs = [g["index_bytes"] + sum(m[1] for m in g["members"]) for g in hg["groups"]]
    old, pos = b"", 0
    for gi, (r, g) in enumerate(zip(recs, hg["groups"])):
        for _ in range(g["count"]):
            old += struct.pack("<I", gi) + bg[pos:pos + r]
            pos += r
    key("version_1_old_layout", "version 1 (old layout): global key with a u32 group number before each record",
        "unsupported .clkey version 1", key_join(hg, old, version=1))
    key("global_old_layout", "the old (u32 group number first) global layout stamped version %d" % KEY_VERSION,
        body_error(hg, old), key_join(hg, old))
    key("version_u32max", "version 2^32-1", "unsupported .clkey version 4294967295",
        key_join(hl, bl, version=0xFFFFFFFF))
    key("hlen_past_end", "header length past the end of the file (valid checksum)",
        "key header length %d runs past the end of the key" % (len(kl)),
        resum(kl[:12] + struct.pack("<I", len(kl)) + kl[16:]))
    key("hlen_u32max", "header length 2^32-1", "key header length 4294967295 runs past the end",
        resum(kl[:12] + struct.pack("<I", 0xFFFFFFFF) + kl[16:]))
    key("hlen_short", "header length 10 cuts the JSON short (valid checksum)", "key header: invalid JSON",
        key_join(json.dumps(hl, separators=(",", ":")).encode(), bl, hlen=10))
    key("hlen_zero", "header length 0: no JSON at all (valid checksum)", "key header: empty JSON text",
        key_join(b"", bl))
    # --- header JSON (valid checksum)
    key("json_invalid", "header is not valid JSON (valid checksum)", "key header: invalid JSON at byte",
        key_join(b'{"unit":"element",', bl))
    key("json_not_object", "header is a JSON array", "key header: not a JSON object", key_join(b"[1,2,3]", bl))
    key("json_too_deep", "header nested 6 levels", "key header: JSON nested deeper than 5 levels",
        key_join(edit(hl, x=[[[[[1]]]]]), bl))
    key("json_dup_key", "header names 'unit' twice", "duplicate object key near '\"unit\"'",
        key_join(b'{"unit":"element",' + json.dumps(hl, separators=(",", ":")).encode()[1:], bl))
    key("json_utf8", "invalid UTF-8 in the header", "unable to decode byte 0xff",
        key_join(json.dumps(hl, separators=(",", ":")).encode().replace(b'"top"', b'"t\xffp"'), bl))
    key("json_nul", "\\u0000 in a tensor name", "key header: invalid JSON at byte %d: \\u0000 is not allowed in a string"
        % (json.dumps(hl, separators=(",", ":")).find('"fc1.weight"') + len('"fc1\\u0000w"')),
        key_join(json.dumps(hl, separators=(",", ":")).encode().replace(b'"fc1.weight"', b'"fc1\\u0000w"'), bl))
    key("json_raw_nul", "a raw NUL byte after a number in the header (valid checksum)",
        "key header: invalid JSON at byte %d: a raw NUL byte" % (json.dumps(hl, separators=(",", ":")).find('"seed":') + 8),
        key_join(json.dumps(hl, separators=(",", ":")).encode().replace(b'"seed":', b'"seed":0\0', 1), bl))
    key("missing_unit", "no 'unit' field", "key header: 'unit' missing or not a string",
        key_join(edit(hl, unit=DELETE), bl))
    key("missing_locked_sha", "no 'locked_sha256' field", "key header: 'locked_sha256' missing or not a string",
        key_join(edit(hl, locked_sha256=DELETE), bl))
    key("sha_uppercase", "original_sha256 in upper-case hex",
        "key header: 'original_sha256' is not a SHA-256 in lower-case hex",
        key_join(edit(hl, original_sha256=hl["original_sha256"].upper()), bl))
    key("sha_short", "locked_sha256 of 62 hex digits", "key header: 'locked_sha256' is not a SHA-256",
        key_join(edit(hl, locked_sha256=hl["locked_sha256"][:62]), bl))
    key("seed_negative", "seed -1", "key header: 'seed' missing or not a non-negative integer",
        key_join(edit(hl, seed=-1), bl))
    key("alpha_big", "alpha 0.75, above 0.5", "key header: alpha must be a number in (0, 0.5]",
        key_join(edit(hl, alpha=0.75), bl))
    key("alpha_zero", "alpha 0", "key header: alpha must be a number in (0, 0.5]", key_join(edit(hl, alpha=0), bl))
    key("alpha_negative", "alpha -0.25", "key header: alpha must be a number in (0, 0.5]",
        key_join(edit(hl, alpha=-0.25), bl))
    key("alpha_string", "alpha as a string", "key header: alpha must be a number in (0, 0.5]",
        key_join(edit(hl, alpha="0.25"), bl))
    key("unit_unknown", "unknown unit 'bogus'", "key header: unknown unit 'bogus'",
        key_join(edit(hl, unit="bogus"), bl))
    key("scope_unknown", "unknown scope 'bogus'", "key header: unknown scope 'bogus'",
        key_join(edit(hl, scope="bogus"), bl))
    key("scope_unknown_ctrl", "unknown scope holding ESC and a newline (printed as '?')",
        "key header: unknown scope 'gl?[1mob?al'", key_join(edit(hl, scope="gl\x1b[1mob\nal"), bl))
    key("select_unknown", "unknown select 'best'", "key header: unknown select 'best'",
        key_join(edit(hl, select="best"), bl))
    # --- shards
    sh0 = hl["shards"][0]
    key("shards_empty", "empty shards array", "key header: shards must be an array of 1 to 65535 entries",
        key_join(edit(hl, shards=[]), bl))
    key("shard_slash", "shard file name with a '/'", "key header: shard 0: 'file' is not a plain file name",
        key_join(edit(hl, shards__0__file="../model.safetensors"), bl))
    key("shard_dotdot", "shard file name '..'", "key header: shard 0: 'file' is not a plain file name",
        key_join(edit(hl, shards__0__file=".."), bl))
    key("shard_dot", "shard file name '.'", "key header: shard 0: 'file' is not a plain file name",
        key_join(edit(hl, shards__0__file="."), bl))
    key("shard_file_empty", "empty shard file name", "key header: shard 0: 'file' is not a plain file name",
        key_join(edit(hl, shards__0__file=""), bl))
    key("shard_size_small", "shard size smaller than 8 + header_len",
        "key header: shard 0: 'size' 100 cannot hold a %d-byte header" % sh0["header_len"],
        key_join(edit(hl, shards__0__size=100), bl))
    key("shard_size_exact", "shard size 8 + header_len - 1, one byte short",
        "key header: shard 0: 'size' %d cannot hold a %d-byte header" % (7 + sh0["header_len"], sh0["header_len"]),
        key_join(edit(hl, shards__0__size=7 + sh0["header_len"]), bl))
    # A header_len above the 100 MiB safetensors bound, with a size that would hold it.
    key("shard_header_len_huge", "shard header_len 100 MiB + 1, above the safetensors bound, size 2^40",
        "key header: shard 0: 'header_len' 104857601 exceeds the 104857600-byte limit",
        key_join(edit(hl, shards__0__header_len=(100 << 20) + 1, shards__0__size=1 << 40), bl))
    # --- tensors
    key("tensors_not_array", "tensors is an object", "key header: tensors is not an array",
        key_join(edit(hl, tensors={}), bl))
    key("tensor_dtype_int", "extracted tensor with dtype I64",
        "key header: tensor 'fc1.weight' has dtype 'I64', which is not lockable",
        key_join(edit(hl, tensors__0__dtype="I64"), bl))
    key("tensor_name_ctrl", "tensor name with ESC, CR and DEL (printed as '?'), dtype I64",
        "key header: tensor 'fc1??[2J?.weight' has dtype 'I64', which is not lockable",
        key_join(edit(hl, tensors__0__name="fc1\r\x1b[2J\x7f.weight", tensors__0__dtype="I64"), bl))
    key("tensor_shard_range", "tensor names shard 1 of a 1-shard key",
        "key header: tensor 'fc1.weight' names shard 1 of 1", key_join(edit(hl, tensors__0__shard=1), bl))
    key("tensor_offsets", "tensor data_offsets begin > end",
        "key header: tensor 'fc1.weight' has invalid data_offsets",
        key_join(edit(hl, tensors__0__data_offsets=[96, 0]), bl))
    key("tensor_shape", "tensor shape with a negative dimension",
        "key header: tensor 'fc1.weight' has an invalid shape", key_join(edit(hl, tensors__0__shape=[6, -4]), bl))
    key("tensor_nofit", "tensor shape [6,5] does not match its 96-byte span",
        "key header: tensor 'fc1.weight' does not fit its shape or shard",
        key_join(edit(hl, tensors__0__shape=[6, 5]), bl))
    # --- groups
    g0 = hl["groups"][0]
    key("groups_missing", "no groups array", "key header: groups is not an array",
        key_join(edit(hl, groups=DELETE), bl))
    key("group_no_members", "group with an empty members array", "key header: group 0 must have 1 or 2 members",
        key_join(edit(hl, groups__0__members=[]), bl))
    key("group_three_members", "group with 3 members", "key header: group 0 must have 1 or 2 members",
        key_join(edit(hl, groups__0__members=[[0, 4], [1, 2], [2, 2]]), bl))
    key("group_member_range", "group member names tensor index 99",
        "key header: group 0 member 0 names tensor 99 of %d" % len(hl["tensors"]),
        key_join(edit(hl, groups__0__members=[[99, 4]]), bl))
    key("group_member_reused", "two groups share one tensor",
        "key header: group 1 member 0 reuses tensor 'fc1.weight'",
        key_join(edit(hl, groups__1__members=hl["groups"][0]["members"]), bl))
    gm = hg["groups"][0]["members"]   # a weight and its bias
    tn = hg["tensors"][gm[0][0]]["name"]
    key("group_member_twice", "a group's second member is its first tensor again",
        "key header: group 0 member 1 reuses tensor '%s'" % tn,
        key_join(edit(hg, groups__0__members=[gm[0], gm[0]]), bg))
    key("group_member_stride_zero", "member stride 0",
        "key header: group 0 member 0 is not a [tensor, stride > 0] pair",
        key_join(edit(hl, groups__0__members=[[0, 0]]), bl))
    key("group_member_name", "member names its tensor by name, not index",
        "key header: group 0 member 0 is not a [tensor, stride > 0] pair",
        key_join(edit(hl, groups__0__members=[["fc1.weight", 4]]), bl))
    key("group_member_second_bad", "second member [t, -2] with a negative stride",
        "key header: group 0 member 1 is not a [tensor, stride > 0] pair",
        key_join(edit(hg, groups__0__members=[gm[0], [gm[1][0], -2]]), bg))
    key("group_stride", "units x stride does not cover the tensor (stride 8 for 4-byte units)",
        "key header: group 0: units x stride does not match tensor 'fc1.weight'",
        key_join(edit(hl, groups__0__members=[[0, 8]]), bl))
    key("group_units_zero", "group with 0 units", "key header: group 0: 'units' must be in [1, 2^40)",
        key_join(edit(hl, groups__0__units=0), bl))
    key("group_units_2p40", "group with 2^40 units, one past the bound",
        "key header: group 0: 'units' must be in [1, 2^40)", key_join(edit(hl, groups__0__units=1 << 40), bl))
    key("group_finite_gt_units", "group finite above its units", "key header: group 0: 'finite' exceeds 'units'",
        key_join(edit(hl, groups__0__finite=g0["units"] + 1), bl))
    key("group_count_gt_finite", "group count above its finite units",
        "key header: group 0: 'count' exceeds 'finite'",
        key_join(edit(hl, groups__0__finite=g0["count"] - 1), bl))
    key("group_index_bytes", "index_bytes 8 for a small group",
        "key header: group 0: 'index_bytes' must be 1 for %d units (version 3)" % g0["units"],
        key_join(edit(hl, groups__0__index_bytes=8), bl))
    key("count_layer", "layer group count is not round(alpha x finite)",
        "key header: group 0 holds %d units, not round(alpha x %d)" % (g0["count"] + 1, g0["finite"]),
        key_join(edit(hl, groups__0__count=g0["count"] + 1, count=hl["count"] + 1), bl))
    # --- totals
    key("count_total", "top-level count differs from the sum of the groups",
        "key header: 'count' differs from the sum of the groups' counts",
        key_join(edit(hl, count=hl["count"] + 1), bl))
    key("finite_below", "top-level finite below the sum of the groups' finite counts",
        "key header: 'finite' is below the sum of the groups' finite counts",
        key_join(edit(hl, finite=sum(g["finite"] for g in hl["groups"]) - 1), bl))
    key("count_global", "global count is not round(alpha x finite)",
        "key header: 'count' is not round(alpha x finite)", key_join(edit(hg, finite=hg["finite"] + 8), bg))
    # --- records (valid checksum)
    w0 = g0["index_bytes"]            # 1: fc1.weight has 24 units
    rec = w0 + 4                      # element/F32: index_bytes + unit bytes
    b = bytearray(bl)
    b[0:w0] = g0["units"].to_bytes(w0, "little")
    key("record_range_layer", "layer record 0 has unit index == units (a 1-byte index)",
        "key body: group 0 record 0 has unit index out of range", key_join(hl, bytes(b)))
    b[0:w0] = b"\xff" * w0
    key("record_range_ff", "layer record 0 has unit index 255, the largest a 1-byte index holds",
        "key body: group 0 record 0 has unit index out of range", key_join(hl, bytes(b)))
    key("body_short_layer", "last record missing (valid checksum)",
        "key body: group %d runs past the end (truncated key?)" % (len(hl["groups"]) - 1),
        key_join(hl, bl[:-rec]))
    key("body_trailing", "3 bytes after the last record", "key body: 3 unexpected byte(s) after the records",
        key_join(hl, bl + b"\0\0\0"))
    # two records of a group name the same unit: restoring would write one
    # unit's bytes over another's
    b = bytearray(bl)
    b[5 * rec:5 * rec + w0] = b[0:w0]
    key("record_duplicate", "layer group 0 lists its top unit again as record 5",
        "key body: group 0 lists unit %d twice" % int.from_bytes(bl[0:w0], "little"), key_join(hl, bytes(b)))
    # global scope: the same per-group blocks; the tier cut merges them by score
    last = len(hg["groups"]) - 1
    off = sum(r * g["count"] for r, g in zip(recs[:-1], hg["groups"][:-1]))
    gl = hg["groups"][last]
    wl = gl["index_bytes"]
    b = bytearray(bg)
    b[off:off + wl] = gl["units"].to_bytes(wl, "little")
    key("record_range_global", "global key: record 0 of the last group has unit index == units",
        "key body: group %d record 0 has unit index out of range" % last, key_join(hg, bytes(b)))
    key("body_short_global", "global body cut by 2 bytes (valid checksum)",
        "key body: group %d runs past the end (truncated key?)" % last, key_join(hg, bg[:-2]))
    key("body_trailing_global", "global body with 1 extra byte",
        "key body: 1 unexpected byte(s) after the records", key_join(hg, bg + b"\x01"))
    if gl["count"] >= 2:
        b = bytearray(bg)
        b[off + recs[last]:off + recs[last] + wl] = b[off:off + wl]
        key("record_duplicate_global", "global key: the last group lists one unit in records 0 and 1",
            "key body: group %d lists unit %d twice" % (last, int.from_bytes(bg[off:off + wl], "little")),
            key_join(hg, bytes(b)))
    width_cases(key)
    return keys


def width_cases(key):
    """Index widths at the edges of the version 3 rule, on keys built by hand
    (no model needed): one element group of UNITS F32 units, 4 of them
    finite, alpha 0.25, so one record (index, 4 bytes)."""
    def one(units, width, index, version=KEY_VERSION):
        h = {"format": "clkey", "unit": "element", "scope": "layer", "select": "top", "seed": 0,
             "alpha": 0.25, "locked_sha256": "ab" * 32, "original_sha256": "cd" * 32, "sharded": False,
             "shards": [{"file": "w.safetensors", "header_len": 64, "size": 72 + 4 * units,
                         "locked_sha256": "ab" * 32, "original_sha256": "cd" * 32}],
             "tensors": [{"name": "w", "dtype": "F32", "shape": [1, units], "shard": 0,
                          "data_offsets": [0, 4 * units]}],
             "groups": [{"members": [[0, 4]], "units": units, "finite": 4, "count": 1, "index_bytes": width}],
             "finite": 4, "count": 1}
        return key_join(h, index.to_bytes(width, "little") + struct.pack("<f", 0.5), version=version)

    for units, width in ((256, 2), (257, 1), (65536, 3), (65537, 2), ((1 << 24) + 1, 3), ((1 << 32) + 1, 8)):
        key("width_%d_%d" % (units, width), "%d units with %d-byte indexes" % (units, width),
            "key header: group 0: 'index_bytes' must be %d for %d units (version 3)"
            % (index_bytes(KEY_VERSION, units), units), one(units, width, 0))
    for units in (257, 65537, (1 << 24) + 1, (1 << 32) + 1):
        w = index_bytes(KEY_VERSION, units)
        key("width_%d_range" % units, "%d units: a %d-byte record with unit index == units" % (units, w),
            "key body: group 0 record 0 has unit index out of range", one(units, w, units))
    key("width_v2_narrow", "version 2: 257 units with 2-byte indexes (version 2 wants 4)",
        "key header: group 0: 'index_bytes' must be 4 for 257 units (version 2)", one(257, 2, 0, version=2))
    key("width_v2_2p32", "version 2: 2^32 units with 4-byte indexes (version 2 wants 8 from 2^32 units)",
        "key header: group 0: 'index_bytes' must be 8 for 4294967296 units (version 2)",
        one(1 << 32, 4, 0, version=2))


class _Delete:
    pass


DELETE = _Delete()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ctl", default=os.environ.get("CTL") or os.path.join(HERE, "..", "..", "ctl", "corelockerctl"),
                    help="corelockerctl, to make the real keys the hostile ones are edited from")
    args = ap.parse_args()

    if os.path.isdir(FILES):
        shutil.rmtree(FILES)
    os.makedirs(FILES)
    h, d = model(GOOD_TENSORS, {"format": "pt"})
    put("good/model.safetensors", st_file(h, d))
    h1, d1 = model(GOOD_TENSORS[:6])
    h2, d2 = model(GOOD_TENSORS[6:])
    put("good/sharded/model-00001-of-00002.safetensors", st_file(h1, d1))
    put("good/sharded/model-00002-of-00002.safetensors", st_file(h2, d2))
    put("good/sharded/model.safetensors.index.json", json.dumps(
        {"metadata": {"total_size": len(d1) + len(d2)},
         "weight_map": dict([(n, "model-00001-of-00002.safetensors") for n, _, _ in GOOD_TENSORS[:6]] +
                            [(n, "model-00002-of-00002.safetensors") for n, _, _ in GOOD_TENSORS[6:]])},
        indent=1).encode() + b"\n")
    st_cases()
    shard_cases()
    keys = key_cases(args.ctl)
    put("good/model.v2.clkey", key_v2(keys["control"]))

    for name, table in (("catalogue.tsv", rows), ("known-bugs.tsv", known)):
        with open(os.path.join(HERE, name), "w") as f:
            f.write("# file\tdefect\texpected error substring (generated by gen.py)\n")
            for r in table:
                assert "\t" not in "".join(r) and "\n" not in "".join(r), r
                f.write("\t".join(r) + "\n")
    big = [p for p, _, _ in rows + known if os.path.getsize(os.path.join(HERE, p)) > 4096]
    kinds = {}
    for p, _, _ in rows:
        k = "clkey" if p.endswith(".clkey") else "sharded" if p.endswith(".json") else "safetensors"
        kinds[k] = kinds.get(k, 0) + 1
    print("catalogue: %d rows %s, known bugs: %d" % (len(rows), kinds, len(known)))
    if big:
        print("files over 4 KiB:", big, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
