#!/bin/bash
# corelockerd migrate (issue 10): a single-node SQLite database with real
# models, tiers, licenses (one revoked), seats, tokens and deliveries moves
# into a private PostgreSQL cluster.  The copy is verified (counts, audit
# chain) and the daemon on PostgreSQL serves the same licenses: the same
# admin views, the same key volume entries, the revoked license refused.  A
# migration that fails half-way writes nothing and can be re-run; a re-run
# after success says so; a foreign non-empty target is refused.
. "$(dirname "$0")/common.sh"
. "$top_srcdir/tests/pg/cluster.sh"

# It makes its own SQLite source and PostgreSQL target whatever the pass.
[ "${CL_BACKEND:-sqlite}" = sqlite ] || { echo "SKIP: migrate runs in the SQLite pass (it starts its own cluster)"; exit 77; }
pg_cluster_check || exit 77

setup
make_model m 0.25
push_model m migr
cut_tier basic 0.2
cut_tier pro 0.02
api PUT "/v1/models/$MID/tiers/basic" -d '{"ratio":0.2,"utility":71.5,"label":"accuracy %"}'
expect 200 "record basic's utility"
api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"acme\",\"max_machines\":2}"
expect 201 "issue 1"
KEY1=$(jget '["key"]')
api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"pro\",\"customer\":\"globex\",\"expires_at\":\"2099-01-01T00:00:00Z\"}"
expect 201 "issue 2"
LID2=$(jget '["id"]')
KEY2=$(jget '["key"]')
api POST /v1/tokens -d '{"name":"auditor","scope":"read"}'
expect 201 "read token"
for k in "$KEY1" "$KEY2"; do
	post_json /v1/activate "{\"license_key\":\"$k\",\"fingerprint\":\"fp1\",\"hostname\":\"h1\"}"
	expect 200 "activate"
	post_json /v1/key "{\"license_key\":\"$k\",\"fingerprint\":\"fp1\",\"nonce\":\"before\"}"
	expect 200 "key before"
done
cp "$T/body" "$T/before.vol"
api POST "/v1/licenses/$LID2/revoke"
expect 200 "revoke 2"
post_json /v1/key "{\"license_key\":\"$KEY1\",\"fingerprint\":\"fp1\",\"nonce\":\"n1\"}"
expect 200 "key 1"
cp "$T/body" "$T/sqlite.vol"
# The admin views to compare after the move.
for p in /v1/licenses "/v1/models/$MID" "/v1/models/$MID/tiers" /v1/licenses/1/machines; do
	api GET "$p"
	expect 200 "GET $p"
	cp "$T/body" "$T/view-$(echo "$p" | tr / _)"
done
call GET /v1/pubkey
cp "$T/body" "$T/pub.pem"
stop
"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/verify.out" || fail "source chain: $(cat "$T/verify.out")"
SRC_ENTRIES=$(sed -n 's/^audit chain ok: \([0-9]*\) entries.*/\1/p' "$T/verify.out")
[ -n "$SRC_ENTRIES" ] && [ "$SRC_ENTRIES" -ge 10 ] || fail "source audit: $(cat "$T/verify.out")"
SRC_DB="$T/var/corelockerd.db"

PGD=$(mktemp -d /tmp/clpg.XXXXXX)
trap 'pg_cluster_stop "$PGD"; rm -rf "$PGD"; cleanup' EXIT
pg_cluster_start "$PGD" || fail "cannot start PostgreSQL"
PSQL=$(pg_cluster_bindir)/psql
[ -x "$PSQL" ] || PSQL=$(command -v psql) || fail "no psql"
pg() { "$PSQL" "$CL_PG_DSN" -v ON_ERROR_STOP=1 -qAtc "$1"; }
pg "CREATE DATABASE target" || fail "createdb"
DSN="${CL_PG_DSN/dbname=postgres/dbname=target}"
sed -e '/^database = /d' -e "s|^\[storage\]|[storage]\nbackend = postgresql\ndsn = $DSN|" "$T/d.conf" > "$T/pg.conf"
"$CORELOCKERD" check-config -c "$T/pg.conf" > /dev/null || fail "check-config of the PostgreSQL configuration"
pgt() { "$PSQL" "$DSN" -v ON_ERROR_STOP=1 -qAtc "$1"; }

# A password in the DSN is refused: it would show wherever the config does.
sed "s|^dsn = .*|dsn = $DSN password=hunter2|" "$T/pg.conf" > "$T/pw.conf"
"$CORELOCKERD" migrate -c "$T/pw.conf" --from "sqlite:$SRC_DB" 2> "$T/pw.err" && fail "a DSN with a password was accepted"
grep -q "passfile" "$T/pw.err" || fail "password DSN message: $(cat "$T/pw.err")"
ok "a password in the DSN is refused, with the way to give it"

# Half-way failure: the target refuses the 6th audit row; nothing may stay.
"$CORELOCKERD" migrate -c "$T/pg.conf" --from "sqlite:/nonexistent.db" 2> "$T/m0.err" && fail "a missing source was accepted"
"$CORELOCKERD" migrate -c "$T/pg.conf" --from "/nonexistent.db" 2> "$T/m0.err" && fail "a --from without sqlite: was accepted"
# Opening the empty target creates its schema (and an empty chain verifies).
"$CORELOCKERD" audit-verify -c "$T/pg.conf" > "$T/empty.out" || fail "audit-verify of the empty target"
pgt "ALTER TABLE audit ADD CONSTRAINT trap CHECK (seq < 6)" || fail "add the trap (schema missing?)"
"$CORELOCKERD" migrate -c "$T/pg.conf" --from "sqlite:$SRC_DB" > "$T/m1.out" 2> "$T/m1.err" &&
	fail "a migration that cannot insert audit row 6 succeeded"
