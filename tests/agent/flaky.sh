# flaky.sh - sourced after tests/agent/common.sh by the failover tests: the
# servers of tests/agent/flaky.py, each failing in one way, and a port with
# nothing listening.
FLAKY_PIDS=

flaky_cleanup() {
	for p in $FLAKY_PIDS; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	cleanup
}
trap flaky_cleanup EXIT

# flaky NAME MODE [PATH]: start flaky.py (close, drop, 503 or cut on the
# paths under PATH, every other request passed on to the daemon at $URL);
# its URL in FURL, the requests it read in $T/NAME.log.
flaky() {
	local pid
	"$PY" "$top_srcdir/tests/agent/flaky.py" "$1" "$2" "$T" "${3:-/}" "${URL##*:}" 2> "$T/flaky-$1.err" &
	pid=$!
	FLAKY_PIDS="$FLAKY_PIDS $pid"
	for _ in $(seq 1 600); do
		[ -s "$T/$1.port" ] && break
		kill -0 "$pid" 2>/dev/null || fail "flaky.py $1 exited: $(cat "$T/flaky-$1.err")"
		sleep 0.05
	done
	[ -s "$T/$1.port" ] || fail "flaky.py $1 did not start"
	FURL=https://127.0.0.1:$(cat "$T/$1.port")
}

# requests NAME: how many requests flaky.py NAME read
requests() {
	if [ -f "$T/$1.log" ]; then wc -l < "$T/$1.log"; else echo 0; fi
}

# DEAD: a loopback port with nothing listening (python binds it, then lets it go).
DEAD=https://127.0.0.1:$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
