# nodes.sh - N corelockerd nodes on one private PostgreSQL cluster, behind
# HAProxy on loopback with etc/haproxy.cfg.  Sourced by
# tests/multinode/t_cluster.sh and bench/scale_bench.sh.
#
# The caller sets T (its work folder, short: the cluster's socket lives in
# it), CORELOCKERD, top_srcdir, and defines `die MESSAGE` (which exits).
# Every node shares $T/tls.crt, $T/tls.key and the key files in $T/var; node
# I reads $T/nI.conf and logs to $T/nI.log.
#
#   mn_pg_start / mn_pg_stop    the cluster in $T/pg (tests/pg/cluster.sh)
#   mn_cert                     the shared self-signed certificate
#   mn_conf I [LINE...]         $T/nI.conf ([limits] LINEs appended)
#   mn_init                     corelockerd init once (node 1's file); TOKEN
#   mn_start I [CMD...]         start node I (under CMD, e.g. faketime ...);
#                               NPID[I], NPORT[I], NURL[I]; a restarted node
#                               keeps its port
#   mn_kill I [SIGNAL]          signal node I (TERM) and reap it
#   mn_haproxy_start I...       HAProxy in front of nodes I...; HURL, HPID
#   mn_hastat NAME              HAProxy's "status check_status" of server NAME
#   mn_wait_ha NAME STATUS      until server NAME's status is STATUS (UP/DOWN)
#   mn_stop_all                 stop HAProxy, every node and the cluster
. "$top_srcdir/tests/pg/cluster.sh"

declare -a NPID NPORT NURL
HPID='' HURL='' TOKEN=''

mn_pg_start() {
	pg_cluster_start "$T/pg" > "$T/pg.start.log" 2>&1 || return 1
}
mn_pg_stop() { pg_cluster_stop "$T/pg"; }

mn_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/tls.key" \
		-out "$T/tls.crt" -days 30 -subj /CN=localhost \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2> /dev/null || die "openssl req"
}

mn_conf() {
	local i=$1
	shift
	mkdir -p "$T/var"
	{
		printf '[server]\nlisten = 127.0.0.1\nport = %s\ntls_cert = tls.crt\ntls_key = tls.key\nthreads = %s\n' \
			"${NPORT[$i]:-0}" "${MN_THREADS:-4}"
		printf 'max_connections = 1024\n'
		printf '[storage]\nbackend = postgresql\ndsn = %s\nspool = var\n' "$CL_PG_DSN"
		printf '[keys]\nsigning_key = var/signing.key\nmaster_key = var/master.key\n'
		# One client address (loopback, or HAProxy's) stands for every client.
		printf '[limits]\nmax_body = 64M\nrate = 0\nactivate_rate = 0\nlicense_rate = 0\nmax_connections_per_ip = 0\n'
		for l in "$@"; do printf '%s\n' "$l"; done
		printf '[log]\nlevel = info\n'
	} > "$T/n$i.conf"
}

mn_init() {
	"$CORELOCKERD" init -c "$T/n1.conf" > "$T/init.out" 2> "$T/init.err" || die "init: $(cat "$T/init.err")"
	TOKEN=$(tail -n 1 "$T/init.out")
}

mn_start() {
	local i=$1 log=$T/n$1.log
	shift
	[ -f "$T/n$i.conf" ] || mn_conf "$i"
	echo "--- start" >> "$log"
	local from
	from=$(wc -l < "$log")
	"$@" "$CORELOCKERD" -c "$T/n$i.conf" 2>> "$log" &
	NPID[$i]=$!
	for _ in $(seq 1 1200); do
		local p
		p=$(tail -n +"$from" "$log" | grep -o 'listening on https://127.0.0.1:[0-9]*' | tail -n 1 | sed 's/.*://') || true
		if [ -n "$p" ]; then
			NPORT[$i]=$p
			NURL[$i]=https://127.0.0.1:$p
			# a restart takes the same port (HAProxy's server line names it)
			sed -i "s/^port = .*/port = $p/" "$T/n$i.conf"
			return 0
		fi
		kill -0 "${NPID[$i]}" 2> /dev/null || die "node $i exited before listening: $(tail -n 5 "$log")"
		sleep 0.05
	done
	die "node $i did not start listening"
}

