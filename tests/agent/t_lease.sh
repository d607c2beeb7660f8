#!/bin/bash
# Leases through the agent: a floating 1-seat license with a 3 s lease goes
# to a second machine once the first stops heartbeating (lease + grace), and
# the first one's next heartbeat is NOT_ACTIVATED; a non-floating lease
# answers LEASE_EXPIRED until a heartbeat renews it; an offline checkout
# applies with --volume-file until its expires_at, is refused after it, and
# holds its seat until then.  The audit chain verifies at the end.
. "$top_srcdir/tests/agent/common.sh"

agent_setup "lease_grace = 1"
mk m 0.05 1
push m
tier m basic 0.02
L=$T/m.locked.safetensors
PUB=$T/pub.pem

# until_rc CODE TAG ARGS...: run the agent until it exits CODE (generous bound: 60 s).
until_rc() {
	local code=$1 tag=$2
	shift 2
	for _ in $(seq 1 300); do
		run_agent "$tag" "$@"
		[ "$RC" = "$code" ] && return 0
		sleep 0.2
	done
	fail "$tag: never exited $code (last $RC): $(cat "$T/$tag.err" "$T/$tag.out")"
}
epoch() { date -u -d "$1" +%s; }
lease_of() { sed -n 's/.*lease_expires=\([^ ]*\).*/\1/p' "$T/$1.out"; }

# ---- floating, 1 seat, 3 s lease ----
issue m basic '"lease_seconds":3,"floating":true,"max_machines":1'
run_agent a unlock "$L" -o "$T/a.safetensors" --license "$KEY" --fingerprint fp-A
expect_rc 0 a "A takes the seat"
run_agent ha heartbeat --license "$KEY" --fingerprint fp-A
expect_rc 0 ha "A's heartbeat"
grep -q '^VALID lease_expires=20[0-9-]*T[0-9:]*Z$' "$T/ha.out" || fail "heartbeat output: $(cat "$T/ha.out")"
A_END=$(epoch "$(lease_of ha)")
run_agent b unlock "$L" -o "$T/b.safetensors" --license "$KEY" --fingerprint fp-B
refused 9 b "B while A holds the seat"
grep -q TOO_MANY_MACHINES "$T/b.err" || fail "B's refusal: $(cat "$T/b.err")"
[ ! -e "$T/b.safetensors" ] || fail "B got a model"
ok "floating: A holds the only seat (heartbeat VALID with lease_expires); B is refused (exit 9)"

# A stops heartbeating: B gets the seat, but not before A's lease + grace.
until_rc 0 b2 unlock "$L" -o "$T/b.safetensors" --license "$KEY" --fingerprint fp-B
[ "$(date -u +%s)" -ge $((A_END + 1)) ] || fail "B got the seat before A's lease (+1 s grace) ended"
run_agent ha2 heartbeat --license "$KEY" --fingerprint fp-A
refused 14 ha2 "A's heartbeat after B took the seat"
grep -q '^NOT_ACTIVATED' "$T/ha2.out" || fail "A's heartbeat: $(cat "$T/ha2.out")"
grep -q 'NOT_ACTIVATED' "$T/ha2.err" && fail "A's heartbeat repeats the code on stderr: $(cat "$T/ha2.err")"
grep -q 'this machine is not activated for the license' "$T/ha2.err" || fail "A's heartbeat: $(cat "$T/ha2.err")"
run_agent hb heartbeat --license "$KEY" --fingerprint fp-B
expect_rc 0 hb "B's heartbeat"
api GET "/v1/licenses/$LID/machines"
expect 200 "machines"
[ "$(jget '["machines"].__len__()')" = 1 ] || fail "seats after the move: $(cat "$T/body")"
[ "$(jget '["machines"][0]["fingerprint"]')" = fp-B ] || fail "the seat is not B's: $(cat "$T/body")"
ok "floating: after A's lease + grace B gets the seat; A's next heartbeat is NOT_ACTIVATED (exit 14); one seat"

# ---- heartbeat --every: stops, with the code's status, when the license stops being valid ----
"$AGENT" heartbeat --license "$KEY" --fingerprint fp-B --every 1 > "$T/he.out" 2> "$T/he.err" &
HP=$!
for _ in $(seq 1 300); do [ "$(grep -c '^VALID' "$T/he.out")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c '^VALID' "$T/he.out")" -ge 2 ] || fail "heartbeat --every: $(cat "$T/he.out" "$T/he.err")"
api POST "/v1/licenses/$LID/suspend"
expect 200 "suspend"
RC=0
wait "$HP" || RC=$?
[ "$RC" = 8 ] || fail "heartbeat --every after a suspend: exit $RC: $(cat "$T/he.err")"
tail -n 1 "$T/he.out" | grep -q '^SUSPENDED' || fail "last heartbeat: $(tail -n 1 "$T/he.out")"
ok "heartbeat --every renews until the license is suspended, then exits 8"

