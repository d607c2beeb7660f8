#!/bin/bash
# overlap_bench.sh - when the agent's shard passes start while the key volume
# downloads (docs/bench.md, "The agent's overlap"): each agent once per
# download cap, its wall time and its CORELOCKER_TEST_OVERLAP_TRACE lines
# (the bytes arrived when each shard's pass got its first entry; an agent
# from before the overlap prints none).
#
# usage: bench/overlap_bench.sh DIR KEY LOCKED AGENT...
#   DIR     work directory (its srv/ and out.* are replaced)
#   KEY     the .clkey LOCKED was locked with (bench/patch_bench.sh leaves
#           DIR/model.clkey and DIR/locked.d)
#   LOCKED  the locked model: a file or a sharded *.index.json
#   AGENT   agent binaries (bench/build_ctl.sh with TARGET=client/corelocker-agent)
# environment: CAPS (download caps in bytes/s, 0 = none; default "0 10485760
#   4194304"), CTL, CORELOCKERD (default: this tree's builds)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=bench/common.sh
. "$here/common.sh"
CTL=${CTL:-$root/ctl/corelockerctl}
CORELOCKERD=${CORELOCKERD:-$root/server/corelockerd}
[ $# -ge 4 ] || { sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 2; }
dir=$1 key=$2 lk=$3
shift 3
mkdir -p "$dir"
DPID=
trap '[ -z "$DPID" ] || { kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null || true; }; rm -rf "$dir"/out.*' EXIT
bench_daemon "$dir/srv" "$CORELOCKERD" "$key" > /dev/null
for cap in ${CAPS:-0 10485760 4194304}; do
	n=0
	for a in "$@"; do
		n=$((n + 1))
		rm -rf "$dir/out.$n" "$dir/out.$n.clstate"
		sync
		t0=$EPOCHREALTIME
		CORELOCKER_TEST_MAX_RECV_SPEED=$cap CORELOCKER_TEST_OVERLAP_TRACE=1 "$a" unlock "$lk" -o "$dir/out.$n" \
			--license "$LKEY" --server-key "$dir/srv/pub.pem" --fingerprint bench > "$dir/$n.out" 2> "$dir/$n.err"
		t1=$EPOCHREALTIME
		printf 'cap %s B/s, %s: %s s, %s; passes: %s\n' "$cap" "$a" "$(/usr/bin/python3 -c "print('%.3f' % ($t1 - $t0))")" \
			"$(grep -o '[0-9]* bytes transferred' "$dir/$n.out")" \
			"$(sed -n 's/.*test: shard \([0-9]*\) patching from byte \([0-9]*\)/\1@\2/p' "$dir/$n.err" | tr '\n' ' ')"
	done
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