grep -q "nothing was written" "$T/m1.err" || fail "half-way failure message: $(cat "$T/m1.err")"
for t in tokens models model_keys slices tiers licenses machines audit; do
	[ "$(pgt "SELECT count(*) FROM $t")" = 0 ] || fail "a failed migration left rows in $t"
done
ok "a migration that fails at audit row 6 leaves every table of the target empty"

pgt "ALTER TABLE audit DROP CONSTRAINT trap"
"$CORELOCKERD" migrate -c "$T/pg.conf" --from "sqlite:$SRC_DB" > "$T/m2.out" 2> "$T/m2.err" ||
	fail "migrate: $(cat "$T/m2.err")"
grep -q "counts and audit chain verified" "$T/m2.out" || fail "migrate output: $(cat "$T/m2.out")"
for t in tokens models model_keys slices tiers licenses machines; do
	a=$(sql "SELECT count(*) FROM $t")
	b=$(pgt "SELECT count(*) FROM $t")
	[ "$a" = "$b" ] && [ "$a" -gt 0 ] || fail "$t: $a rows in SQLite, $b in PostgreSQL"
done
[ "$(pgt "SELECT count(*) FROM audit")" = $((SRC_ENTRIES + 1)) ] || fail "audit rows after migrate"
[ "$(pgt "SELECT action FROM audit ORDER BY seq DESC LIMIT 1")" = store.migrate ] || fail "no store.migrate entry"
ok "migrated: every table's count equals the source's; the chain gained one store.migrate entry"

# Re-run after success: reported, nothing written.
"$CORELOCKERD" migrate -c "$T/pg.conf" --from "sqlite:$SRC_DB" > "$T/m3.out" 2> "$T/m3.err" ||
	fail "re-run: $(cat "$T/m3.err")"
grep -q "already migrated" "$T/m3.out" || fail "re-run output: $(cat "$T/m3.out")"
[ "$(pgt "SELECT count(*) FROM audit")" = $((SRC_ENTRIES + 1)) ] || fail "the re-run wrote audit rows"
ok "a re-run after success reports it and writes nothing"

# The daemon on PostgreSQL serves the same state.
cp "$T/pg.conf" "$T/d.conf"
start
"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/verify2.out" || fail "target chain: $(cat "$T/verify2.out")"
for p in /v1/licenses "/v1/models/$MID" "/v1/models/$MID/tiers" /v1/licenses/1/machines; do
	api GET "$p"
	expect 200 "GET $p on PostgreSQL"
	"$PY" - "$T/view-$(echo "$p" | tr / _)" "$T/body" <<'EOF' || fail "GET $p differs after the move"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
sys.exit(0 if a == b else "%s\n!=\n%s" % (json.dumps(a)[:600], json.dumps(b)[:600]))
EOF
done
ok "licenses, model, tiers and machines read the same from PostgreSQL"
post_json /v1/key "{\"license_key\":\"$KEY1\",\"fingerprint\":\"fp1\",\"nonce\":\"n1\"}"
expect 200 "key 1 on PostgreSQL"
cp "$T/body" "$T/pg.vol"
for v in sqlite pg; do
	"$VOLCHECK" "$T/$v.vol" "$T/pub.pem" --nonce n1 --apply "$T/m.locked.safetensors" "$T/$v.out" > /dev/null ||
		fail "volcheck $v"
done
cmp -s "$T/sqlite.out" "$T/pg.out" || fail "the volume from PostgreSQL restores other bytes"
post_json /v1/key "{\"license_key\":\"$KEY2\",\"fingerprint\":\"fp1\",\"nonce\":\"n2\"}"
expect_error 403 REVOKED "the revoked license on PostgreSQL"
api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"new\"}"
expect 201 "issue after the move"
[ "$(jget '["id"]')" = 3 ] || fail "the id after the copied ones: $(jget '["id"]') (sequence not moved on?)"
ok "the same key bytes, the revoked license refused, new ids follow the copied ones"
stop

# A target initialized on its own (another chain) is refused, never merged into.
pg "CREATE DATABASE other" || fail "createdb other"
mkdir -p "$T/other"
sed -e "s|^dsn = .*|dsn = ${CL_PG_DSN/dbname=postgres/dbname=other}|" -e "s|var/signing.key|other/signing.key|" \
	-e "s|var/master.key|other/master.key|" "$T/pg.conf" > "$T/other.conf"
"$CORELOCKERD" init -c "$T/other.conf" > /dev/null 2> "$T/oinit.err" || fail "init other: $(cat "$T/oinit.err")"
"$CORELOCKERD" init -c "$T/other.conf" > /dev/null 2> "$T/oinit2.err" && fail "a second init on PostgreSQL succeeded"
mkdir -p "$T/other2"
sed "s|other/|other2/|g" "$T/other.conf" > "$T/other2.conf"
"$CORELOCKERD" init -c "$T/other2.conf" > /dev/null 2> "$T/oinit3.err" && fail "init over an initialized PostgreSQL database succeeded"
grep -q "holds an audit log" "$T/oinit3.err" || fail "init over a database: $(cat "$T/oinit3.err")"
"$CORELOCKERD" migrate -c "$T/other.conf" --from "sqlite:$SRC_DB" > "$T/m4.out" 2> "$T/m4.err" &&
	fail "migrate into a foreign non-empty target succeeded: $(cat "$T/m4.out")"
grep -q "not empty" "$T/m4.err" || fail "foreign target message: $(cat "$T/m4.err")"
ok "init refuses an initialized database; a foreign non-empty target is refused by migrate"
