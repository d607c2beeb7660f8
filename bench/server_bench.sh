#!/bin/bash
# server_bench.sh - corelockerd's throughput, latency and memory over TLS on
# loopback, against nginx serving the same bytes as static files (issue 4).
#
# usage: bench/server_bench.sh [-d SECS] [-c LIST] [-l LIST] [-t N] [-m SECS] [-T N] [-W N] [-o DIR] [-k] [-p]
#   -d SECS   length of each wrk run (default 20)
#   -c LIST   connection counts, space-separated (default "16 64")
#   -l LIST   payloads (default "validate key-10k key-1m")
#   -t N      wrk threads (default 2)
#   -m SECS   memory soak (default 300; 0 skips it): validate and the 1 MiB
#             key at 64 connections (two wrk, 32 each) while the daemon's
#             VmRSS and RssAnon are read from /proc every 10 s
#   -T N      corelockerd [server] threads (default 4, its shipped default)
#   -W N      nginx worker_processes (default 2: one per core, as 'auto'
#             picks on this 2-core machine)
#   -o DIR    results (default /tmp/clsrv): server-results.{tsv,md},
#             soak.tsv, conditions.txt and the raw wrk outputs
#   -k        keep the work folder (certificate, database, logs) in DIR/work
#   -p        profile: perf record (cpu-clock, DWARF call graphs) of
#             corelockerd during each of its runs, summaries in
#             DIR/perf.PAYLOAD.CONNS.txt (perturbs the figures; for diagnosis)
# environment: CORELOCKERD, CTL (default: this tree's builds; a sanitizer
#   build is refused), PY (default /usr/bin/python3, with numpy), NGINX
#   (default /usr/sbin/nginx)
#
# Needs wrk and nginx-light: installed with apt-get when run as root,
# otherwise it says what to install.
#
# The payloads, each measured at every connection count against both servers
# with the same wrk settings, keep-alive, TLS 1.2+ and the same certificate:
#   validate   POST /v1/validate (a signed JSON answer); nginx serves a file of
#              exactly that answer's bytes
#   key-10k    POST /v1/key of a ~10 KiB volume; nginx: the same volume's bytes
#   key-1m     POST /v1/key of a ~1 MiB volume; nginx: the same volume's bytes
# The volumes are two tiers of one model (bench/gen_model.py, 16 MiB, locked
# at ALPHA): "full" (ratio 0, ~1 MiB) and "small" (ratio SMALL, ~10 KiB).
# Every corelockerd answer must be a 200: the run fails on any wrk status
# error and on any non-200 that /metrics counted for the route.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"
root=$(dirname "$here")
PY=${PY:-/usr/bin/python3}
CORELOCKERD=${CORELOCKERD:-$root/server/corelockerd}
CTL=${CTL:-$root/ctl/corelockerctl}
NGINX=${NGINX:-/usr/sbin/nginx}
ALPHA=0.01267 SMALL=0.01255 # ~52,400 and ~480 restored F32 elements: volumes of 1 MiB and 10 KiB
SAMPLE=10                    # seconds between two RSS samples in the soak
dur=20 conns="16 64" wthreads=2 soak=300 dthreads=4 nworkers=2 out=/tmp/clsrv keep=0 prof=0
payloads="validate key-10k key-1m"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while getopts "d:c:l:t:m:T:W:o:kph" o; do
	case $o in
	d) dur=$OPTARG ;; c) conns=$OPTARG ;; l) payloads=$OPTARG ;; t) wthreads=$OPTARG ;; m) soak=$OPTARG ;;
	T) dthreads=$OPTARG ;; W) nworkers=$OPTARG ;; o) out=$OPTARG ;; k) keep=1 ;; p) prof=1 ;;
	h) usage; exit 0 ;; *) usage >&2; exit 2 ;;
	esac
done
die() { echo "server_bench: $*" >&2; exit 1; }
note() { echo "server_bench: $*" >&2; }

# ---- tools ----
missing=()
command -v wrk > /dev/null || missing+=(wrk)
[ -x "$NGINX" ] || missing+=(nginx-light)
[ "$prof" = 0 ] || command -v perf > /dev/null || missing+=(linux-perf)
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run 'sudo apt-get install -y --no-install-recommends ${missing[*]}'"
	note "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
