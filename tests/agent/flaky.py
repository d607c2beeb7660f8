#!/usr/bin/env python3
"""flaky.py NAME MODE DIR [PATH BACKEND_PORT]: a server on 127.0.0.1 that
fails in one way, for the failover tests.  It writes its port to
DIR/NAME.port and one line per request it read, "METHOD PATH", to
DIR/NAME.log, and serves until killed.

Requests for paths that start with PATH (default: every path) fail by MODE;
the others are passed on to the daemon on BACKEND_PORT and its answers
relayed, so a client can get as far as the call under test.

MODE:
  close  accept the TCP connection and close it at once: the TLS handshake
         fails, no request ever left the client (PATH does not apply)
  drop   TLS (DIR/tls.crt, DIR/tls.key), read the whole request, close
         without an answer: the request arrived, its outcome is unknown
  503    answer 503 UNAVAILABLE with Retry-After: 1
  cut    relay the daemon's answer but close after half of its body: a
         transfer failure mid-answer, with real bytes before it
  flip   relay the daemon's answer with one bit of its body flipped, at
         three quarters of it (the key volume's entries: its signature
         fails, but only once the whole body arrived)
  v2     relay the request without its Accept header (an agent from before
         key volume version 3: the daemon answers version 2), the answer as is
"""
import os
import socket
import ssl
import sys

name, mode, d = sys.argv[1], sys.argv[2], sys.argv[3]
fail_path = sys.argv[4] if len(sys.argv) > 4 else "/"
backend = int(sys.argv[5]) if len(sys.argv) > 5 else 0


def read_request(c):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = c.recv(65536)
        if not chunk:
            return None
        body += chunk
    method, path = lines[0].split(" ")[:2]
    with open(os.path.join(d, name + ".log"), "a") as f:
        f.write("%s %s\n" % (method, path))
    return method, path, lines, body


def ask_backend(lines, body):
    """The daemon's whole answer to the request, asked with Connection: close."""
    cctx = ssl.create_default_context(cafile=os.path.join(d, "tls.crt"))
    with socket.create_connection(("127.0.0.1", backend)) as raw:
        with cctx.wrap_socket(raw, server_hostname="127.0.0.1") as b:
            keep = [l for l in lines if not l.lower().startswith("connection:")]
            b.sendall(("\r\n".join(keep + ["Connection: close"]) + "\r\n\r\n").encode("latin-1") + body)
            out = b""
            while True:
                chunk = b.recv(65536)
                if not chunk:
                    return out
                out += chunk


def serve(c):
    if mode == "close":
        return
    with ctx.wrap_socket(c, server_side=True) as t:
        while True:
            req = read_request(t)
            if not req:
                return
            method, path, lines, body = req
            if not path.startswith(fail_path):
                t.sendall(ask_backend(lines, body))
                return  # the relayed answer says Connection: close
            if mode == "503":
                err = b'{"error":{"code":"UNAVAILABLE","message":"the database is unreachable"}}'
                t.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                          b"Content-Type: application/json\r\nConnection: close\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(err), err))
            elif mode == "flip":
                ans = ask_backend(lines, body)
                head, _, rest = ans.partition(b"\r\n\r\n")
                if b"chunked" in head.lower():
                    raise ValueError("flip needs a Content-Length answer")
                at = len(rest) * 3 // 4
                t.sendall(head + b"\r\n\r\n" + rest[:at] + bytes([rest[at] ^ 0x10]) + rest[at + 1:])
            elif mode == "v2":
                t.sendall(ask_backend([l for l in lines if not l.lower().startswith("accept:")], body))
            elif mode == "cut":
                ans = ask_backend(lines, body)
                head, _, rest = ans.partition(b"\r\n\r\n")
                t.sendall(head + b"\r\n\r\n" + rest[: len(rest) // 2])
            return


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
if mode != "close":
    ctx.load_cert_chain(os.path.join(d, "tls.crt"), os.path.join(d, "tls.key"))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
tmp = os.path.join(d, name + ".port.tmp")
with open(tmp, "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(tmp, os.path.join(d, name + ".port"))
while True:
    c, _ = s.accept()
    try:
        serve(c)
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        c.close()
