#!/bin/sh
# t_pg_schema.sh - schema/ (SQLite) and schema/pg/ (PostgreSQL) describe the
# same tables, columns, keys and foreign keys (schema_parity.py), checked on
# a private cluster.  Skipped (77) without the PostgreSQL server binaries.
set -eu
: "${top_srcdir:?run through make check}"
. "$top_srcdir/tests/pg/cluster.sh"
pg_cluster_check || exit 77
command -v psql > /dev/null || { echo "SKIP: psql is missing" >&2; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/clpg.XXXXXX")
trap 'pg_cluster_stop "$T/pg"; rm -rf "$T"' EXIT
pg_cluster_start "$T/pg"
"${PYTHON:-python3}" "$top_srcdir/tests/unit/schema_parity.py" "$top_srcdir/schema" "$top_srcdir/schema/pg" "$CL_PG_DSN"
