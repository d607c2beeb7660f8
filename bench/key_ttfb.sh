#!/bin/bash
# key_ttfb.sh - how long POST /v1/key takes to its first byte and to its
# last, per key volume version: a local corelockerd (this tree's build) with
# KEY's model and a full tier (ratio 0), one license, then ROUNDS x (v2, v3)
# requests timed by curl (time_starttransfer, time_total, size_download).
#
# usage: bench/key_ttfb.sh KEY.clkey [ROUNDS] [DIR]
#   ROUNDS  default 2; DIR the daemon's scratch directory (default /tmp/clttfb)
# environment: CTL, CORELOCKERD (default: this tree's builds)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
CTL=${CTL:-$root/ctl/corelockerctl}
CORELOCKERD=${CORELOCKERD:-$root/server/corelockerd}
[ $# -ge 1 ] || { sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 2; }
key=$1 rounds=${2:-2} s=${3:-/tmp/clttfb}
rm -rf "$s"
mkdir -p "$s/var"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$s/tls.key" -out "$s/tls.crt" \
	-days 1 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
printf '[server]\nlisten = 127.0.0.1\nport = 0\ntls_cert = tls.crt\ntls_key = tls.key\n[storage]\ndatabase = var/d.db\n[keys]\nsigning_key = var/s.key\nmaster_key = var/m.key\n[limits]\nmax_body = 512M\nrate = 0\nlicense_rate = 0\nactivate_rate = 0\n[log]\nlevel = info\n' > "$s/d.conf"
TOKEN=$("$CORELOCKERD" init -c "$s/d.conf" 2>/dev/null | tail -n 1)
"$CORELOCKERD" -c "$s/d.conf" 2> "$s/log" &
DPID=$!
trap 'kill $DPID; wait $DPID 2>/dev/null; rm -rf "$s"' EXIT
URL=
for _ in $(seq 1 600); do
	URL=$(grep -o 'https://127.0.0.1:[0-9]*' "$s/log" | head -n 1) || true
	[ -n "$URL" ] && break
	sleep 0.05
done
[ -n "$URL" ] || { echo "key_ttfb: corelockerd did not start" >&2; exit 1; }
export CORELOCKER_SERVER=$URL CORELOCKER_CACERT=$s/tls.crt CORELOCKER_TOKEN=$TOKEN
"$CTL" model push "$key" --name bench > /dev/null
"$CTL" tier set bench full --ratio 0 > /dev/null
LKEY=$("$CTL" license issue --model bench --tier full --customer bench --max-machines 10 --json 2>/dev/null |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
curl -sS --cacert "$s/tls.crt" -H 'Content-Type: application/json' -o /dev/null \
	-d "{\"license_key\":\"$LKEY\",\"fingerprint\":\"bench\"}" "$URL/v1/activate"
for ((r = 0; r < rounds; r++)); do
	for v in 2 3; do
		printf 'v%s ' "$v"
		curl -sS --cacert "$s/tls.crt" -H 'Content-Type: application/json' \
			-H "Accept: application/vnd.corelocker.volume; version=$v" -o /dev/null \
			-w 'first byte %{time_starttransfer} s, all %{time_total} s, %{size_download} bytes\n' \
			-d "{\"license_key\":\"$LKEY\",\"fingerprint\":\"bench\",\"nonce\":\"t$r$v\"}" "$URL/v1/key"
	done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
