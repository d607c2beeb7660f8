# common.sh - sourced by the tests/server/*.sh integration tests.
#
# Each test gets its own folder, a fresh self-signed certificate (openssl
# req), its own database and its own daemon on 127.0.0.1 port 0.  Nothing
# here sleeps for a fixed time: waits poll for an event, with a generous
# upper bound.
set -eu

: "${CORELOCKERD:?run through make check}"
: "${CTL:?run through make check}"
: "${VOLCHECK:?run through make check}"
PY=${PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/corelockerd-test.XXXXXX")
DPID=
TOKEN=
URL=

cleanup() {
	if [ -n "$DPID" ]; then
		kill "$DPID" 2>/dev/null || true
		wait "$DPID" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$T/serve.log" ]; then
		echo "--- daemon log (tail) ---" >&2
		tail -n 25 "$T/serve.log" >&2
	fi
	exit 1
}
ok() { echo "ok - $*"; }

make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/tls.key" \
		-out "$T/tls.crt" -days 1 -subj /CN=localhost \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null || fail "openssl req"
}

# The backend under test: sqlite (the default) or postgresql, whose private
# cluster tests/pg/run-one.sh starts and names in CL_PG_DSN (and CL_PG_PSQL).
CL_BACKEND=${CL_BACKEND:-sqlite}
case $CL_BACKEND in
sqlite) ;;
postgresql) : "${CL_PG_DSN:?CL_BACKEND=postgresql runs through tests/pg/run-one.sh}" ;;
*) echo "common.sh: CL_BACKEND must be sqlite or postgresql, not $CL_BACKEND" >&2 && exit 99 ;;
esac

# The [storage] section of the backend under test.
storage_conf() {
	if [ "$CL_BACKEND" = postgresql ]; then
		# the upload spool where the SQLite pass has it (its database's folder)
		printf '[storage]\nbackend = postgresql\ndsn = %s\nspool = var\n' "$CL_PG_DSN"
	else
		printf '[storage]\ndatabase = var/corelockerd.db\n'
	fi
}

# write_conf [extra [limits] lines...]
write_conf() {
	mkdir -p "$T/var"
	{
		printf '[server]\nlisten = 127.0.0.1\nport = 0\ntls_cert = tls.crt\ntls_key = tls.key\nthreads = 4\n'
		storage_conf
		printf '[keys]\nsigning_key = var/signing.key\nmaster_key = var/master.key\n'
		printf '[limits]\nmax_body = 64K\nrate = 0\nactivate_rate = 0\nlicense_rate = 0\n'
		for l in "$@"; do printf '%s\n' "$l"; done
		printf '[log]\nlevel = info\n'
	} > "$T/d.conf"
}

init_db() {
	"$CORELOCKERD" init -c "$T/d.conf" > "$T/init.out" 2> "$T/init.err" || fail "init: $(cat "$T/init.err")"
	TOKEN=$(tail -n 1 "$T/init.out")
}

# Start the daemon and wait for its "listening on" line.
start() {
	: > "$T/serve.log"
	"$CORELOCKERD" -c "$T/d.conf" 2>> "$T/serve.log" &
	DPID=$!
	for _ in $(seq 1 600); do
		if grep -q 'listening on https://' "$T/serve.log"; then
			PORT=$(grep -o 'listening on https://127.0.0.1:[0-9]*' "$T/serve.log" | tail -n 1 | sed 's/.*://')
			URL="https://127.0.0.1:$PORT"
			return 0
		fi
		kill -0 "$DPID" 2>/dev/null || fail "the daemon exited before listening"
		sleep 0.05
	done
	fail "the daemon did not start listening"
}

# Stop with SIGTERM; fails unless the daemon exits 0.
stop() {
	kill -TERM "$DPID"
	local rc=0
	wait "$DPID" || rc=$?
	DPID=
	[ "$rc" = 0 ] || fail "the daemon exited $rc on SIGTERM"
}

setup() {
	make_cert
	write_conf "$@"
	init_db
	start
}

