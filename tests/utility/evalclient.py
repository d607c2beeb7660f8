#!/usr/bin/python3
"""Thin --eval-cmd for `corelockerctl calibrate` inside test_utility.py.

usage: evalclient.py SOCKET ARCH FILE

Asks the evaluator that test_utility.py serves on the Unix socket SOCKET
(torch already imported, test set already loaded) for the accuracy of FILE,
and prints it as eval.py does: percent with two decimals, alone on the last
stdout line.  The evaluation is the same computation as `eval.py ARCH FILE`
(test_utility.py checks one calibrated tier against eval.py itself); this
client only saves calibrate the 2 s `import torch` per candidate tier.
It imports nothing heavy.  On error: one line on stderr, exit status 2.
"""

import json
import socket
import sys


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("evalclient.py: usage: evalclient.py SOCKET ARCH FILE\n")
        return 2
    sock, arch, path = argv
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.sendall((json.dumps({"arch": arch, "path": path}) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                break
            buf += b
        s.close()
    except OSError as e:
        sys.stderr.write("evalclient.py: error: %s: %s\n" % (sock, e))
        return 2
    reply = buf.decode().strip()
    if not reply.startswith("ok "):
        sys.stderr.write("evalclient.py: error: %s\n" % (reply or "no reply"))
        return 2
    print(reply[3:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
