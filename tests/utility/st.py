"""Minimal safetensors reader/writer using numpy only (no `safetensors` package).

File layout:
    u64 little-endian N | N bytes UTF-8 JSON header | data section
The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
(offsets relative to the start of the data section) plus an optional
"__metadata__" object with string values.  The tensors tile the data section
exactly.  The writer pads the header with spaces so the data section starts
8-byte aligned, writes tensors in the order given, and replaces the output
atomically.

numpy has no bfloat16: BF16 tensors are read as float32 (exact: the 16 bits
are shifted into the high half of a float32) and written from float32 with
round-to-nearest-even.  `load_with_dtypes` returns the on-disk dtype of every
tensor, and `save(..., dtypes=...)` forces an on-disk dtype, so
    t, m, d = load_with_dtypes(a); save(b, t, m, dtypes=d)
reproduces file `a` byte for byte when `a` was written by this module.

Public API:
    load(path) -> (tensors, metadata)
    load_with_dtypes(path) -> (tensors, metadata, dtypes)
    save(path, tensors, metadata=None, dtypes=None)
    state_dict_to_numpy(sd) -> (tensors, dtypes)
    numpy_to_state_dict(tensors, dtypes=None) -> OrderedDict of torch tensors
    save_state_dict(path, sd, metadata=None)
    load_state_dict(path) -> (OrderedDict of torch tensors, metadata)
"""

import json
import os
import struct
import tempfile
from collections import OrderedDict

import numpy as np

__all__ = [
    "SafetensorsError", "DTYPES", "load", "load_with_dtypes", "save",
    "state_dict_to_numpy", "numpy_to_state_dict", "save_state_dict",
    "load_state_dict", "f32_to_bf16_bits", "bf16_bits_to_f32",
]

# Largest header accepted on read (the reference implementation uses 100 MB).
MAX_HEADER = 100 * 1024 * 1024
# Deepest JSON nesting a valid header needs is 3 ({name: {"shape": [..]}}).
MAX_DEPTH = 3

# safetensors dtype -> (numpy dtype as stored on disk, item size)
DTYPES = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),   # raw bits; converted to float32 on read
    "I64": (np.dtype("<i8"), 8),
    "I32": (np.dtype("<i4"), 4),
    "I16": (np.dtype("<i2"), 2),
    "I8": (np.dtype("i1"), 1),
    "U8": (np.dtype("u1"), 1),
    "BOOL": (np.dtype("?"), 1),
}

# numpy kind+itemsize -> default safetensors dtype on write
_NP_TO_ST = {
    ("f", 8): "F64", ("f", 4): "F32", ("f", 2): "F16",
    ("i", 8): "I64", ("i", 4): "I32", ("i", 2): "I16", ("i", 1): "I8",
    ("u", 1): "U8", ("b", 1): "BOOL",
}


class SafetensorsError(ValueError):
    """Raised for malformed files or unsupported input."""


# ---------------------------------------------------------------- bfloat16

