# bench/common.sh - helpers the benchmark scripts share (sourced, not run).

# timed_run LABEL CMD DIR: run CMD (a shell string) once, output discarded.
# Sets BENCH_SEC (wall seconds), BENCH_CPU (user + system seconds) and
# BENCH_RC; CMD's stderr is left in DIR/stderr.txt and printed on failure.
timed_run() {
	local label=$1 cmd=$2 dir=$3 t0 t1
	t0=$EPOCHREALTIME
	set +e
	/usr/bin/time -f '%U %S' -o "$dir/cpu.txt" sh -c "$cmd" > /dev/null 2> "$dir/stderr.txt"
	BENCH_RC=$?
	set -e
	t1=$EPOCHREALTIME
	[ "$BENCH_RC" = 0 ] || { echo "$label failed ($BENCH_RC):" >&2; cat "$dir/stderr.txt" >&2; }
	BENCH_SEC=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}')
	BENCH_CPU=$(tail -1 "$dir/cpu.txt" | awk '{printf "%.2f", $1 + $2}')
}

# proc_ticks PID...: user + system clock ticks of the processes (all threads)
proc_ticks() {
	local p s=0
	for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2> /dev/null || echo 0))); done
	echo "$s"
}

# bench_daemon DIR CORELOCKERD: a throw-away corelockerd on loopback with TLS,
# its files in DIR (emptied first), admin token and full-tier license ready
# for KEY (a .clkey) under the model name "bench".  Sets DPID, URL, TOKEN,
# LKEY and exports CORELOCKER_SERVER, CORELOCKER_CACERT, CORELOCKER_TOKEN for
# corelockerctl; DIR/pub.pem is the signing key.  Needs CTL; SLICE_CACHE, when
# set, is its [limits] slice_cache (default 64M).
bench_daemon() {
	local s=$1 daemon=$2 key=$3
	rm -rf "$s"
	mkdir -p "$s/var"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$s/tls.key" -out "$s/tls.crt" \
		-days 1 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2> /dev/null
	printf '[server]\nlisten = 127.0.0.1\nport = 0\ntls_cert = tls.crt\ntls_key = tls.key\n[storage]\ndatabase = var/d.db\n[keys]\nsigning_key = var/s.key\nmaster_key = var/m.key\n[limits]\nmax_body = 512M\nrate = 0\nlicense_rate = 0\nactivate_rate = 0\n%b[log]\nlevel = info\n' \
		"${SLICE_CACHE:+slice_cache = $SLICE_CACHE\n}" > "$s/d.conf"
	TOKEN=$("$daemon" init -c "$s/d.conf" 2> /dev/null | tail -n 1)
	"$daemon" -c "$s/d.conf" 2> "$s/log" &
	DPID=$!
	URL=
	for _ in $(seq 1 600); do
		URL=$(grep -o 'https://127.0.0.1:[0-9]*' "$s/log" | head -n 1) || true
		[ -n "$URL" ] && break
		sleep 0.05
	done
	[ -n "$URL" ] || { echo "corelockerd did not start: $(cat "$s/log")" >&2; return 1; }
	export CORELOCKER_SERVER=$URL CORELOCKER_CACERT=$s/tls.crt CORELOCKER_TOKEN=$TOKEN
	curl -sS --cacert "$s/tls.crt" -o "$s/pub.pem" "$URL/v1/pubkey"
	"$CTL" model push "$key" --name bench > /dev/null
	"$CTL" tier set bench full --ratio 0 > /dev/null
	LKEY=$("$CTL" license issue --model bench --tier full --customer bench --max-machines 10 --json 2> /dev/null |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
	curl -sS --cacert "$s/tls.crt" -H 'Content-Type: application/json' -o /dev/null \
		-d "{\"license_key\":\"$LKEY\",\"fingerprint\":\"bench\"}" "$URL/v1/activate"
}
