#!/bin/bash
# The keyed audit chain.  Each entry carries, besides its SHA-256 hash, an
# HMAC under a key derived from the master key: whoever can write the
# database (triggers dropped, as an attacker with the file would) can rewrite
# an entry and recompute the plain SHA-256 chain, but audit-verify still
# names the entry.  A database written before the keyed chain is migrated:
# its old entries stay verifiable, and an "audit.keyed" entry starts the keyed
# part at the daemon's next start.
. "$(dirname "$0")/common.sh"

setup
for i in 1 2 3; do
	api POST /v1/tokens -d "{\"name\":\"t$i\",\"scope\":\"read\"}"
	expect 201 "token $i"
done
api DELETE /v1/tokens/3
expect 204 "delete a token"
api GET /v1/audit
expect 200 "audit"
N=$(jget '["entries"].__len__()')
[ "$N" -ge 5 ] || fail "only $N entries"
[ "$(jget '["chain"]["ok"]')" = true ] && [ "$(jget '["chain"]["keyed"]')" = "$N" ] || fail "chain status: $(jget '["chain"]')"
export CORELOCKER_CACERT="$T/tls.crt"
CORELOCKER_SERVER=$URL CORELOCKER_TOKEN=$TOKEN "$CTL" audit verify > "$T/cv" || fail "ctl audit verify: $(cat "$T/cv")"
grep -qx "audit chain ok: $N entries ($N keyed)" "$T/cv" || fail "ctl audit verify: $(cat "$T/cv")"
"$PY" - "$T/body" <<'PYEOF' || fail "every entry must carry a mac, distinct from its hash"
import json, sys
e = json.load(open(sys.argv[1]))["entries"]
assert all(len(x["mac"]) == 64 and x["mac"] != x["hash"] for x in e), e
PYEOF
stop
"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/av" || fail "audit-verify: $(cat "$T/av")"
grep -qx "audit chain ok: $N entries ($N keyed)" "$T/av" || fail "audit-verify: $(cat "$T/av")"
ok "every entry keyed; GET /v1/audit and audit-verify agree ($N entries)"

