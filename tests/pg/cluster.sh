# cluster.sh - a private PostgreSQL cluster for tests, sourced by shell tests.
#
#   pg_cluster_check        0 when initdb/pg_ctl are there ($PG_BINDIR, PATH,
#                           /usr/lib/postgresql/*/bin); else prints why
#                           and returns 1 (callers: pg_cluster_check || exit 77)
#   pg_cluster_start DIR    initdb into DIR/data on first use (trust, superuser
#                           postgres), then start it with its Unix socket in
#                           DIR/sock and no TCP listener; waits until it
#                           accepts connections.  Exports
#                           CL_PG_DSN="host=DIR/sock user=postgres dbname=postgres"
#                           and CL_PG_SOCK=DIR/sock.  Starting a stopped
#                           cluster again keeps its data.
#   pg_cluster_stop DIR     fast shutdown; no-op when it is not running.
#                           The caller removes DIR.
#
# PostgreSQL refuses to run as root: as root the cluster runs as
# $PG_CLUSTER_USER (default nobody), DIR is chowned to it, and DIR's
# ancestors get o+x (search, not listing) so that it can reach DIR.
# Keep DIR short: a socket path has at most 107 bytes.

PG_CLUSTER_USER=${PG_CLUSTER_USER:-nobody}

# The server binaries: $PG_BINDIR when set, else on PATH, else Debian's
# versioned folder (newest).
pg_cluster_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then
		[ -x "$PG_BINDIR/pg_ctl" ] && [ -x "$PG_BINDIR/initdb" ] && echo "$PG_BINDIR"
		return
	fi
	if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v pg_ctl)"
		return 0
	fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] || return 1
	echo "$d"
}

pg_cluster_check() {
	if ! pg_cluster_bindir >/dev/null; then
		echo "SKIP: PostgreSQL server binaries (initdb, pg_ctl) not found" >&2
		return 1
	fi
	if [ "$(id -u)" = 0 ] && ! id -u "$PG_CLUSTER_USER" >/dev/null 2>&1; then
		echo "SKIP: running as root and user $PG_CLUSTER_USER does not exist" >&2
		return 1
	fi
	if [ "$(id -u)" = 0 ] && ! command -v runuser >/dev/null 2>&1; then
		echo "SKIP: running as root and runuser is missing" >&2
		return 1
	fi
	return 0
}

# _pg_as CMD...: run CMD as the cluster's user, from DIR (its cwd must be
# readable by that user).
_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		(cd "$_pg_dir" && runuser -u "$PG_CLUSTER_USER" -- "$@")
	else
		(cd "$_pg_dir" && "$@")
	fi
}

pg_cluster_start() {
	_pg_dir=$(mkdir -p "$1" && cd "$1" && pwd) || return 1
	_pg_bin=$(pg_cluster_bindir) || { echo "pg_cluster_start: no initdb/pg_ctl" >&2; return 1; }
	mkdir -p "$_pg_dir/sock"
	if [ "$(id -u)" = 0 ]; then
		chown -R "$PG_CLUSTER_USER" "$_pg_dir"
		p=$(dirname "$_pg_dir")
		while [ "$p" != / ]; do
			runuser -u "$PG_CLUSTER_USER" -- test -x "$p" || chmod o+x "$p"
			p=$(dirname "$p")
		done
	fi
	if [ ! -f "$_pg_dir/data/PG_VERSION" ]; then
		_pg_as "$_pg_bin/initdb" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
			-D "$_pg_dir/data" > "$_pg_dir/initdb.log" 2>&1 ||
			{ echo "pg_cluster_start: initdb failed:" >&2; tail -n 20 "$_pg_dir/initdb.log" >&2; return 1; }
	fi
	# -w waits for "ready to accept connections"; -t bounds that wait.
	_pg_as "$_pg_bin/pg_ctl" start -w -t 120 -D "$_pg_dir/data" -l "$_pg_dir/server.log" \
		-o "-k $_pg_dir/sock -c listen_addresses='' -c fsync=off" > /dev/null 2>&1 ||
		{ echo "pg_cluster_start: pg_ctl start failed:" >&2; tail -n 20 "$_pg_dir/server.log" >&2; return 1; }
	CL_PG_SOCK="$_pg_dir/sock"
	CL_PG_DSN="host=$CL_PG_SOCK user=postgres dbname=postgres"
	export CL_PG_SOCK CL_PG_DSN
}

pg_cluster_stop() {
	_pg_dir=$(cd "$1" 2>/dev/null && pwd) || return 0
	[ -f "$_pg_dir/data/postmaster.pid" ] || return 0
	_pg_bin=$(pg_cluster_bindir) || return 1
	_pg_as "$_pg_bin/pg_ctl" stop -w -t 120 -m fast -D "$_pg_dir/data" > /dev/null 2>&1
}
