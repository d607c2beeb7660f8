"""The language-model corpus: Jane Austen's six novels from Debian's
r-cran-janeaustenr (the texts are public domain; the package is MIT).

The package ships them as an R lazy-load database (data/Rdata.rdb): six
zlib blobs, each an R-serialized character vector with one element per line
of the novel.  read_novels() parses exactly that (a 4-byte big-endian length,
a zlib stream, the XDR serialization of one STRSXP) and nothing more general.

Tokens are bytes (vocabulary 256) of the UTF-8 text; lines are joined with
"\n".  Fixed split by document: Persuasion is the held-out novel, the other
five (in the package's order) are the training text.

Utility is next-token accuracy on EVAL_TARGETS = 10,000 held-out bytes, so a
correct count reads like the Fashion-MNIST classifiers' (out of 10,000):
EVAL_WINDOWS windows of CONTEXT + 1 bytes spread evenly over Persuasion,
each scoring its last EVAL_SCORED predictions (every scored byte has at
least CONTEXT - EVAL_SCORED bytes of context).  Perplexity is exp(mean NLL)
over the same 10,000 targets.  The random baseline is the unigram one:
always predicting the most frequent training byte.
"""

import glob
import os
import struct
import subprocess
import zlib

import numpy as np

CONTEXT = 128
EVAL_WINDOWS = 100
EVAL_SCORED = 100
EVAL_TARGETS = EVAL_WINDOWS * EVAL_SCORED
HELDOUT = "Persuasion"
RDB = "janeaustenr/data/Rdata.rdb"


class DataError(RuntimeError):
    pass


def find_rdb():
    env = os.environ.get("JANEAUSTENR_RDB")
    if env:
        if os.path.isfile(env):
            return env
        raise DataError("JANEAUSTENR_RDB=%s: no such file" % env)
    hits = glob.glob("/usr/lib/R/site-library/" + RDB)
    if not hits:
        try:
            out = subprocess.run(["dpkg", "-L", "r-cran-janeaustenr"],
                                 capture_output=True, text=True).stdout
            hits = [l for l in out.splitlines() if l.endswith("/" + RDB)]
        except OSError:
            pass
    if not hits:
        raise DataError("Jane Austen corpus not found: install "
                        "r-cran-janeaustenr or set JANEAUSTENR_RDB")
    return hits[0]


def _strsxp(raw, where):
    """One XDR-serialized R character vector (format 3) -> list of lines."""
    if raw[:2] != b"X\n":
        raise DataError("%s: not an XDR serialization" % where)
    ver, = struct.unpack(">i", raw[2:6])
    p = 14
    if ver == 3:
        nel, = struct.unpack(">i", raw[p:p + 4])
        p += 4 + nel
    flags, n = struct.unpack(">ii", raw[p:p + 8])
    p += 8
    if flags & 0xFF != 16:
        raise DataError("%s: object type %d is not a character vector"
                        % (where, flags & 0xFF))
    lines = []
    for _ in range(n):
        f, ln = struct.unpack(">ii", raw[p:p + 8])
        p += 8
        if f & 0xFF != 9:
            raise DataError("%s: element type %d is not a string"
                            % (where, f & 0xFF))
        if ln >= 0:    # -1 is NA: no line
            lines.append(raw[p:p + ln].decode("utf-8"))
            p += ln
    return lines


def read_novels(path=None):
    """-> list of (title, text) in the package's order."""
    path = path or find_rdb()
    with open(path, "rb") as f:
        blob = f.read()
    out, off = [], 0
    while off < len(blob):
        n, = struct.unpack(">I", blob[off:off + 4])
        z = zlib.decompressobj()
        raw = z.decompress(blob[off + 4:])
        if len(raw) != n:
            raise DataError("%s: blob at %d: %d bytes, header says %d"
                            % (path, off, len(raw), n))
        off = len(blob) - len(z.unused_data)
        lines = _strsxp(raw, "%s@%d" % (path, off))
        out.append((lines[0].strip(), "\n".join(lines) + "\n"))
    return out


def load():
    """-> (train uint8 array, held-out uint8 array)."""
    novels = read_novels()
    held = [t for name, t in novels if name.lower() == HELDOUT.lower()]
    if len(novels) != 6 or len(held) != 1:
        raise DataError("expected six novels including %s, found %s"
                        % (HELDOUT, ", ".join(n for n, _ in novels)))
    train = "".join(t for name, t in novels if name.lower() != HELDOUT.lower())
    enc = lambda s: np.frombuffer(s.encode("utf-8"), dtype=np.uint8)
    return enc(train), enc(held[0])


def eval_windows(held):
    """-> int64 array (EVAL_WINDOWS, CONTEXT + 1), evenly spaced."""
    step = (len(held) - CONTEXT - 1) // (EVAL_WINDOWS - 1)
    return np.stack([held[i * step:i * step + CONTEXT + 1]
                     for i in range(EVAL_WINDOWS)]).astype(np.int64)


def unigram_correct(train, windows):
    """Correct count of always predicting the most frequent training byte."""
    top = int(np.bincount(train, minlength=256).argmax())
    return int((windows[:, -EVAL_SCORED:] == top).sum())


def evaluate(model, windows):
    """-> (correct, total, summed NLL in nats) over the scored targets."""
    import torch
    import torch.nn.functional as F
    w = torch.from_numpy(windows)
    model.eval()
    with torch.no_grad():
        logits = model(w[:, :-1])[:, -EVAL_SCORED:]
        tgt = w[:, -EVAL_SCORED:]
        correct = int((logits.argmax(-1) == tgt).sum())
        nll = float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                    tgt.reshape(-1), reduction="sum"))
    return correct, int(tgt.numel()), nll
