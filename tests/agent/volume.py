#!/usr/bin/env python3
"""volume.py - rewrite a key volume's header field and sign it again.

  volume.py set IN OUT FIELD JSON [SIGNKEY.pem]

OUT is IN with header FIELD set to the JSON value, signed again (version 2:
Ed25519 over "corelocker-volume-v2" NUL and the SHA-256 of every byte before
the signature; docs/formats.md) with the server's signing key through
`openssl pkeyutl`, as the server would have signed it; without SIGNKEY the
old signature is kept (so it no longer verifies).
"""
import hashlib
import json
import struct
import subprocess
import sys
import tempfile


def main(src, out, field, value, key=None):
    b = open(src, "rb").read()
    magic, version, hlen = b[:8], *struct.unpack("<II", b[8:16])
    assert magic == b"CLVOL\r\n\x1a" and version == 2, "not a version 2 key volume"
    header = json.loads(b[16:16 + hlen])
    header[field] = json.loads(value)
    h = json.dumps(header, separators=(",", ":")).encode()
    body = magic + struct.pack("<II", version, len(h)) + h + b[16 + hlen:-64]
    sig = b[-64:]
    if key:
        with tempfile.NamedTemporaryFile() as msg:
            msg.write(b"corelocker-volume-v2\0" + hashlib.sha256(body).digest())
            msg.flush()
            sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", msg.name],
                                 check=True, capture_output=True).stdout
            assert len(sig) == 64, "openssl gave no Ed25519 signature"
    open(out, "wb").write(body + sig)


main(*sys.argv[2:]) if sys.argv[1] == "set" else sys.exit(__doc__)
