#!/bin/bash
# scale_bench.sh - validate and 10 KiB key throughput through HAProxy with 1,
# 2 and 3 corelockerd nodes on one PostgreSQL database, all on loopback, and
# the CPU each request costs in corelockerd and in PostgreSQL (issue 10).
#
# usage: bench/scale_bench.sh [-d SECS] [-c CONNS] [-n LIST] [-l LIST] [-t N] [-T N] [-o DIR]
#   -d SECS   length of each wrk run (default 15)
#   -c CONNS  wrk connections (default 64)
#   -n LIST   node counts behind HAProxy (default "1 2 3")
#   -l LIST   payloads (default "validate key-10k")
#   -t N      wrk threads (default 2)
#   -T N      [server] threads of each node (default 4)
#   -o DIR    results (default /tmp/clscale): scale-results.{tsv,md},
#             conditions.txt and the raw wrk outputs
# environment: CORELOCKERD, CTL (default: this tree's builds; a sanitizer
#   build is refused), PY (default /usr/bin/python3, with numpy)
#
# Needs wrk, haproxy and PostgreSQL's server binaries (scripts/setup.sh
# installs the last two; wrk: apt-get install wrk).  The cluster, the nodes
# and HAProxy are the multi-node test's (tests/multinode/nodes.sh, with
# etc/haproxy.cfg); the payloads and wrk script are bench/server_bench.sh's.
#
# CPU: user + system ticks from /proc/PID/stat, before and after each run,
# of the corelockerd processes behind HAProxy, and of every PostgreSQL
# process (the postmaster, its live children, and the children it reaped
# during the run: the postmaster's cutime + cstime).  The projection, nodes
# one PostgreSQL primary carries, is corelockerd CPU per request / PostgreSQL
# CPU per request: the number of nodes whose database work saturates the
# same CPU the database has (a node per core, the database on as many).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"
root=$(dirname "$here")
PY=${PY:-/usr/bin/python3}
CORELOCKERD=${CORELOCKERD:-$root/server/corelockerd}
CTL=${CTL:-$root/ctl/corelockerctl}
ALPHA=0.01267 SMALL=0.01255 # as in server_bench.sh: the small tier's volume is ~10 KiB
dur=15 conns=64 nodes="1 2 3" payloads="validate key-10k" wthreads=2 out=/tmp/clscale
MN_THREADS=4
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while getopts "d:c:n:l:t:T:o:h" o; do
	case $o in
	d) dur=$OPTARG ;; c) conns=$OPTARG ;; n) nodes=$OPTARG ;; l) payloads=$OPTARG ;; t) wthreads=$OPTARG ;;
	T) MN_THREADS=$OPTARG ;; o) out=$OPTARG ;; h) usage; exit 0 ;; *) usage >&2; exit 2 ;;
	esac
done
die() { echo "scale_bench: $*" >&2; exit 1; }
note() { echo "scale_bench: $*" >&2; }

command -v wrk > /dev/null || die "wrk is missing: apt-get install wrk"
command -v haproxy > /dev/null || die "haproxy is missing: scripts/setup.sh"
for b in "$CORELOCKERD" "$CTL"; do
	[ -x "$b" ] || die "$b is not built (make)"
	! grep -qa -e __asan_init -e __ubsan_handle "$b" || die "$b is a sanitizer build (see bench/build_ctl.sh)"
done
"$PY" -c 'import numpy' 2> /dev/null || die "$PY has no numpy (set PY)"
maxn=0
for n in $nodes; do [ "$n" -ge 1 ] && [ "$n" -le 9 ] || die "-n: node counts are 1 to 9"; [ "$n" -le $maxn ] || maxn=$n; done

