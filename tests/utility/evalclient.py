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


def read_line(conn):
    """Bytes from CONN up to and including the first newline (or EOF)."""
    buf = b""
    while not buf.endswith(b"\n"):
        b = conn.recv(4096)
        if not b:
            break
        buf += b
    return buf


class EvalServer:
    """The other end: answers this client on the Unix socket PATH with
    EVALUATE(arch, path) -> accuracy, from the caller's (torch-loaded)
    process, until the process PROC it waits for ends.  CALLS records the
    accuracies answered."""

    def __init__(self, path, evaluate):
        self.path, self.evaluate = path, evaluate
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.calls = []

    def serve_until(self, proc):
        import select
        while proc.poll() is None:
            if not select.select([self.sock], [], [], 0.2)[0]:
                continue
            conn, _ = self.sock.accept()
            with conn:
                try:
                    req = json.loads(read_line(conn).decode())
                    a = self.evaluate(req["arch"], req["path"])
                    self.calls.append(a)
                    conn.sendall(("ok %.2f\n" % a).encode())
                except Exception as e:   # the client reports it, exit 2
                    conn.sendall(("error %s\n" % e).encode())
        self.sock.close()


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("evalclient.py: usage: evalclient.py SOCKET ARCH FILE\n")
        return 2
    sock, arch, path = argv
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.sendall((json.dumps({"arch": arch, "path": path}) + "\n").encode())
        buf = read_line(s)
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
