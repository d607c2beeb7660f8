#!/bin/bash
# build_ctl.sh - a private, optimised build of corelockerctl for benchmarks.
#
# usage: bench/build_ctl.sh [REV|--worktree] [DEST]
#   REV         git revision to build (default HEAD), exported with git archive
#   --worktree  build the working tree as it is now (tracked and untracked,
#               non-ignored files), uncommitted edits included
#   DEST        build directory (default /tmp/clbench/build)
# Prints the path of the built binary.  CC and CFLAGS may be set (default
# gcc, -g -O2 as configure picks them); TARGET names another program of the
# tree to build (default ctl/corelockerctl; server/corelockerd for
# bench/server_bench.sh).
#
# Why: ./ctl/corelockerctl in the shared tree is rebuilt by whoever runs make
# there, sometimes with --enable-sanitizers; an ASan binary is several times
# slower.  Benchmarks use this copy (lock_bench.sh takes it through CTL=...).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
case ${1:-} in -h | --help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
rev=${1:-HEAD}
dest=${2:-/tmp/clbench/build}
if [ "$rev" != --worktree ] && ! git -C "$root" rev-parse -q --verify "$rev^{commit}" >/dev/null; then
	echo "build_ctl: '$rev' is not a commit of $root" >&2
	exit 2
fi

rm -rf "$dest"
mkdir -p "$dest"
if [ "$rev" = --worktree ]; then
	(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$dest" 2>/dev/null || true)
	desc="worktree at $(git -C "$root" rev-parse --short HEAD) ($(date -u +%FT%TZ))"
else
	git -C "$root" archive "$rev" | tar -x -C "$dest"
	desc="$(git -C "$root" rev-parse --short "$rev")"
fi
cd "$dest"
target=${TARGET:-ctl/corelockerctl}
rm -f ctl/*.o lib/*.lo lib/*.o server/*.o ctl/corelockerctl server/corelockerd
{
	./autogen.sh
	./configure --disable-sanitizers ${CC:+CC="$CC"} ${CFLAGS:+CFLAGS="$CFLAGS"}
	make -j2 "$target"
} >build.log 2>&1 || { tail -30 build.log >&2; exit 1; }
echo "$desc" >BUILD_INFO
echo "$dest/$target"
