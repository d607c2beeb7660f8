#!/bin/bash
# stream_mem.sh - corelockerd's memory while slow clients read big key
# volumes (issue 9, item 8): for each model size, READERS clients fetch the
# full tier at 1 KiB/s and hold on; once all are streaming (the
# corelockerd_key_deliveries_in_flight gauge) and their socket buffers are
# full, the daemon's VmRSS and VmHWM are read from /proc and set against its
# idle VmRSS and the size of the shared unsealed slice.
#
# usage: bench/stream_mem.sh [-r READERS] [-s "GIB..."] [-o DIR]
#   -r READERS  slow clients per size (default 64; max_deliveries is set to it)
#   -s LIST     model sizes in GiB for bench/gen_model.py, locked at ratio 0.5
#               with neuron units, so the full-tier volume is about half
#               (default "0.035 0.07 0.135 0.27": ~16, 32, 64, 128 MiB volumes)
#   -o DIR      results (default /tmp/clstream): stream-mem.md
# environment: CORELOCKERD, CTL, VOLCHECK (default: this tree's builds), PYTHON
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
READERS=64
SIZES="0.035 0.07 0.135 0.27"
OUT=/tmp/clstream
while getopts "r:s:o:" o; do
	case $o in
	r) READERS=$OPTARG ;;
	s) SIZES=$OPTARG ;;
	o) OUT=$OPTARG ;;
	*) sed -n '2,16p' "$0" >&2; exit 2 ;;
	esac
done
export CORELOCKERD=${CORELOCKERD:-$top/server/corelockerd} CTL=${CTL:-$top/ctl/corelockerctl}
export VOLCHECK=${VOLCHECK:-$top/tests/server/volcheck} PYTHON=${PYTHON:-/usr/bin/python3} top_srcdir=$top
mkdir -p "$OUT"
. "$top/tests/server/common.sh"
set +e

PIDS=
stop_readers() {
	for p in $PIDS; do kill "$p" 2> /dev/null; done
	for p in $PIDS; do wait "$p" 2> /dev/null; done
	PIDS=
}
trap 'stop_readers; cleanup' EXIT
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DPID/status"; }
in_flight() {
	call GET /metrics
	awk '$1 == "corelockerd_key_deliveries_in_flight" { print $2 }' "$T/body"
}

{
	echo "| volume MiB | shared slice MiB | readers | idle VmRSS MiB | VmRSS MiB | VmHWM MiB | peak above idle MiB | peak above idle + slice, per delivery KiB |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$OUT/stream-mem.md"
make_cert
for size in $SIZES; do
	rm -rf "$T/var"
	write_conf "max_deliveries = $READERS" "max_connections_per_ip = $((READERS + 8))"
	sed -i 's/^max_body = .*/max_body = 900M/' "$T/d.conf"
	init_db
	start
	"$PY" "$top/bench/gen_model.py" "$T/m.safetensors" --size-gib "$size" > /dev/null 2>&1 || fail "gen_model $size"
	"$CTL" lock "$T/m.safetensors" -o "$T/m.locked" -k "$T/m.clkey" --ratio 0.5 --unit neuron --scope layer \
		> /dev/null || fail "lock"
	rm -f "$T/m.safetensors" "$T/m.locked"
	api POST "/v1/models?name=big&version=1" --data-binary "@$T/m.clkey"
	expect 201 "push"
	rm -f "$T/m.clkey"
	MID=$(jget '["id"]')
	api PUT "/v1/models/$MID/tiers/full" -d '{"ratio":0}'
	expect 201 "tier"
	SLICE=$(($(jget '["bytes"]') + $(jget '["entries"]') * 40))
	api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"full\",\"customer\":\"c\"}"
	KEY=$(jget '["key"]')
	post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\"}"
	stop
	start
	IDLE=$(kb VmRSS)
	for _ in $(seq 1 "$READERS"); do
		curl -sS --cacert "$T/tls.crt" --limit-rate 1K -o /dev/null -H 'Content-Type: application/json' \
			--data-binary "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\",\"nonce\":\"n\"}" "$URL/v1/key" 2> /dev/null &
		PIDS="$PIDS $!"
	done
	for _ in $(seq 1 1200); do
		[ "$(in_flight)" = "$READERS" ] && break
		sleep 0.1
	done
	[ "$(in_flight)" = "$READERS" ] || fail "size $size: only $(in_flight) deliveries in flight"
	sleep 3
	VOL=$(db_count "SELECT json_extract(detail, '$.bytes') FROM audit WHERE action = 'key.deliver' LIMIT 1")
	RSS=$(kb VmRSS)
	HWM=$(kb VmHWM)
	stop_readers
	stop
	awk -v v="$VOL" -v s="$SLICE" -v r="$READERS" -v i="$IDLE" -v rss="$RSS" -v h="$HWM" 'BEGIN {
		printf "| %.1f | %.1f | %d | %.1f | %.1f | %.1f | %.1f | %.0f |\n", v / 1048576, s / 1048576, r, i / 1024,
			rss / 1024, h / 1024, (h - i) / 1024, ((h - i) - s / 1024) / r }' >> "$OUT/stream-mem.md"
	tail -n 1 "$OUT/stream-mem.md"
done
cat "$OUT/stream-mem.md"
