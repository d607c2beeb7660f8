#!/bin/sh
# Runs one of the utility tests' Python programs (runpy.sh PROGRAM.py ARGS)
# with Debian's python3 and this tree's corelockerctl.  Missing torch,
# dataset or corelockerctl is a failure (exit 1), never a skip.
here=$(cd "$(dirname "$0")" && pwd)
top_builddir=${top_builddir:-$here/../..}
CTL=${CTL:-$top_builddir/ctl/corelockerctl}
PYTHON=${PYTHON:-/usr/bin/python3}
export CTL
if ! [ -x "$PYTHON" ]; then
	echo "FAIL: $PYTHON not found (scripts/setup.sh installs python3-torch)"
	exit 1
fi
prog=$1
shift
"$PYTHON" "$here/$prog" "$@"
rc=$?
# 77 would mean "skipped" to automake: never let that through.
[ "$rc" -eq 0 ] || exit 1
exit 0
