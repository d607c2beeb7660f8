#!/bin/bash
# key_ttfb.sh - how long POST /v1/key takes to its first byte and to its
# last, per key volume version: a local corelockerd (this tree's build) with
# KEY's model and a full tier (ratio 0), one license, then ROUNDS x (v2, v3)
# requests timed by curl (time_starttransfer, time_total, size_download),
# and the daemon's resident memory before those requests and its peak
# during them (VmHWM, reset once the model is pushed and the tier cut).
#
# usage: bench/key_ttfb.sh KEY.clkey [ROUNDS] [DIR]
#   ROUNDS  default 2; DIR the daemon's scratch directory (default /tmp/clttfb)
# environment: CTL, CORELOCKERD (default: this tree's builds); SLICE_CACHE
# (the daemon's [limits] slice_cache, default 64M)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=bench/common.sh
. "$here/common.sh"
CTL=${CTL:-$root/ctl/corelockerctl}
CORELOCKERD=${CORELOCKERD:-$root/server/corelockerd}
[ $# -ge 1 ] || { sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 2; }
key=$1 rounds=${2:-2} s=${3:-/tmp/clttfb}
trap '[ -z "${DPID:-}" ] || { kill $DPID; wait $DPID 2>/dev/null; }; rm -rf "$s"' EXIT
bench_daemon "$s" "$CORELOCKERD" "$key"
echo 5 > "/proc/$DPID/clear_refs" # VmHWM from here on: the deliveries only
rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$DPID/status")
for ((r = 0; r < rounds; r++)); do
	for v in 2 3; do
		printf 'v%s ' "$v"
		curl -sS --cacert "$s/tls.crt" -H 'Content-Type: application/json' \
			-H "Accept: application/vnd.corelocker.volume; version=$v" -o /dev/null \
			-w 'first byte %{time_starttransfer} s, all %{time_total} s, %{size_download} bytes\n' \
			-d "{\"license_key\":\"$LKEY\",\"fingerprint\":\"bench\",\"nonce\":\"t$r$v\"}" "$URL/v1/key"
	done
done
echo "daemon RSS before the deliveries: $rss0 kB, peak during them: $(awk '/^VmHWM/ {print $2, $3}' "/proc/$DPID/status")"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
