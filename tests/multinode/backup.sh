# backup.sh - the backup and restore of docs/deploy.md section 5, run for
# real: sourced by t_backup_sqlite.sh (BACKUP_BACKEND=sqlite: sqlite3
# ".backup" while the daemon runs) and t_backup_pg.sh (postgresql: pg_dump
# -Fc while it runs, pg_restore into a new database).
#
# A database with a model, two tiers, licenses (active with a seat and a
# delivery, revoked, suspended) and their audit entries is backed up while
# the daemon runs; a license issued after the backup must be gone after the
# restore.  The restored copy must verify (audit-verify), and a daemon on it
# must show the same licenses, seats and audit chain as at the backup (both
# snapshots computed from the API), judge the same licenses the same way,
# and deliver keys.
. "$top_srcdir/tests/server/common.sh"

# The PostgreSQL client tools: on PATH (postgresql-client), else Debian's server folder.
pgtool() {
	local t
	t=$(command -v "$1" || ls /usr/lib/postgresql/*/bin/"$1" 2> /dev/null | sort -V | tail -n 1)
	[ -n "$t" ] || { echo "SKIP: $1 is not installed (postgresql-client)"; exit 77; }
	echo "$t"
}
PG_STARTED=
if [ "$BACKUP_BACKEND" = postgresql ]; then
	. "$top_srcdir/tests/pg/cluster.sh"
	pg_cluster_check || exit 77
	PG_DUMP=$(pgtool pg_dump) PG_RESTORE=$(pgtool pg_restore) CREATEDB=$(pgtool createdb)
	trap 'cleanup_pg' EXIT
	cleanup_pg() {
		[ -z "$PG_STARTED" ] || pg_cluster_stop "$T/pg" || true
		cleanup
	}
	pg_cluster_start "$T/pg" > "$T/pg.start.log" 2>&1 || {
		echo "SKIP: the PostgreSQL cluster did not start: $(tail -n 5 "$T/pg.start.log")"
		exit 77
	}
	PG_STARTED=1
fi

# use_db NAME: point $T/d.conf at database NAME (a file in var/, or a PostgreSQL database)
use_db() {
	if [ "$BACKUP_BACKEND" = postgresql ]; then
		sed -i -e '/^database = /d' -e '/^backend = /d' -e '/^dsn = /d' -e '/^spool = /d' \
			-e "s|^\[storage\]\$|[storage]\nbackend = postgresql\ndsn = host=$CL_PG_SOCK user=postgres dbname=$1\nspool = var|" \
			"$T/d.conf"
	else
		sed -i -e '/^backend = /d' -e '/^dsn = /d' -e "s|^database = .*|database = var/$1.db|" "$T/d.conf"
	fi
}

# snapshot NAME: licenses (with their seats) and the audit chain as the API shows them
snapshot() {
	api GET "/v1/licenses?limit=10000"
	expect 200 "list licenses"
	cp "$T/body" "$T/$1.licenses"
	: > "$T/$1.machines"
	for id in $(jget '["licenses"]' "$T/$1.licenses" | "$PY" -c 'import json,sys; print(" ".join(str(l["id"]) for l in json.load(sys.stdin)))'); do
		api GET "/v1/licenses/$id/machines"
		expect 200 "machines of $id"
		cat "$T/body" >> "$T/$1.machines"
	done
	api GET "/v1/audit?since=0&limit=10000"
	expect 200 "audit"
	[ "$(jget '["chain"]["ok"]')" = true ] || fail "$1: the audit chain does not verify: $(jget '["chain"]')"
	"$PY" -c 'import json,sys
for e in json.load(open(sys.argv[1]))["entries"]:
    print(e["seq"], e["action"], e["target"], e["hash"])' "$T/body" > "$T/$1.audit"
}

make_cert
write_conf
use_db live
if [ "$BACKUP_BACKEND" = postgresql ]; then "$CREATEDB" -h "$CL_PG_SOCK" -U postgres live || fail "createdb live"; fi
init_db
start
"$PY" "$top_srcdir/tests/server/mkmodel.py" "$T/m.safetensors" 1 || fail "mkmodel"
"$CTL" lock "$T/m.safetensors" -o "$T/m.locked.safetensors" -k "$T/m.clkey" --ratio 0.25 --scope layer \
	> /dev/null || fail "lock"
push_model m backup
cut_tier basic 0.1
cut_tier full 0
declare -A KEYS LIDS
for c in active revoked suspended; do
	api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"$c\",\"max_machines\":2}"
	expect 201 "issue $c"
	KEYS[$c]=$(jget '["key"]')
	LIDS[$c]=$(jget '["id"]')
	post_json /v1/activate "{\"license_key\":\"${KEYS[$c]}\",\"fingerprint\":\"fp-$c\"}"
	expect 200 "activate $c"
done
post_json /v1/key "{\"license_key\":\"${KEYS[active]}\",\"fingerprint\":\"fp-active\",\"nonce\":\"before\"}"
expect 200 "key before the backup"
api POST "/v1/licenses/${LIDS[revoked]}/revoke"
expect 200 "revoke"
api POST "/v1/licenses/${LIDS[suspended]}/suspend"
expect 200 "suspend"
snapshot before

# The backup, while the daemon runs, then a write it must not hold.
if [ "$BACKUP_BACKEND" = postgresql ]; then
	"$PG_DUMP" -Fc -h "$CL_PG_SOCK" -U postgres -d live -f "$T/backup.dump" 2> "$T/dump.err" ||
		fail "pg_dump: $(cat "$T/dump.err")"
else
	sqlite3 "$T/var/live.db" ".backup $T/backup.db" 2> "$T/dump.err" || fail "sqlite3 .backup: $(cat "$T/dump.err")"
fi
api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"late\"}"
expect 201 "issue after the backup"
LATE=$(jget '["key"]')
stop

# The restore: a new database from the backup.
if [ "$BACKUP_BACKEND" = postgresql ]; then
	"$CREATEDB" -h "$CL_PG_SOCK" -U postgres restored || fail "createdb"
	"$PG_RESTORE" -h "$CL_PG_SOCK" -U postgres -d restored --no-owner --single-transaction "$T/backup.dump" \
		2> "$T/restore.err" || fail "pg_restore: $(cat "$T/restore.err")"
else
	install -m 0600 "$T/backup.db" "$T/var/restored.db"
	rm -f "$T/var/restored.db-wal" "$T/var/restored.db-shm"
fi
use_db restored
"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/verify.out" 2>&1 || fail "audit-verify of the restored copy: $(cat "$T/verify.out")"
start
snapshot restored
for f in licenses machines audit; do
	cmp -s "$T/before.$f" "$T/restored.$f" || fail "restored $f differ from the backup's: $(diff "$T/before.$f" "$T/restored.$f" | head -n 5)"
done
ok "$BACKUP_BACKEND: the restored copy verifies and shows the backup's licenses, seats and $(wc -l < "$T/before.audit") audit entries"

# The same judgements, and a working delivery.
for c in active:VALID revoked:REVOKED suspended:SUSPENDED; do
	post_json /v1/validate "{\"license_key\":\"${KEYS[${c%%:*}]}\",\"fingerprint\":\"fp-${c%%:*}\",\"nonce\":\"after\"}"
	expect 200 "validate ${c%%:*}"
	[ "$(jget '["code"]')" = "${c#*:}" ] || fail "validate ${c%%:*} after the restore: $(cat "$T/body")"
done
post_json /v1/key "{\"license_key\":\"${KEYS[active]}\",\"fingerprint\":\"fp-active\",\"nonce\":\"after\"}"
expect 200 "key after the restore"
post_json /v1/activate "{\"license_key\":\"$LATE\",\"fingerprint\":\"fp-late\"}"
expect_error 404 NOT_FOUND "the license issued after the backup"
api GET "/v1/audit?since=0&limit=10000"
[ "$(jget '["chain"]["ok"]')" = true ] || fail "the chain after new writes on the restored copy: $(jget '["chain"]')"
ok "$BACKUP_BACKEND: after the restore: VALID, REVOKED, SUSPENDED as before, keys delivered, the later license gone, the chain goes on"
stop
