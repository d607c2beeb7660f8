#!/bin/sh
# t_db_pg.sh - the PostgreSQL driver's unit test (tests/unit/test_db_pg)
# against a private cluster, which it stops and starts to test recovery.
# Skipped (77) when the PostgreSQL server binaries are missing.
set -eu
: "${top_srcdir:?run through make check}"
: "${top_builddir:?run through make check}"
. "$top_srcdir/tests/pg/cluster.sh"
pg_cluster_check || exit 77

T=$(mktemp -d "${TMPDIR:-/tmp}/clpg.XXXXXX")
trap 'pg_cluster_stop "$T/pg"; rm -rf "$T"' EXIT
pg_cluster_start "$T/pg"
PG_TEST_STOP=". '$top_srcdir/tests/pg/cluster.sh' && pg_cluster_stop '$T/pg'"
PG_TEST_START=". '$top_srcdir/tests/pg/cluster.sh' && pg_cluster_start '$T/pg'"
export PG_TEST_STOP PG_TEST_START

rc=0
"$top_builddir/tests/unit/test_db_pg" 2> "$T/log" || rc=$?
# Each error is logged with its SQLSTATE; a password never is.
if ! grep -q 'SQLSTATE 23505' "$T/log"; then
	echo "not ok - a unique violation was not logged with its SQLSTATE" >&2
	rc=1
fi
if grep -q 'Sekr3tPassw0rd' "$T/log"; then
	echo "not ok - the password reached the log" >&2
	rc=1
fi
if [ "$rc" != 0 ]; then
	echo "--- driver log ---" >&2
	cat "$T/log" >&2
fi
exit "$rc"
