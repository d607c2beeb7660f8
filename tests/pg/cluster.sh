# cluster.sh - a private PostgreSQL cluster for one test, sourced by shell tests.
#
#   pg_cluster_start DIR   initdb into DIR/data (unless a cluster is already
#                          there) and start it on the Unix socket DIR/sock only
#                          (no TCP); exports CL_PG_DSN, CL_PG_SOCK, CL_PG_BIN.
#   pg_cluster_stop DIR    stop it (fast shutdown); DIR itself is kept.
#
# Both return non-zero with one line on stderr when PostgreSQL is missing or
# will not start; a caller turns that into a SKIP (exit 77) with the reason.
# initdb refuses root: as root the cluster runs as CL_PG_USER (default
# corelocker-test, created by scripts/setup.sh), which then owns DIR.

# The newest server binaries (Debian keeps them off PATH).
pg_bindir() {
	local d
	if [ -n "${CL_PG_BIN:-}" ]; then
		echo "$CL_PG_BIN"
		return 0
	fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] || d=$(pg_config --bindir 2>/dev/null) || true
	[ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] || {
		echo "PostgreSQL server binaries not found (no initdb; scripts/setup.sh installs postgresql)" >&2
		return 1
	}
	echo "$d"
}

# pg_as CMD...: run CMD as the cluster's owner (ourselves unless root).
pg_as() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u "${CL_PG_USER:-corelocker-test}" -- "$@")
	else
		"$@"
	fi
}

# pg_owner_ok: as root, the cluster user exists.
pg_owner_ok() {
	[ "$(id -u)" != 0 ] && return 0
	getent passwd "${CL_PG_USER:-corelocker-test}" > /dev/null && return 0
	echo "initdb refuses root and user ${CL_PG_USER:-corelocker-test} does not exist (scripts/setup.sh creates it)" >&2
	return 1
}

# pg_cluster_init DATADIR: initdb only (superuser postgres, trust on the socket).
pg_cluster_init() {
	local bin data=$1
	bin=$(pg_bindir) && pg_owner_ok || return 1
	mkdir -p "$data" && chmod 700 "$data" || return 1
	[ "$(id -u)" != 0 ] || chown "${CL_PG_USER:-corelocker-test}:" "$data" || return 1
	pg_as "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale --no-sync \
		> "$data.initdb.log" 2>&1 || {
		echo "initdb failed: $(tail -n 3 "$data.initdb.log" | tr '\n' ' ')" >&2
		return 1
	}
}

pg_cluster_start() {
	local bin dir=$1
	bin=$(pg_bindir) && pg_owner_ok || return 1
	mkdir -p "$dir/sock" || return 1
	[ "$(id -u)" != 0 ] || chown "${CL_PG_USER:-corelocker-test}:" "$dir" "$dir/sock" || return 1
	[ -f "$dir/data/PG_VERSION" ] || pg_cluster_init "$dir/data" || return 1
	# A test cluster: small, socket only, no fsync (no test crashes the OS).
	pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 120 start \
		-o "-k $dir/sock -c listen_addresses= -c fsync=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=60" \
		> "$dir/pg_ctl.log" 2>&1 || {
		echo "PostgreSQL did not start: $(tail -n 3 "$dir/postgres.log" 2>/dev/null | tr '\n' ' ')" >&2
		return 1
	}
	export CL_PG_BIN=$bin CL_PG_SOCK=$dir/sock
	export CL_PG_DSN="host=$dir/sock user=postgres dbname=postgres"
}

pg_cluster_stop() {
	local bin dir=$1
	[ -f "$dir/data/postmaster.pid" ] || return 0
	bin=$(pg_bindir) || return 1
	pg_as "$bin/pg_ctl" -D "$dir/data" -w -t 120 -m fast stop > /dev/null 2>&1 ||
		pg_as "$bin/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1
}