# api METHOD PATH [curl args...]: admin call; sets STATUS, body in $T/body.
api() {
	local m=$1 p=$2
	shift 2
	STATUS=$(curl -sS --cacert "$T/tls.crt" -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$m" \
		-H "Authorization: Bearer $TOKEN" "$@" "$URL$p") || STATUS=000
}
# call METHOD PATH [curl args...]: the same without a token.
call() {
	local m=$1 p=$2
	shift 2
	STATUS=$(curl -sS --cacert "$T/tls.crt" -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$m" \
		"$@" "$URL$p") || STATUS=000
}
# post_json PATH JSON: agent call with a JSON body.
post_json() {
	call POST "$1" -H 'Content-Type: application/json' --data-binary "$2"
}

expect() {
	[ "$STATUS" = "$1" ] || fail "$2: expected HTTP $1, got $STATUS: $(head -c 400 "$T/body")"
}
# expect_error STATUS CODE WHAT
expect_error() {
	expect "$1" "$3"
	[ "$(jget '["error"]["code"]')" = "$2" ] || fail "$3: expected error $2, got $(head -c 400 "$T/body")"
}

# jget EXPR [FILE]: a value of the JSON in FILE ($T/body), e.g. jget '["id"]'.
jget() {
	"$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
v=eval("d"+sys.argv[2])
print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "${2:-$T/body}" "$1"
}

# make_model NAME RATIO [SEED]: $T/NAME.safetensors, .locked.safetensors, .clkey
# (layer scope, which the tests' expectations assume, whatever lock's default)
make_model() {
	"$PY" "$HERE/mkmodel.py" "$T/$1.safetensors" "${3:-1}" || fail "mkmodel"
	"$CTL" lock "$T/$1.safetensors" -o "$T/$1.locked.safetensors" -k "$T/$1.clkey" --ratio "$2" \
		--scope layer > /dev/null || fail "lock"
}

# push_model NAME MODEL: upload $T/NAME.clkey as MODEL version 1; its id in $MID
push_model() {
	api POST "/v1/models?name=$2&version=1" --data-binary "@$T/$1.clkey"
	expect 201 "push $2"
	MID=$(jget '["id"]')
}

# cut_tier TIER RATIO: create or re-cut a tier of model $MID
cut_tier() {
	api PUT "/v1/models/$MID/tiers/$1" -d "{\"ratio\":$2}"
	expect 201 "tier $1"
}

# sql_run [--csv] STATEMENTS: run them on the daemon's database with the
# sqlite3 or psql command line: the rows, columns split by | (or as CSV with
# a header), then any error; the status is the tool's.
sql_run() {
	local fmt=()
	if [ "$CL_BACKEND" = postgresql ]; then
		if [ "$1" = --csv ]; then fmt=(--csv) && shift; else fmt=(-At); fi
		"${CL_PG_PSQL:-psql}" -Xq "${fmt[@]}" -v ON_ERROR_STOP=1 -d "$CL_PG_DSN" -c "$1" 2>&1
	else
		[ "$1" = --csv ] && fmt=(-csv -header) && shift
		sqlite3 -batch -bail "${fmt[@]}" "$T/var/corelockerd.db" "$1" 2>&1
	fi
}
# sql [--csv] STATEMENTS: the same, failing the test on an error.  The schema
# is the same on both backends; where the SQL must differ a test asks the
# helpers below or branches on $CL_BACKEND.
sql() {
	local out rc=0
	out=$(sql_run "$@") || rc=$?
	[ "$rc" = 0 ] || fail "sql: ${*: -1}: $out"
	printf '%s\n' "$out"
}
# sql_hex BLOB_EXPR: the expression of a blob's bytes in hex
sql_hex() {
	if [ "$CL_BACKEND" = postgresql ]; then echo "encode($1, 'hex')"; else echo "hex($1)"; fi
}
# audit_unguard, audit_guard: the statements that lift the audit log's
# append-only triggers (as someone who owns the database could), and that
# put them back
audit_unguard() {
	if [ "$CL_BACKEND" = postgresql ]; then
		echo "ALTER TABLE audit DISABLE TRIGGER USER;"
	else
		echo "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;"
	fi
}
audit_guard() {
	if [ "$CL_BACKEND" = postgresql ]; then
		echo "ALTER TABLE audit ENABLE TRIGGER USER;"
	else
		local op
		for op in update delete; do
			echo "CREATE TRIGGER IF NOT EXISTS audit_no_$op BEFORE ${op^^} ON audit" \
				"BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
		done
	fi
}
# schema_downgrade VERSION STATEMENTS: take the database (the daemon stopped)
# back to schema VERSION: STATEMENTS undo the later migrations' tables and
# columns (the same on both backends: schema/NNN_*.sql and schema/pg/NNN_*.sql
# mean the same), this undoes what only one set does, then the migrations
# past VERSION are forgotten, so the daemon runs them again.
schema_downgrade() {
	local later=
	# 007_fingerprint, undone here so that older callers need not know it
	[ "$1" -ge 7 ] || later="ALTER TABLE tiers DROP COLUMN fingerprint;"
	if [ "$CL_BACKEND" = postgresql ]; then
		local own=
		# 006_clock: SQLite has unixepoch() built in, PostgreSQL gets it
		[ "$1" -ge 6 ] || own="DROP FUNCTION unixepoch();"
		sql "$later $2 $own DELETE FROM schema_version WHERE version > $1;" > /dev/null
	else
		sql "$later $2 PRAGMA user_version = $1;" > /dev/null
	fi
}