def bf16_bits_to_f32(bits):
    """uint16 bfloat16 bit patterns -> float32 values (exact)."""
    bits = np.asarray(bits, dtype=np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(x):
    """float32 values -> uint16 bfloat16 bits, round to nearest even.

    NaN keeps its sign and top payload bits and stays a NaN (quiet bit set if
    truncation would leave an all-zero mantissa, which would read as Inf).
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32)
    lsb = (u >> 16) & 1
    rounded = ((u + np.uint32(0x7FFF) + lsb) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        trunc = (u >> 16).astype(np.uint16)
        trunc = np.where((trunc & 0x7F) == 0, trunc | np.uint16(0x40), trunc)
        rounded = np.where(nan, trunc, rounded).astype(np.uint16)
    return rounded


# -------------------------------------------------------------------- read

def _depth(obj, d=0):
    if d > MAX_DEPTH:
        raise SafetensorsError("header JSON nested too deeply")
    if isinstance(obj, dict):
        for v in obj.values():
            _depth(v, d + 1)
    elif isinstance(obj, list):
        for v in obj:
            _depth(v, d + 1)


def _no_dup_pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise SafetensorsError("duplicate key in header: %r" % k)
        out[k] = v
    return out


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_header(raw, data_len, where):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SafetensorsError("%s: header is not valid UTF-8 (%s)" % (where, e))
    if not text.startswith("{"):
        raise SafetensorsError("%s: header does not start with '{'" % where)
    try:
        hdr = json.loads(text, object_pairs_hook=_no_dup_pairs)
    except SafetensorsError as e:
        raise SafetensorsError("%s: %s" % (where, e))
    except RecursionError:
        raise SafetensorsError("%s: header JSON nested too deeply" % where)
    except ValueError as e:
        raise SafetensorsError("%s: header is not valid JSON (%s)" % (where, e))
    if not isinstance(hdr, dict):
        raise SafetensorsError("%s: header is not a JSON object" % where)
    try:
        _depth(hdr)
    except SafetensorsError as e:
        raise SafetensorsError("%s: %s" % (where, e))

    meta = hdr.pop("__metadata__", None)
    if meta is not None:
        if not isinstance(meta, dict):
            raise SafetensorsError("%s: __metadata__ is not an object" % where)
        for k, v in meta.items():
            if not isinstance(v, str):
                raise SafetensorsError(
                    "%s: __metadata__[%r] is not a string" % (where, k))

    entries = []
    for name, info in hdr.items():
        w = "%s: tensor %r" % (where, name)
        if not isinstance(info, dict):
            raise SafetensorsError("%s: entry is not an object" % w)
        extra = set(info) - {"dtype", "shape", "data_offsets"}
        if extra:
            raise SafetensorsError("%s: unknown field(s) %s" % (w, sorted(extra)))
        dt = info.get("dtype")
        if dt not in DTYPES:
            raise SafetensorsError("%s: unknown dtype %r" % (w, dt))
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
            raise SafetensorsError("%s: bad shape %r" % (w, shape))
        offs = info.get("data_offsets")
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(_is_int(o) for o in offs)):
            raise SafetensorsError("%s: bad data_offsets %r" % (w, offs))
        b, e = offs
        if not (0 <= b <= e <= data_len):
            raise SafetensorsError(
                "%s: data_offsets [%d, %d] outside data section of %d bytes"
                % (w, b, e, data_len))
        n = 1
        for s in shape:          # Python ints: no overflow
            n *= s
        nbytes = n * DTYPES[dt][1]
        if nbytes != e - b:
            raise SafetensorsError(
                "%s: %s%s needs %d bytes but data_offsets give %d"
                % (w, dt, shape, nbytes, e - b))
        entries.append((b, e, name, dt, tuple(shape)))

    # Tensors in offset order must tile the data section exactly.
    pos = 0
    for b, e, name, _, _ in sorted(entries, key=lambda t: (t[0], t[1])):
        if b != pos:
            kind = "overlap" if b < pos else "hole"
            raise SafetensorsError(
                "%s: %s in data section at byte %d (tensor %r starts at %d)"
                % (where, kind, pos, name, b))
        pos = e
    if pos != data_len:
        raise SafetensorsError(
            "%s: %d trailing bytes after the last tensor" % (where, data_len - pos))
    return entries, (dict(meta) if meta is not None else {})


def load_with_dtypes(path):
    """Read a safetensors file.

    Returns (tensors, metadata, dtypes): tensors is an OrderedDict
    name -> writable np.ndarray in header order (BF16 as float32), metadata a
    dict of strings ({} if absent), dtypes name -> safetensors dtype string.
    """
    where = str(path)
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as e:
        raise SafetensorsError("%s: cannot read: %s" % (where, e.strerror or e))
    if len(buf) < 8:
        raise SafetensorsError("%s: file too short (%d bytes)" % (where, len(buf)))
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER:
        raise SafetensorsError("%s: header length %d exceeds limit %d"
                               % (where, n, MAX_HEADER))
    if 8 + n > len(buf):
        raise SafetensorsError("%s: header length %d exceeds file size %d"
                               % (where, n, len(buf)))
    data_start = 8 + n
    entries, meta = _parse_header(buf[8:data_start], len(buf) - data_start, where)

    tensors = OrderedDict()
    dtypes = OrderedDict()
    for b, e, name, dt, shape in entries:
        npdt, size = DTYPES[dt]
        count = (e - b) // size
        a = np.frombuffer(buf, dtype=npdt, count=count,
                          offset=data_start + b).reshape(shape)
        if dt == "BF16":
            a = bf16_bits_to_f32(a)
        else:
            a = a.astype(npdt.newbyteorder("="), copy=True)
        tensors[name] = a
        dtypes[name] = dt
    return tensors, meta, dtypes


def load(path):
    """Read a safetensors file -> (OrderedDict name -> np.ndarray, metadata)."""
    t, m, _ = load_with_dtypes(path)
    return t, m


# ------------------------------------------------------------------- write

def _encode(name, a, dt):
    if dt is None:
        key = (a.dtype.kind, a.dtype.itemsize)
        if key not in _NP_TO_ST:
            raise SafetensorsError(
                "tensor %r: unsupported numpy dtype %s" % (name, a.dtype))
        dt = _NP_TO_ST[key]
    if dt not in DTYPES:
        raise SafetensorsError("tensor %r: unknown dtype %r" % (name, dt))
    if dt == "BF16":
        if a.dtype.kind != "f":
            raise SafetensorsError(
                "tensor %r: BF16 needs floating input, got %s" % (name, a.dtype))
        raw = f32_to_bf16_bits(a.astype(np.float32))
        raw = raw.astype("<u2")
    else:
        npdt = DTYPES[dt][0]   # an explicit dtypes[name] casts as asked
        raw = np.asarray(a).astype(npdt, order="C", copy=False)
    return dt, raw.tobytes(order="C")


def save(path, tensors, metadata=None, dtypes=None):
    """Write `tensors` (mapping name -> array-like) to `path` atomically.

    Tensors are laid out in the mapping's order.  `dtypes` optionally maps
    names to a safetensors dtype to store (e.g. "BF16" for float arrays);
    otherwise it follows the numpy dtype.  `metadata` values must be strings.
    """
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise SafetensorsError("metadata must be a dict")
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError(
                    "metadata %r: keys and values must be strings" % (k,))
    dtypes = dtypes or {}
    header = OrderedDict()
    if metadata:
        header["__metadata__"] = OrderedDict(metadata)
    blobs = []
    pos = 0
    for name, a in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise SafetensorsError("bad tensor name %r" % (name,))
        a = np.asarray(a)
        dt, blob = _encode(name, a, dtypes.get(name))
        header[name] = OrderedDict([
            ("dtype", dt),
            ("shape", [int(s) for s in a.shape]),
            ("data_offsets", [pos, pos + len(blob)]),
        ])
        blobs.append(blob)
        pos += len(blob)
    hbytes = json.dumps(header, separators=(",", ":"),
                        ensure_ascii=False).encode("utf-8")
    hbytes += b" " * ((-len(hbytes)) % 8)   # 8 + N is a multiple of 8

    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path),
                               suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(hbytes)))
            f.write(hbytes)
            for blob in blobs:
                f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ------------------------------------------------------------------- torch

def state_dict_to_numpy(sd):
    """torch state_dict -> (OrderedDict name -> np.ndarray, dtypes).

    dtypes maps BF16 tensors to "BF16" (their arrays are float32); pass it to
    save() to keep them BF16 on disk.
    """
    import torch
    out = OrderedDict()
    dtypes = {}
    for name, t in sd.items():
        t = t.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            out[name] = t.float().numpy().copy()
            dtypes[name] = "BF16"
        else:
            out[name] = t.numpy().copy()
    return out, dtypes


def numpy_to_state_dict(tensors, dtypes=None):
    """OrderedDict name -> np.ndarray -> OrderedDict name -> torch.Tensor."""
    import torch
    dtypes = dtypes or {}
    out = OrderedDict()
    for name, a in tensors.items():
        a = np.asarray(a)
        if not a.flags.c_contiguous:   # (ascontiguousarray would make 0-d 1-d)
            a = a.copy(order="C")
        t = torch.from_numpy(a)
        if dtypes.get(name) == "BF16":
            t = t.to(torch.bfloat16)
        out[name] = t
    return out


def save_state_dict(path, sd, metadata=None):
    tensors, dtypes = state_dict_to_numpy(sd)
    save(path, tensors, metadata, dtypes)


def load_state_dict(path):
    tensors, meta, dtypes = load_with_dtypes(path)
    return numpy_to_state_dict(tensors, dtypes), meta