# ---- non-floating: LEASE_EXPIRED after the lapse, a heartbeat renews ----
issue m basic '"lease_seconds":2'
run_agent c unlock "$L" -o "$T/c.safetensors" --license "$KEY" --fingerprint fp-C
expect_rc 0 c "C activates"
until_rc 16 cv validate --license "$KEY" --fingerprint fp-C
grep -qx LEASE_EXPIRED "$T/cv.out" || fail "validate after the lapse: $(cat "$T/cv.out")"
run_agent ch heartbeat --license "$KEY" --fingerprint fp-C
expect_rc 0 ch "C's heartbeat after the lapse"
run_agent cv2 validate --license "$KEY" --fingerprint fp-C
expect_rc 0 cv2 "validate after the renewal"
ok "non-floating: validate says LEASE_EXPIRED (exit 16) after the lapse; a heartbeat makes it VALID again"

# ---- offline checkout: 5 s, seat held until it ends ----
issue m basic '"lease_seconds":3,"floating":true,"max_machines":1,"max_checkout":5'
BEFORE=$(date -u +%s)
run_agent d checkout --ttl 3600 -o "$T/d.clvol" --license "$KEY" --fingerprint fp-D
expect_rc 0 d "checkout"
AFTER=$(date -u +%s)
D_END=$(epoch "$(sed -n 's/.*until \(.*Z\)$/\1/p' "$T/d.out")")
[ "$D_END" -ge "$BEFORE" ] && [ "$D_END" -le $((AFTER + 5)) ] || fail "checkout ends at $D_END, not within max_checkout (5 s) of $BEFORE..$AFTER"
(unset CORELOCKER_SERVER; run_agent dv unlock "$L" -o "$T/d.safetensors" --volume-file "$T/d.clvol" --server-key "$PUB"
	expect_rc 0 dv "the checked-out volume before it expires") || exit 1
cmp -s "$T/d.safetensors" "$T/a.safetensors" || fail "the checkout's model is not the tier's"
run_agent e unlock "$L" -o "$T/e.safetensors" --license "$KEY" --fingerprint fp-E
refused 9 e "E while D's checkout holds the seat"
until_rc 0 e2 unlock "$L" -o "$T/e.safetensors" --license "$KEY" --fingerprint fp-E
[ "$(date -u +%s)" -ge "$D_END" ] || fail "E got the seat before D's checkout ended"
(unset CORELOCKER_SERVER; run_agent dx unlock "$L" -o "$T/dx.safetensors" --volume-file "$T/d.clvol" --server-key "$PUB"
	refused 7 dx "the checked-out volume after it expired") || exit 1
[ ! -e "$T/dx.safetensors" ] || fail "an expired checkout wrote a model"
ok "checkout: capped at max_checkout; applies offline before expires_at, refused after (exit 7); its seat is held until then"

issue m basic
run_agent n checkout --ttl 60 -o "$T/n.clvol" --license "$KEY" --fingerprint fp-N
refused 15 n "checkout with max_checkout 0"
grep -q CHECKOUT_DISABLED "$T/n.err" || fail "CHECKOUT_DISABLED: $(cat "$T/n.err")"
[ ! -e "$T/n.clvol" ] || fail "a refused checkout wrote a file"
run_agent n2 checkout --ttl 0 -o "$T/n.clvol" --license "$KEY" --fingerprint fp-N
refused 2 n2 "--ttl 0"
ok "checkout: CHECKOUT_DISABLED (exit 15) and --ttl 0 (exit 2) are refused with one line and no file"

# ---- heartbeat refusals: one line each, its own status ----
openssl genpkey -algorithm ed25519 -out "$T/other.key" 2>/dev/null && openssl pkey -in "$T/other.key" -pubout -out "$T/other.pem" ||
	fail "openssl genpkey"
run_agent h1 heartbeat --license "$KEY" --fingerprint fp-N --server-key "$T/other.pem"
refused 5 h1 "a heartbeat answer signed by another key"
run_agent h2 heartbeat --license clk_0000000000000000000000000000000000000000 --fingerprint fp-N
refused 10 h2 "a heartbeat for an unknown license"
grep -qx "NOT_FOUND lease_expires=none" "$T/h2.out" || fail "unknown license: $(cat "$T/h2.out")"
run_agent h3 heartbeat --license "$KEY" --fingerprint fp-N --every 0
refused 2 h3 "--every 0"
ok "heartbeat: a foreign signature (5), an unknown license (10), --every 0 (2): one line each"

"$CORELOCKERD" audit-verify -c "$T/d.conf" > "$T/av" || fail "audit-verify: $(cat "$T/av")"
grep -q "^audit chain ok" "$T/av" || fail "audit-verify: $(cat "$T/av")"
ok "the audit chain verifies after the moves, lapses and checkouts"