for b in "$CORELOCKERD" "$CTL"; do
	[ -x "$b" ] || die "$b is not built (make)"
	! grep -qa -e __asan_init -e __ubsan_handle "$b" || die "$b is a sanitizer build (see bench/build_ctl.sh)"
done
"$PY" -c 'import numpy' 2> /dev/null || die "$PY has no numpy (set PY)"

# ---- clean-up: every process this script starts, and its work folder ----
T=$(mktemp -d /tmp/clsrv-work.XXXXXX)
DPID='' NPID='' PERFPID='' WPIDS=()
cleanup() {
	local p
	for p in "${WPIDS[@]}"; do kill "$p" 2> /dev/null || true; done
	[ -z "$NPID" ] || kill -QUIT "$NPID" 2> /dev/null || true # nginx: graceful, it reaps its workers
	[ -z "$DPID" ] || kill -TERM "$DPID" 2> /dev/null || true
	[ -z "$PERFPID" ] || kill -INT "$PERFPID" 2> /dev/null || true
	for p in "${WPIDS[@]}" $PERFPID $NPID $DPID; do wait "$p" 2> /dev/null || true; done
	if [ "$keep" = 1 ]; then
		rm -rf "$out/work" && mv "$T" "$out/work" && note "work folder kept in $out/work"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$out"
rm -f "$out"/wrk.*.txt "$out"/perf.*

# ---- a throwaway certificate (as tests/server/common.sh makes it) ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/tls.key" -out "$T/tls.crt" \
	-days 1 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2> /dev/null ||
	die "openssl req failed"

# ---- the model: one lock, two tiers ----
"$PY" "$here/gen_model.py" "$T/m.safetensors" --size-gib 0.015625 --seed 0 > /dev/null
"$CTL" lock "$T/m.safetensors" -o "$T/m.locked.safetensors" -k "$T/m.clkey" --ratio "$ALPHA" \
	--unit element --scope global > /dev/null

# ---- corelockerd: rate limits off, log level info (its default) ----
mkdir -p "$T/d/var"
cp "$T/tls.crt" "$T/tls.key" "$T/d/"
cat > "$T/d/d.conf" << EOF
[server]
listen = 127.0.0.1
port = 0
tls_cert = tls.crt
tls_key = tls.key
threads = $dthreads
max_connections = 1024
[storage]
database = var/d.db
[keys]
signing_key = var/s.key
master_key = var/m.key
[limits]
max_body = 64M
rate = 0
license_rate = 0
activate_rate = 0
# every wrk connection comes from 127.0.0.1: the per-address cap (32) would refuse most of them
max_connections_per_ip = 0
[log]
level = info
EOF
TOKEN=$("$CORELOCKERD" init -c "$T/d/d.conf" 2> /dev/null | tail -n 1)
"$CORELOCKERD" -c "$T/d/d.conf" 2> "$T/d/log" &
DPID=$!
URL=
for _ in $(seq 1 600); do
	URL=$(grep -o 'listening on https://127.0.0.1:[0-9]*' "$T/d/log" | head -n 1 | sed 's/listening on //') || true
	[ -n "$URL" ] && break
	kill -0 "$DPID" 2> /dev/null || die "corelockerd exited: $(tail -n 5 "$T/d/log")"
	sleep 0.05
done
[ -n "$URL" ] || die "corelockerd did not start listening"
export CORELOCKER_SERVER=$URL CORELOCKER_CACERT=$T/tls.crt CORELOCKER_TOKEN=$TOKEN
"$CTL" model push "$T/m.clkey" --name bench > /dev/null
"$CTL" tier set bench full --ratio 0 > /dev/null
"$CTL" tier set bench small --ratio "$SMALL" > /dev/null
FP=$(printf bench | sha256sum | cut -c1-64) # shaped like the agent's fingerprint
NONCE=0123456789abcdef0123456789abcdef     # shaped like the agent's nonce
# post PATH JSON FILE: an agent call; the body goes to FILE; prints the status
post() {
	curl -sS --cacert "$T/tls.crt" -H 'Content-Type: application/json' -o "$3" -w '%{http_code}' \
		--data-binary "$2" "$URL$1"
}
license() {
	local k
	k=$("$CTL" license issue --model bench --tier "$1" --customer bench --max-machines 1000000 --json |
		"$PY" -c 'import json,sys; print(json.load(sys.stdin)["key"])')
	[ "$(post /v1/activate "{\"license_key\":\"$k\",\"fingerprint\":\"$FP\"}" "$T/act.json")" = 200 ] ||
		die "activate: $(cat "$T/act.json")"
	echo "$k"
}
KFULL=$(license full)
KSMALL=$(license small)
declare -A BODY=(
	[validate]="{\"license_key\":\"$KSMALL\",\"fingerprint\":\"$FP\",\"nonce\":\"$NONCE\"}"
	[key-10k]="{\"license_key\":\"$KSMALL\",\"fingerprint\":\"$FP\",\"nonce\":\"$NONCE\"}"
	[key-1m]="{\"license_key\":\"$KFULL\",\"fingerprint\":\"$FP\",\"nonce\":\"$NONCE\"}"
)
declare -A ROUTE=([validate]=/v1/validate [key-10k]=/v1/key [key-1m]=/v1/key)
declare -A FILE=([validate]=validate.json [key-10k]=key-10k.clvol [key-1m]=key-1m.clvol)

# ---- nginx: the same bytes as static files, same certificate, TLS 1.2+ ----
mkdir -p "$T/www" "$T/nginx"
for p in validate key-10k key-1m; do
	st=$(post "${ROUTE[$p]}" "${BODY[$p]}" "$T/www/${FILE[$p]}")
	[ "$st" = 200 ] || die "$p: HTTP $st: $(head -c 300 "$T/www/${FILE[$p]}")"
done
grep -q '"valid":true,"code":"VALID"' "$T/www/validate.json" || die "validate is not VALID: $(cat "$T/www/validate.json")"
chmod 755 "$T" "$T/www" && chmod 644 "$T/www"/* # nginx workers run as nobody when started by root
NPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$T/nginx/nginx.conf" << EOF
worker_processes $nworkers;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;            # without kernel TLS, nginx encrypts from user space anyway
	tcp_nopush on;
	keepalive_timeout 65s;
	keepalive_requests 1000000000; # like corelockerd: never close a busy keep-alive connection
	types { application/json json; application/octet-stream clvol; }
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
	server {
		listen 127.0.0.1:$NPORT ssl;
		ssl_certificate $T/tls.crt;
		ssl_certificate_key $T/tls.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		root $T/www;
	}
}
EOF
"$NGINX" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" -g 'daemon off;' &
NPID=$!
NURL=https://127.0.0.1:$NPORT
for _ in $(seq 1 200); do
	curl -sf --cacert "$T/tls.crt" -o /dev/null "$NURL/validate.json" && break
	kill -0 "$NPID" 2> /dev/null || die "nginx exited: $(tail -n 5 "$T/nginx/error.log")"
	sleep 0.05
done
for p in validate key-10k key-1m; do
	curl -sS --cacert "$T/tls.crt" -o "$T/check" "$NURL/${FILE[$p]}"
	cmp -s "$T/check" "$T/www/${FILE[$p]}" || die "nginx does not serve $p"
done

# ---- conditions ----
tls() { openssl s_client -connect "127.0.0.1:${1##*:}" -brief < /dev/null 2>&1 | grep -E '^(Protocol|Ciphersuite)' | tr '\n' ' '; }
{
	echo "date: $(date -u +%FT%TZ)"
	echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem/ {print $2}') GiB, kernel $(uname -r)"
	echo "corelockerd: $CORELOCKERD ($(cat "$(dirname "$(dirname "$CORELOCKERD")")/BUILD_INFO" 2> /dev/null || git -C "$root" describe --always --dirty)), threads $dthreads, log level info, rate limits off"
	echo "nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'), worker_processes $nworkers, sendfile on, access_log off"
	echo "wrk: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), -t $wthreads, -d ${dur}s, --timeout 10s, keep-alive"
	echo "TLS corelockerd: $(tls "$URL")"
	echo "TLS nginx: $(tls "$NURL")"
	for p in validate key-10k key-1m; do echo "bytes $p: $(stat -c %s "$T/www/${FILE[$p]}")"; done
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/conditions.txt"
cat "$out/conditions.txt" >&2

# ---- measuring ----
CLK=$(getconf CLK_TCK)
# busy_ticks: CPU ticks the whole machine spent (user, nice, system, irq, softirq, steal)
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# child_ticks FILE: CPU ticks of the shell's finished children (wrk) in the output
# of bash's `times` (which must run in the main shell, not in a $(...))
child_ticks() {
	awk -v clk="$CLK" 'NR == 2 {
		for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
		printf "%d\n", t * clk + 0.5 }' "$1"
}
server_pids() { if [ "$1" = corelockerd ]; then echo "$DPID"; else echo "$NPID $(pgrep -P "$NPID" | tr '\n' ' ')"; fi; }
# route_counts ROUTE: "<200s> <others>" that /metrics counted for ROUTE
route_counts() {
	curl -sS --cacert "$T/tls.crt" "$URL/metrics" | awk -v r="route=\"$1\"" '
		index($0, "corelockerd_requests_total{") == 1 && index($0, r) {
			if (index($0, "status=\"200\"")) ok += $NF; else bad += $NF }
		END { printf "%d %d\n", ok, bad }'
}
# wrk_start TAG SERVER PAYLOAD CONNS SECS THREADS: one wrk in the background,
# its pid in WPIDS for clean-up; output in $out/wrk.TAG.txt
wrk_start() {
	local tag=$1 srv=$2 p=$3 c=$4 secs=$5 th=$6 url body=
	if [ "$srv" = corelockerd ]; then url=$URL${ROUTE[$p]} body=${BODY[$p]}; else url=$NURL/${FILE[$p]}; fi
	CLB_BODY=$body wrk -t "$th" -c "$c" -d "${secs}s" --timeout 10s --latency -s "$here/server_wrk.lua" \
		"$url" > "$out/wrk.$tag.txt" 2>&1 &
	WPIDS+=($!)
}
# wrk_fields TAG: the fields of the CLBENCH line of a finished wrk
wrk_fields() {
	grep -m1 '^CLBENCH ' "$out/wrk.$1.txt" | cut -d' ' -f2- || die "no CLBENCH line in $out/wrk.$1.txt"
}
# wrk_run TAG ...: the same, waiting for it (not in $(...), so that clean-up sees the pid)
wrk_run() {
	wrk_start "$@"
	wait "${WPIDS[0]}" || die "wrk failed: $(tail -n 3 "$out/wrk.$1.txt")"
	WPIDS=()
}
# field NAME FIELDS: the value of NAME=... in a CLBENCH line
field() { tr ' ' '\n' <<< "$2" | sed -n "s/^$1=//p"; }

tsv=$out/server-results.tsv
printf 'payload\tbytes\tconns\tserver\trequests\tsecs\trps\tp50_ms\tp90_ms\tp99_ms\tmax_ms\tMiB_s\tnon2xx\tsock_errors\tserver_cpu_s\twrk_cpu_s\tother_cpu_s\n' > "$tsv"
note "warm-up"
wrk_run warmup-d corelockerd validate 16 3 1
wrk_run warmup-n nginx validate 16 3 1
rss_start=$(awk '/^(VmRSS|RssAnon)/ {printf "%s %s kB ", $1, $2}' "/proc/$DPID/status")
for c in $conns; do
	for p in $payloads; do
		for srv in corelockerd nginx; do
			before=$(route_counts "${ROUTE[$p]}")
			times > "$T/times0"
			# shellcheck disable=SC2046
			t0=$(proc_ticks $(server_pids $srv)) b0=$(busy_ticks)
			if [ "$prof" = 1 ] && [ $srv = corelockerd ]; then
				perf record -q -e cpu-clock -F 199 --call-graph dwarf,16384 -o "$out/perf.$p.$c.data" \
					-p "$DPID" -- sleep "$dur" 2> /dev/null &
				PERFPID=$!
			fi
			wrk_run "$p.$c.$srv" $srv "$p" "$c" "$dur" "$wthreads"
			if [ -n "$PERFPID" ]; then
				wait "$PERFPID" || true
				PERFPID=
				# per library, self by symbol, inclusive by symbol (libcrypto has no symbols on Debian)
				for sort in "dso --no-children:12" "dso,symbol --no-children:40" "symbol --children:60"; do
					# shellcheck disable=SC2086
					perf report -i "$out/perf.$p.$c.data" --sort ${sort%:*} --stdio -g none 2> /dev/null |
						grep -v -e '^#' -e '^$' | head -n "${sort#*:}" || true
				done > "$out/perf.$p.$c.txt"
			fi
			# shellcheck disable=SC2046
			t1=$(proc_ticks $(server_pids $srv)) b1=$(busy_ticks)
			times > "$T/times1"
			w0=$(child_ticks "$T/times0") w1=$(child_ticks "$T/times1")
			after=$(route_counts "${ROUTE[$p]}")
			f=$(wrk_fields "$p.$c.$srv")
			bad=$(field non2xx "$f")
			[ "$bad" = 0 ] || die "$p at $c connections: $bad answers of $srv had a status >= 400"
			# a refused connection is no answer at all: the run would measure the refusals
			[ "$(field connect "$f")" = 0 ] || die "$p at $c connections: $srv refused $(field connect "$f") connections"
			if [ $srv = corelockerd ]; then
				[ "${after#* }" = "${before#* }" ] || die "$p at $c connections: /metrics counted non-200 answers"
			fi
			awk -v p="$p" -v b="$(stat -c %s "$T/www/${FILE[$p]}")" -v c="$c" -v s="$srv" -v f="$f" \
				-v cpu="$((t1 - t0))" -v wrk="$((w1 - w0))" -v busy="$((b1 - b0))" -v clk="$CLK" 'BEGIN {
				n = split(f, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], x, "="); v[x[1]] = x[2] }
				us = v["duration_us"]
				printf "%s\t%s\t%s\t%s\t%d\t%.2f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%d\t%d\t%.2f\t%.2f\t%.2f\n",
					p, b, c, s, v["requests"], us / 1e6, v["requests"] * 1e6 / us, v["p50_us"] / 1e3,
					v["p90_us"] / 1e3, v["p99_us"] / 1e3, v["max_us"] / 1e3, v["bytes"] / 1048576 * 1e6 / us,
					v["non2xx"], v["connect"] + v["read"] + v["write"] + v["timeout"], cpu / clk, wrk / clk, (busy - cpu - wrk) / clk }' >> "$tsv"
			note "$(tail -n 1 "$tsv" | cut -f1,3,4,7,8,10 | tr '\t' ' ') (payload conns server req/s p50 p99)"
			sleep 2
		done
	done
done
rss_after=$(awk '/^(VmRSS|RssAnon)/ {printf "%s %s kB ", $1, $2}' "/proc/$DPID/status")
echo "daemon RSS before the runs: $rss_start; after: $rss_after" >> "$out/conditions.txt"

# ---- memory soak: validate + 1 MiB key at 64 connections ----
soakf=$out/soak.tsv
printf 't_s\tVmRSS_kB\tRssAnon_kB\n' > "$soakf"
sample() { printf '%s\t%s\t%s\n' "$1" "$(awk '/^VmRSS/ {print $2}' "/proc/$DPID/status")" \
	"$(awk '/^RssAnon/ {print $2}' "/proc/$DPID/status")" >> "$soakf"; }
if [ "$soak" -gt 0 ]; then
	note "soak: ${soak}s of validate (32 connections) + key-1m (32 connections)"
	sample 0
	before="$(route_counts /v1/validate) $(route_counts /v1/key)"
	for p in validate key-1m; do wrk_start "soak.$p" corelockerd "$p" 32 "$soak" 1; done
	t0=$SECONDS
	while kill -0 "${WPIDS[0]}" 2> /dev/null || kill -0 "${WPIDS[1]}" 2> /dev/null; do
		sleep "$SAMPLE"
		[ $((SECONDS - t0)) -le "$soak" ] && sample $((SECONDS - t0))
	done
	for w in "${WPIDS[@]}"; do wait "$w" || die "a soak wrk failed"; done
	WPIDS=()
	sample $((SECONDS - t0))
	after="$(route_counts /v1/validate) $(route_counts /v1/key)"
	[ "$(cut -d' ' -f2,4 <<< "$after")" = "$(cut -d' ' -f2,4 <<< "$before")" ] ||
		die "soak: /metrics counted non-200 answers"
	for p in validate key-1m; do
		f=$(wrk_fields "soak.$p")
		[ "$(field non2xx "$f")" = 0 ] || die "soak $p: $(field non2xx "$f") answers had a status >= 400"
		echo "soak $p: $(field requests "$f") requests, p50 $(field p50_us "$f") us, p99 $(field p99_us "$f") us" >> "$out/conditions.txt"
	done
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/conditions.txt"

# ---- the tables ----
"$PY" - "$tsv" "$soakf" > "$out/server-results.md" << 'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
ref = {(r["payload"], r["conns"]): float(r["rps"]) for r in rows if r["server"] == "nginx"}
print("| payload | bytes | conns | server | req/s | p50 ms | p99 ms | MiB/s | server CPU ms/req | other CPU s | corelockerd / nginx |")
print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
ratio = {}
for r in rows:
    x = ""
    if r["server"] == "corelockerd":
        ratio[(r["payload"], r["conns"])] = float(r["rps"]) / ref[(r["payload"], r["conns"])]
        x = "%.2f" % ratio[(r["payload"], r["conns"])]
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (r["payload"], r["bytes"], r["conns"], r["server"],
          r["rps"], r["p50_ms"], r["p99_ms"], r["MiB_s"],
          "%.3f" % (1000 * float(r["server_cpu_s"]) / max(1, int(r["requests"]))), r["other_cpu_s"], x))
print()
def verdict(ok):
    return "**met**" if ok else "**missed**"
print("| goal | measured | verdict |")
print("|---|---|---|")
k = sorted(c for (p, c) in ratio if p == "key-1m")
v = sorted(c for (p, c) in ratio if p == "validate")
if k:
    m = min(ratio[("key-1m", c)] for c in k)
    print("| 1 MiB delivery >= 50%% of nginx's req/s | %s | %s |" % (
        ", ".join("%.0f%% at %s" % (100 * ratio[("key-1m", c)], c) for c in k), verdict(m >= 0.5)))
if v:
    m = min(ratio[("validate", c)] for c in v)
    print("| validate >= 25%% of nginx's small-file req/s | %s | %s |" % (
        ", ".join("%.0f%% at %s" % (100 * ratio[("validate", c)], c) for c in v), verdict(m >= 0.25)))
p99 = [float(r["p99_ms"]) for r in rows if r["server"] == "corelockerd" and r["payload"] == "validate" and r["conns"] == "64"]
if p99:
    print("| validate p99 < 20 ms at 64 connections | %.2f ms | %s |" % (p99[0], verdict(p99[0] < 20)))
s = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
if len(s) > 2:
    rss = [int(x["VmRSS_kB"]) for x in s]
    anon = [int(x["RssAnon_kB"]) for x in s]
    # flat: after the first sample under load, it grows by less than 5% (the end against that sample)
    grow = (rss[-1] - rss[1]) / rss[1]
    print("| memory flat over %s s (VmRSS) | idle %.1f MiB, first sample under load %.1f, end %.1f, max %.1f MiB "
          "(RssAnon %.1f / %.1f / %.1f / %.1f) | %s |" % (s[-1]["t_s"], rss[0] / 1024, rss[1] / 1024, rss[-1] / 1024,
          max(rss) / 1024, anon[0] / 1024, anon[1] / 1024, anon[-1] / 1024, max(anon) / 1024, verdict(grow < 0.05)))
PYEOF
cat "$out/server-results.md"
note "results in $out/server-results.{tsv,md}, $out/soak.tsv, $out/conditions.txt"