mn_kill() {
	local i=$1
	[ -n "${NPID[$i]:-}" ] || return 0
	kill -"${2:-TERM}" "${NPID[$i]}" 2> /dev/null || true
	wait "${NPID[$i]}" 2> /dev/null || true
	NPID[$i]=
}

mn_free_port() {
	"${PY:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# etc/haproxy.cfg from 'defaults' down, with the test's bind address, CA
# and servers, and a global section for an unprivileged foreground run.
mn_haproxy_start() {
	local hp i
	command -v haproxy > /dev/null || die "haproxy is not installed"
	hp=$(mn_free_port)
	{
		printf 'global\n\tlog stdout format raw local0 info\n\tstats socket %s level admin\n\tmaxconn 4000\n\n' \
			"$T/haproxy.sock"
		# One client address stands for every client here: lift the
		# per-client connection limits (they count per source address).
		sed -n '/^defaults/,$p' "$top_srcdir/etc/haproxy.cfg" |
			sed -e "s|^\tbind .*|\tbind 127.0.0.1:$hp|" -e "s|ca-file [^ ]*|ca-file $T/tls.crt|" \
				-e '/^\tserver /d' -e 's/sc0_conn_cur gt [0-9]*/sc0_conn_cur gt 100000/' \
				-e 's/sc0_conn_rate gt [0-9]*/sc0_conn_rate gt 1000000/'
		for i in "$@"; do printf '\tserver node%s 127.0.0.1:%s\n' "$i" "${NPORT[$i]}"; done
		for i in "$@"; do printf '\tserver node%s-backup 127.0.0.1:%s backup no-check\n' "$i" "${NPORT[$i]}"; done
	} > "$T/haproxy.cfg"
	haproxy -c -q -f "$T/haproxy.cfg" > "$T/haproxy.check" 2>&1 || die "haproxy -c: $(cat "$T/haproxy.check")"
	haproxy -db -f "$T/haproxy.cfg" > "$T/haproxy.log" 2>&1 &
	HPID=$!
	HURL=https://127.0.0.1:$hp
	for i in "$@"; do mn_wait_ha "node$i" UP; done
}

# mn_hastat NAME: "STATUS CHECK_STATUS" of server NAME, from 'show stat'
mn_hastat() {
	"${PY:-python3}" - "$T/haproxy.sock" "$1" << 'EOF'
import csv, io, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError:  # not listening yet
    sys.exit(0)
s.sendall(b"show stat\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
rows = list(csv.DictReader(io.StringIO(data.decode().lstrip("# "))))
for r in rows:
    if r["pxname"] == "corelockerd" and r["svname"] == sys.argv[2]:
        print(r["status"], r["check_status"])
EOF
}

# mn_wait_ha NAME UP|DOWN: until HAProxy's checks say so (UP: a passed L7 check)
mn_wait_ha() {
	local st
	for _ in $(seq 1 600); do
		st=$(mn_hastat "$1")
		case "$2:$st" in
		"UP:UP L7OK" | DOWN:DOWN*) return 0 ;;
		esac
		kill -0 "$HPID" 2> /dev/null || die "haproxy exited: $(tail -n 5 "$T/haproxy.log")"
		sleep 0.1
	done
	die "haproxy: server $1 is '$st', not $2"
}

mn_stop_all() {
	local i
	if [ -n "$HPID" ]; then
		kill "$HPID" 2> /dev/null || true
		wait "$HPID" 2> /dev/null || true
		HPID=
	fi
	for i in "${!NPID[@]}"; do mn_kill "$i"; done
	[ ! -d "$T/pg" ] || mn_pg_stop || true
}