top_srcdir=$root
T=$(mktemp -d /tmp/clscale.XXXXXX) # short: the cluster's socket lives in it
export MN_THREADS
. "$root/tests/multinode/nodes.sh"
pg_cluster_check || die "PostgreSQL cannot run here (above)"
WPID=
cleanup() {
	[ -z "$WPID" ] || kill "$WPID" 2> /dev/null || true
	mn_stop_all > /dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$out"
rm -f "$out"/wrk.*.txt

# ---- the cluster, the nodes, the model: one lock, two tiers ----
mn_cert
mn_pg_start || die "PostgreSQL did not start: $(cat "$T/pg.start.log")"
for i in $(seq 1 $maxn); do mn_conf "$i"; done
mn_init
for i in $(seq 1 $maxn); do mn_start "$i"; done
"$PY" "$here/gen_model.py" "$T/m.safetensors" --size-gib 0.015625 --seed 0 > /dev/null
"$CTL" lock "$T/m.safetensors" -o "$T/m.locked.safetensors" -k "$T/m.clkey" --ratio "$ALPHA" \
	--unit element --scope global > /dev/null
export CORELOCKER_SERVER=${NURL[1]} CORELOCKER_CACERT=$T/tls.crt CORELOCKER_TOKEN=$TOKEN
"$CTL" model push "$T/m.clkey" --name bench > /dev/null
"$CTL" tier set bench small --ratio "$SMALL" > /dev/null
FP=$(printf bench | sha256sum | cut -c1-64)
NONCE=0123456789abcdef0123456789abcdef
KEY=$("$CTL" license issue --model bench --tier small --customer bench --max-machines 1000000 --json |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["key"])')
post() {
	curl -sS --cacert "$T/tls.crt" -H 'Content-Type: application/json' -o "$3" -w '%{http_code}' \
		--data-binary "$2" "$1"
}
BODY="{\"license_key\":\"$KEY\",\"fingerprint\":\"$FP\",\"nonce\":\"$NONCE\"}"
[ "$(post "${NURL[1]}/v1/activate" "{\"license_key\":\"$KEY\",\"fingerprint\":\"$FP\"}" "$T/act.json")" = 200 ] ||
	die "activate: $(cat "$T/act.json")"
declare -A ROUTE=([validate]=/v1/validate [key-10k]=/v1/key)
for p in $payloads; do
	[ -n "${ROUTE[$p]:-}" ] || die "-l: unknown payload $p (validate, key-10k)"
	[ "$(post "${NURL[1]}${ROUTE[$p]}" "$BODY" "$T/$p.out")" = 200 ] || die "$p: $(head -c 300 "$T/$p.out")"
done
grep -q '"code":"VALID"' "$T/validate.out" 2> /dev/null || [ ! -f "$T/validate.out" ] || die "validate is not VALID"

# ---- conditions ----
{
	echo "date: $(date -u +%FT%TZ)"
	echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem/ {print $2}') GiB, kernel $(uname -r)"
	echo "corelockerd: $CORELOCKERD ($(git -C "$root" describe --always --dirty 2> /dev/null || echo '?')), threads $MN_THREADS per node, log level info, rate limits off"
	echo "PostgreSQL: $("$(pg_cluster_bindir)/postgres" --version), private cluster on a Unix socket, fsync=off (tests/pg/cluster.sh)"
	echo "haproxy: $(haproxy -v | head -n 1), etc/haproxy.cfg (mode tcp, TLS /healthz checks)"
	echo "wrk: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), -t $wthreads -c $conns -d ${dur}s, keep-alive, through HAProxy"
	for p in $payloads; do echo "bytes $p: $(stat -c %s "$T/$p.out")"; done
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/conditions.txt"
cat "$out/conditions.txt" >&2

# ---- measuring ----
CLK=$(getconf CLK_TCK)
# pg_ticks: every PostgreSQL process, and the children the postmaster reaped
pg_ticks() {
	local pm
	pm=$(head -n 1 "$T/pg/data/postmaster.pid")
	# shellcheck disable=SC2046
	echo $(($(proc_ticks "$pm" $(pgrep -P "$pm" | tr '\n' ' ')) + $(awk '{print $16 + $17}' "/proc/$pm/stat")))
}
field() { tr ' ' '\n' <<< "$2" | sed -n "s/^$1=//p"; }

tsv=$out/scale-results.tsv
printf 'payload\tnodes\tconns\trequests\tsecs\trps\tp50_ms\tp99_ms\tnon2xx\tcorelockerd_cpu_s\tpostgres_cpu_s\thaproxy_cpu_s\n' > "$tsv"
for n in $nodes; do
	[ -z "$HPID" ] || { kill "$HPID"; wait "$HPID" 2> /dev/null || true; HPID=; }
	# shellcheck disable=SC2046
	mn_haproxy_start $(seq 1 "$n")
	dpids=$(for i in $(seq 1 "$n"); do echo "${NPID[$i]}"; done | tr '\n' ' ')
	for p in $payloads; do
		CLB_BODY=$BODY wrk -t "$wthreads" -c "$conns" -d 3s -s "$here/server_wrk.lua" "$HURL${ROUTE[$p]}" > /dev/null 2>&1 ||
			die "warm-up wrk failed"
		# shellcheck disable=SC2086
		d0=$(proc_ticks $dpids) p0=$(pg_ticks) h0=$(proc_ticks "$HPID")
		CLB_BODY=$BODY wrk -t "$wthreads" -c "$conns" -d "${dur}s" --timeout 10s --latency -s "$here/server_wrk.lua" \
			"$HURL${ROUTE[$p]}" > "$out/wrk.$p.$n.txt" 2>&1 &
		WPID=$!
		wait "$WPID" || die "wrk failed: $(tail -n 3 "$out/wrk.$p.$n.txt")"
		WPID=
		# shellcheck disable=SC2086
		d1=$(proc_ticks $dpids) p1=$(pg_ticks) h1=$(proc_ticks "$HPID")
		f=$(grep -m1 '^CLBENCH ' "$out/wrk.$p.$n.txt" | cut -d' ' -f2-) || die "no CLBENCH line in $out/wrk.$p.$n.txt"
		[ "$(field non2xx "$f")" = 0 ] || die "$p with $n nodes: $(field non2xx "$f") answers had a status >= 400"
		awk -v p="$p" -v n="$n" -v c="$conns" -v f="$f" -v d="$((d1 - d0))" -v pg="$((p1 - p0))" -v h="$((h1 - h0))" \
			-v clk="$CLK" 'BEGIN {
			k = split(f, kv, " "); for (i = 1; i <= k; i++) { split(kv[i], x, "="); v[x[1]] = x[2] }
			us = v["duration_us"]
			printf "%s\t%s\t%s\t%d\t%.2f\t%.1f\t%.2f\t%.2f\t%d\t%.2f\t%.2f\t%.2f\n", p, n, c, v["requests"], us / 1e6,
				v["requests"] * 1e6 / us, v["p50_us"] / 1e3, v["p99_us"] / 1e3, v["non2xx"], d / clk, pg / clk, h / clk }' >> "$tsv"
		note "$(tail -n 1 "$tsv" | cut -f1,2,6,10,11 | tr '\t' ' ') (payload nodes req/s corelockerd-cpu-s postgres-cpu-s)"
		sleep 2
	done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/conditions.txt"

"$PY" - "$tsv" > "$out/scale-results.md" << 'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print("| payload | nodes | req/s | p50 ms | p99 ms | corelockerd CPU s / 1,000 req | PostgreSQL CPU s / 1,000 req | HAProxy CPU s / 1,000 req | nodes per PostgreSQL primary |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
tot = {}
for r in rows:
    k = int(r["requests"]) / 1000.0
    d, pg, h = float(r["corelockerd_cpu_s"]), float(r["postgres_cpu_s"]), float(r["haproxy_cpu_s"])
    t = tot.setdefault(r["payload"], [0.0, 0.0, 0])
    t[0] += d; t[1] += pg; t[2] += int(r["requests"])
    print("| %s | %s | %s | %s | %s | %.3f | %.3f | %.3f | %s |" % (r["payload"], r["nodes"], r["rps"], r["p50_ms"],
          r["p99_ms"], d / k, pg / k, h / k, "%.1f" % (d / pg) if pg > 0 else "inf"))
print()
print("| payload | requests (all runs) | corelockerd CPU s / 1,000 req | PostgreSQL CPU s / 1,000 req | projection: nodes one primary carries |")
print("|---|---:|---:|---:|---:|")
for p, (d, pg, n) in tot.items():
    print("| %s | %d | %.3f | %.3f | %s |" % (p, n, 1000 * d / n, 1000 * pg / n, "%.1f" % (d / pg) if pg > 0 else "inf"))
PYEOF
cat "$out/scale-results.md"
note "results in $out/scale-results.{tsv,md}, $out/conditions.txt"
