#!/usr/bin/python3
"""Run a command and report its peak anonymous memory (RssAnon).

usage: peak_rss_anon.py [--interval 0.01] [--json] -- CMD [ARG...]

VmRSS/VmHWM (and GNU time's %M) count the file pages a process has mmapped,
so a tool that maps a 1 GiB model looks like it uses 1 GiB.  RssAnon counts
only anonymous pages (heap, stacks, private copies), which is the memory the
process really costs.  The kernel keeps no high-water mark for it, so this
polls /proc/PID/status every INTERVAL seconds (default 10 ms) while the
command runs and reports the maximum, with the peak RssFile and VmHWM for
reference.  A spike shorter than the interval can be missed.

The command is exec'd directly (no shell), so PID is the command itself.
Prints one line (or a JSON object with --json) on stderr:
  peak_rss_anon_kib=N peak_rss_file_kib=N vm_hwm_kib=N wall_s=S samples=N rc=N
and exits with the command's status.
"""
import json
import os
import subprocess
import sys
import time


def status(pid):
    d = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("RssAnon", "RssFile", "VmHWM"):
                    d[k] = int(v.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return d


def main():
    args, interval, as_json = sys.argv[1:], 0.01, False
    while args and args[0] != "--":
        if args[0] == "--interval":
            interval = float(args[1])
            args = args[2:]
        elif args[0] == "--json":
            as_json, args = True, args[1:]
        else:
            sys.exit(__doc__)
    if not args or len(args) < 2:
        sys.exit(__doc__)
    cmd = args[1:]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd)
    peak = {"RssAnon": 0, "RssFile": 0, "VmHWM": 0}
    samples = 0
    while p.poll() is None:
        s = status(p.pid)
        if s:
            samples += 1
            for k in peak:
                peak[k] = max(peak[k], s.get(k, 0))
        time.sleep(interval)
    wall = time.monotonic() - t0
    r = {"peak_rss_anon_kib": peak["RssAnon"], "peak_rss_file_kib": peak["RssFile"],
         "vm_hwm_kib": peak["VmHWM"], "wall_s": round(wall, 3), "samples": samples,
         "rc": p.returncode}
    if as_json:
        print(json.dumps(r), file=sys.stderr)
    else:
        print(" ".join("%s=%s" % kv for kv in r.items()), file=sys.stderr)
    sys.exit(p.returncode)


if __name__ == "__main__":
    main()
