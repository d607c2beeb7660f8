#!/usr/bin/python3
"""rawhttp.py - raw bytes to corelockerd over real TLS, for the HTTP tests.

  rawhttp.py send PORT [--bind ADDR]      send stdin as is; print the answer
                                          (all of it, until the server closes
                                          or 5 s of silence) on stdout
  rawhttp.py slow PORT --count N --every S --max T [--bind ADDR] [--body]
                                          open N connections that send a
                                          request head one header line every S
                                          seconds (--body: a head at once, then
                                          one body byte every S seconds); print
                                          for each the seconds until the server
                                          closed it, or "open" after T seconds
  rawhttp.py upload PORT --file F --target T --token TOK
                                          POST F to T, stopping halfway: print
                                          "half" and wait until stdin closes
  rawhttp.py hold PORT --count N [--bind ADDR]
                                          open N TLS connections, print how many
                                          handshakes succeeded, and keep them open
                                          until stdin closes
"""
import argparse
import select
import socket
import ssl
import sys
import time


def connect(port, bind=None, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if bind:
        s.bind((bind, 0))
    s.connect(("127.0.0.1", port))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(s, server_hostname="localhost")


def send(a):
    t = connect(a.port, a.bind)
    t.sendall(sys.stdin.buffer.read())
    t.settimeout(5)
    out = b""
    try:
        while True:
            d = t.recv(65536)
            if not d:
                break
            out += d
    except (socket.timeout, ssl.SSLError, ConnectionError):
        pass
    sys.stdout.buffer.write(out)


def closed(t):
    """True when the server closed T (EOF or reset)."""
    try:
        t.setblocking(False)
        d = t.recv(65536)
        return d == b""
    except ssl.SSLWantReadError:
        return False
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    finally:
        t.setblocking(True)


def slow(a):
    t0 = time.monotonic()
    conns = []
    for _ in range(a.count):
        t = connect(a.port, a.bind)
        if a.body:
            t.sendall(b"POST /v1/activate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n")
        else:
            t.sendall(b"GET /healthz HTTP/1.1\r\n")
        conns.append([t, None])
    n = 0
    while time.monotonic() - t0 < a.max and any(c[1] is None for c in conns):
        for c in conns:
            if c[1] is not None:
                continue
            try:
                c[0].sendall(b"{" if a.body else b"X-Slow-%d: x\r\n" % n)
            except (ssl.SSLError, ConnectionError, OSError):
                c[1] = time.monotonic() - t0
                continue
            if closed(c[0]):
                c[1] = time.monotonic() - t0
        n += 1
        end = time.monotonic() + a.every
        while time.monotonic() < end:
            live = [c[0] for c in conns if c[1] is None]
            if not live:
                break
            r, _, _ = select.select(live, [], [], max(0, end - time.monotonic()))
            for c in conns:
                if c[1] is None and c[0] in r and closed(c[0]):
                    c[1] = time.monotonic() - t0
    for c in conns:
        print("open" if c[1] is None else "%.2f" % c[1])


def hold(a):
    conns, ok = [], 0
    for _ in range(a.count):
        try:
            conns.append(connect(a.port, a.bind, timeout=5))
            ok += 1
        except (ssl.SSLError, ConnectionError, OSError, socket.timeout):
            pass
    print(ok, flush=True)
    sys.stdin.read()


def upload(a):
    data = open(a.file, "rb").read()
    t = connect(a.port)
    t.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
              % (a.target.encode(), a.token.encode(), len(data)))
    t.sendall(data[:len(data) // 2])
    print("half", flush=True)
    sys.stdin.read()
    try:
        t.sendall(data[len(data) // 2:])
        print(t.recv(65536).split(b"\r\n")[0].decode())
    except (ssl.SSLError, ConnectionError, OSError):
        print("closed")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["send", "slow", "hold", "upload"])
    p.add_argument("port", type=int)
    p.add_argument("--bind")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--every", type=float, default=1)
    p.add_argument("--max", type=float, default=30)
    p.add_argument("--body", action="store_true")
    p.add_argument("--file")
    p.add_argument("--target")
    p.add_argument("--token")
    a = p.parse_args()
    {"send": send, "slow": slow, "hold": hold, "upload": upload}[a.cmd](a)


if __name__ == "__main__":
    main()
