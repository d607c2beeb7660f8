#!/usr/bin/env python3
"""journal.py - build undo journals (docs/formats.md) the way an attacker can.

  journal.py v1 FILE OUT OFF HEX   a version 1 journal (SHA-256 trailer only,
                                   what agents before journal version 2 read):
                                   "put back" the bytes HEX at OFF of FILE
  journal.py v2 FILE OUT OFF HEX KEYFILE
                                   the same as version 2, MACed under KEYFILE
  journal.py remac IN OUT KEYFILE  IN (version 2 or 3) with its MAC recomputed
                                   under KEYFILE
"""
import hashlib
import hmac
import os
import struct
import sys

MAGIC = b"CLJRNL\r\n"


def mac(key, body):
    """The MAC of a journal, under the context of its version (bytes 8..12)."""
    context = b"corelocker-journal-v%d\0" % struct.unpack("<I", body[8:12])
    return hmac.new(key, context + hashlib.sha256(body).digest(), hashlib.sha256).digest()


def spans(off, data):
    return struct.pack("<QI", off, len(data)) + data + struct.pack("<Q", 1)


def main(a):
    if a[0] == "remac":
        body = open(a[1], "rb").read()[:-32]
        open(a[2], "wb").write(body + mac(open(a[3], "rb").read(), body))
        return
    path, out, off, data = a[1], a[2], int(a[3]), bytes.fromhex(a[4])
    st = os.stat(path)  # follows a symbolic link, as the attacker intends
    if a[0] == "v1":
        body = MAGIC + struct.pack("<IIQQ", 1, 0, st.st_size, 0) + spans(off, data)
        open(out, "wb").write(body + hashlib.sha256(body).digest())
    else:
        body = MAGIC + struct.pack("<IIQQQQ", 2, 0, st.st_size, st.st_dev, st.st_ino, 0) + spans(off, data)
        open(out, "wb").write(body + mac(open(a[5], "rb").read(), body))


main(sys.argv[1:])
