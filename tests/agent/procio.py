#!/usr/bin/env python3
"""procio.py OUT CMD [ARG...]: run CMD; when it has exited, and before it is
reaped, copy its /proc/PID/io (every thread's I/O counters: wchar, the bytes
it handed to write(2) and pwrite(2); write_bytes, the bytes of the pages it
dirtied) to OUT.  Exits with CMD's status."""
import os
import subprocess
import sys

p = subprocess.Popen(sys.argv[2:])
os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # a zombie keeps its counters
with open(f"/proc/{p.pid}/io") as f, open(sys.argv[1], "w") as out:
    out.write(f.read())
rc = p.wait()
sys.exit(rc if rc >= 0 else 128 - rc)
