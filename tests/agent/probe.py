#!/usr/bin/env python3
"""probe.py - the CMD of tests/agent/t_run.sh: what `corelocker-agent run`
hands its command.  Prints one line describing $CORELOCKER_MODEL (path,
SHA-256 of the bytes read through a mapping, memfd seals, the {model}
argument), then waits, printing every signal it gets.

  probe.py [{model}] [--exit N] [--term-exit N] [--ignore-term]
"""
import fcntl
import hashlib
import json
import mmap
import os
import signal
import sys
import time

F_GET_SEALS = 1034  # linux/fcntl.h; Python's fcntl module has it only from 3.8 on some builds


def sha_of(path, keep):
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        keep.append(m)  # stays mapped: /proc/PID/maps shows it
        return hashlib.sha256(m).hexdigest(), fcntl.fcntl(f.fileno(), F_GET_SEALS)


def main():
    args = sys.argv[1:]
    opt = {"--exit": None, "--term-exit": None}
    ignore_term = "--ignore-term" in args
    for k in opt:
        if k in args:
            opt[k] = int(args[args.index(k) + 1])
    path = os.environ["CORELOCKER_MODEL"]
    keep = []
    sha, seals = sha_of(path, keep)
    line = "model=%s sha256=%s seals=%d pid=%d arg=%s" % (path, sha, seals, os.getpid(), args[0] if args else "")
    with open(path, "rb") as f:
        head = f.read(1)
    if head == b"{":  # a generated index: one line per shard it points at
        wm = json.load(open(path))["weight_map"]
        for p in sorted(set(wm.values())):
            s, sl = sha_of(p, keep)
            line += "\nshard=%s sha256=%s seals=%d" % (p, s, sl)
    print(line, flush=True)
    if opt["--exit"] is not None:
        sys.exit(opt["--exit"])

    def on(sig, _frame):
        print("signal %s" % signal.Signals(sig).name, flush=True)
        if sig == signal.SIGTERM and not ignore_term:
            sys.exit(opt["--term-exit"] or 0)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, on)
    while True:
        time.sleep(3600)


main()