# plainchain SEQ DETAIL: rewrite entry SEQ's detail (append-only triggers
# lifted), recompute the SHA-256 chain from there on, then check that the
# plain chain verifies, as the unkeyed audit-verify did
CHAIN_PY=$(cat <<'PYEOF'
import csv, hashlib, sys
prev = "0" * 64
for r in csv.DictReader(open(sys.argv[1], newline="")):
    text = "\n".join([prev] + [r[k] for k in ("seq", "ts", "actor", "action", "target", "detail")])
    new = hashlib.sha256(text.encode()).hexdigest()
    if sys.argv[2] == "fix":
        if (r["prev_hash"], r["hash"]) != (prev, new):
            print("UPDATE audit SET prev_hash = '%s', hash = '%s' WHERE seq = %s;" % (prev, new, r["seq"]))
        prev = new
    else:
        # the plain chain now verifies, as the attacker intends
        assert r["prev_hash"] == prev and r["hash"] == new, r["seq"]
        prev = r["hash"]
PYEOF
)
chain() {
	sql --csv "SELECT seq, ts, actor, action, target, detail, prev_hash, hash FROM audit ORDER BY seq" > "$T/rows.csv"
	"$PY" -c "$CHAIN_PY" "$T/rows.csv" "$1"
}
plainchain() {
	local detail=${2//"'"/"''"}
	sql "$(audit_unguard) UPDATE audit SET detail = '$detail' WHERE seq = $1" > /dev/null
	chain fix > "$T/fix.sql" && [ -s "$T/fix.sql" ] || return 1
	sql "$(audit_unguard) $(cat "$T/fix.sql")" > /dev/null
	chain check
}
# save_audit NAME, restore_audit NAME: a copy of the log kept in the
# database (audit_NAME), and put back, append-only again.
save_audit() {
	sql "DROP TABLE IF EXISTS audit_$1; CREATE TABLE audit_$1 AS SELECT * FROM audit" > /dev/null
}
restore_audit() {
	sql "$(audit_unguard) DELETE FROM audit; INSERT INTO audit SELECT * FROM audit_$1; $(audit_guard)" > /dev/null
}
save_audit clean

# ---- a rewrite with the plain chain recomputed ----
K=$((N - 2))
plainchain $K '{"name":"nobody","scope":"read"}' || fail "rewrite script"
[ "$(sql "SELECT detail FROM audit WHERE seq = $K")" = '{"name":"nobody","scope":"read"}' ] ||
	fail "the rewrite did not happen"
rc=0
"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/av" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a rewritten entry with a recomputed SHA-256 chain verified (exit $rc): $(cat "$T/av")"
grep -qx "audit chain BROKEN at entry $K: mac does not match: the entry was rewritten" "$T/av" ||
	fail "audit-verify: $(cat "$T/av")"
start
api GET /v1/audit
[ "$(jget '["chain"]["ok"]')" = false ] && [ "$(jget '["chain"]["bad_seq"]')" = "$K" ] ||
	fail "GET /v1/audit chain status: $(jget '["chain"]')"
rc=0
CORELOCKER_SERVER=$URL CORELOCKER_TOKEN=$TOKEN "$CTL" audit verify > "$T/cv" || rc=$?
[ "$rc" = 1 ] && grep -qx "audit chain BROKEN at entry $K: mac does not match: the entry was rewritten" "$T/cv" ||
	fail "ctl audit verify on a rewritten chain: $rc $(cat "$T/cv")"
stop
ok "entry $K rewritten, SHA-256 chain recomputed: audit-verify, GET /v1/audit and corelockerctl audit verify name entry $K"

# ---- the macs stripped: the keyed chain cannot pass as an unkeyed one ----
restore_audit clean
sql "$(audit_unguard) UPDATE audit SET mac = NULL WHERE seq >= $K" > /dev/null
rc=0
"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/av" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -qx "audit chain BROKEN at entry $K: no mac, although the chain is keyed since entry 1" "$T/av" ||
	fail "macs stripped from $K on: $(cat "$T/av")"
restore_audit clean
sql "$(audit_unguard) UPDATE audit SET mac = NULL" > /dev/null
rc=0
"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/av" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "BROKEN at entry $N: no entry is keyed" "$T/av" || fail "all macs stripped: $(cat "$T/av")"
ok "macs stripped from entry $K on, or from all: BROKEN"

# ---- a database from before the keyed chain (schema 1) ----
restore_audit clean
schema_downgrade 1 "$(audit_unguard) ALTER TABLE audit DROP COLUMN mac; $(audit_guard)
	ALTER TABLE tokens DROP COLUMN scope; ALTER TABLE tokens DROP COLUMN expires_at;
	ALTER TABLE tiers DROP COLUMN utility; ALTER TABLE tiers DROP COLUMN label;
	ALTER TABLE licenses DROP COLUMN lease_seconds; ALTER TABLE licenses DROP COLUMN floating;
	ALTER TABLE licenses DROP COLUMN max_checkout; ALTER TABLE machines DROP COLUMN lease_expires;
	ALTER TABLE machines DROP COLUMN checkout_until;"
start
grep -q "applied migration 003_audit_mac.sql" "$T/serve.log" || fail "migration 003 not applied: $(cat "$T/serve.log")"
api GET /v1/audit
[ "$(jget '["chain"]["ok"]')" = true ] && [ "$(jget '["chain"]["entries"]')" = $((N + 1)) ] &&
	[ "$(jget '["chain"]["keyed"]')" = 1 ] || fail "migrated chain: $(jget '["chain"]')"
[ "$(jget "[\"entries\"][$N][\"action\"]")" = audit.keyed ] &&
	[ "$(jget "[\"entries\"][$N][\"detail\"][\"unkeyed_entries\"]")" = "$N" ] || fail "transition entry: $(cat "$T/body")"
api GET /v1/tokens
expect 200 "tokens after the migration"
[ "$(jget '["tokens"][0]["scope"]')" = admin ] && [ "$(jget '["tokens"][0]["expires_at"]')" = null ] ||
	fail "old tokens: $(cat "$T/body")"
api POST /v1/tokens -d '{"name":"after","scope":"read"}'
expect 201 "a keyed entry after the transition"
stop
start
stop
"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/av" || fail "migrated audit-verify: $(cat "$T/av")"
grep -qx "audit chain ok: $((N + 2)) entries (2 keyed)" "$T/av" || fail "migrated audit-verify: $(cat "$T/av")"
save_audit migrated
ok "schema 1 database: migrated, its $N plain entries verify, one audit.keyed transition, keyed from there on"

# a rewrite of an entry from before the transition is caught at the transition
plainchain 2 '{}' || fail "rewrite script"
rc=0
"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/av" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -qx "audit chain BROKEN at entry $((N + 1)): mac does not match: the entry was rewritten (or an earlier unkeyed one)" "$T/av" ||
	fail "old entry rewritten: $(cat "$T/av")"
# and one after it, by its own seq
restore_audit migrated
plainchain $((N + 2)) '{"name":"forged"}' || fail "rewrite script"
rc=0
"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/av" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "BROKEN at entry $((N + 2)): mac does not match" "$T/av" || fail "new entry rewritten: $(cat "$T/av")"
ok "after the migration: an old entry rewritten breaks at the transition ($((N + 1))), a new one at its own seq"
