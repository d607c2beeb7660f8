#!/usr/bin/env bash
# run-one.sh tests/DIR/t_NAME.pg: the automake log compiler of the PostgreSQL
# pass (PG_LOG_COMPILER).  Runs tests/DIR/t_NAME.sh with CL_BACKEND=postgresql
# against a private cluster of its own, then stops and deletes the cluster
# whatever happened.  When PostgreSQL cannot be started the test is a SKIP
# (exit 77) with the reason, never a pass.
#
# initdb runs once per build tree: the first test that needs the cluster
# makes tests/pg/template under a lock, and every test starts a copy of it.
set -u
: "${top_srcdir:?run through make check}" "${top_builddir:?run through make check}"

stub=${1:?usage: run-one.sh TEST.pg}
rel=${stub#./}
rel=${rel#"$top_builddir"/}
rel=${rel#"$top_srcdir"/}
script=$top_srcdir/${rel%.pg}.sh
[ -f "$script" ] || { echo "run-one.sh: no test $script for $stub" >&2; exit 99; }

# As root the clusters run as corelocker-test (scripts/setup.sh makes it),
# else as cluster.sh's default.
if [ -z "${PG_CLUSTER_USER:-}" ] && id -u corelocker-test > /dev/null 2>&1; then
	export PG_CLUSTER_USER=corelocker-test
fi
. "$top_srcdir/tests/pg/cluster.sh"

skip() {
	echo "SKIP: PostgreSQL pass of ${rel%.pg}.sh: $*"
	exit 77
}
reason=$(pg_cluster_check 2>&1) || skip "${reason#SKIP: }"
CL_PG_BIN=$(pg_cluster_bindir)
# The tests' sql helper (tests/server/common.sh) reads the database with psql.
CL_PG_PSQL=$CL_PG_BIN/psql
[ -x "$CL_PG_PSQL" ] || CL_PG_PSQL=$(command -v psql) || skip "psql not found (Debian package postgresql-client)"
export CL_PG_PSQL

# The template cluster, made once under a lock (parallel tests wait for it).
tpl=$top_builddir/tests/pg/template
make_template() {
	# A template of another PostgreSQL version is made again.
	[ -f "$tpl/PG_VERSION" ] && [ "$(cat "$tpl.bin" 2> /dev/null)" = "$CL_PG_BIN" ] && return 0
	local w rc=0
	w=$(mktemp -d "${TMPDIR:-/tmp}/corelocker-pginit.XXXXXX") || return 1
	# initdb (and one start, which proves the cluster runs) in a temporary
	# folder, then a copy of the stopped cluster: no build tree is chowned.
	{ pg_cluster_start "$w" && pg_cluster_stop "$w"; } || rc=1
	[ "$rc" != 0 ] || { rm -rf "$tpl" "$tpl.new" && cp -a "$w/data" "$tpl.new" && mv "$tpl.new" "$tpl" &&
		echo "$CL_PG_BIN" > "$tpl.bin"; } || rc=1
	pg_cluster_stop "$w" > /dev/null 2>&1
	rm -rf "$w"
	return $rc
}
mkdir -p "$top_builddir/tests/pg"
reason=$( (flock 9 && make_template) 9> "$tpl.lock" 2>&1) || skip "no template cluster: ${reason:-initdb failed}"

W=$(mktemp -d "${TMPDIR:-/tmp}/corelocker-pg.XXXXXX") || skip "mktemp failed"
cleanup() {
	pg_cluster_stop "$W" || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
cp -a "$tpl" "$W/data" || skip "cannot copy the template cluster"
pg_cluster_start "$W" > "$W/start.err" 2>&1 || skip "$(tr '\n' ' ' < "$W/start.err")"

# CL_PG_DATA: the cluster's files, for tests that read what is at rest.
export CL_BACKEND=postgresql CL_PG_DATA=$W/data
rc=0
"$script" || rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
	echo "--- PostgreSQL log (tail) ---"
	tail -n 20 "$W/server.log" 2> /dev/null
fi
exit "$rc"
