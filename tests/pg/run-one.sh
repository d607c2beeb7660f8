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

. "$top_srcdir/tests/pg/cluster.sh"

skip() {
	echo "SKIP: PostgreSQL pass of ${rel%.pg}.sh: $*"
	exit 77
}

# The template cluster, made once under a lock (parallel tests wait for it).
tpl=$top_builddir/tests/pg/template
make_template() {
	local bin w
	bin=$(pg_bindir) || return 1
	# A template of another PostgreSQL version is made again.
	[ -f "$tpl/PG_VERSION" ] && [ "$(cat "$tpl.bin" 2>/dev/null)" = "$bin" ] && return 0
	w=$(mktemp -d "${TMPDIR:-/tmp}/corelocker-pginit.XXXXXX") || return 1
	[ "$(id -u)" != 0 ] || chown "${CL_PG_USER:-corelocker-test}:" "$w"
	# initdb in a temporary folder: the cluster user may not reach the build tree.
	if pg_cluster_init "$w/data"; then
		rm -rf "$tpl" "$tpl.new" && cp -a "$w/data" "$tpl.new" && mv "$tpl.new" "$tpl" &&
			echo "$bin" > "$tpl.bin"
	fi
	local rc=$?
	rm -rf "$w"
	return $rc
}
mkdir -p "$top_builddir/tests/pg"
reason=$( (flock 9 && make_template) 9> "$tpl.lock" 2>&1) || skip "${reason:-initdb failed}"

W=$(mktemp -d "${TMPDIR:-/tmp}/corelocker-pg.XXXXXX") || skip "mktemp failed"
cleanup() {
	pg_cluster_stop "$W" || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
[ "$(id -u)" != 0 ] || chown "${CL_PG_USER:-corelocker-test}:" "$W"
cp -a "$tpl" "$W/data" || skip "cannot copy the template cluster"
pg_cluster_start "$W" 2> "$W/start.err" || skip "$(cat "$W/start.err")"

export CL_BACKEND=postgresql
rc=0
"$script" || rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
	echo "--- PostgreSQL log (tail) ---"
	tail -n 20 "$W/postgres.log" 2> /dev/null
fi
exit "$rc"
