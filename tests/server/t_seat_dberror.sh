#!/bin/bash
# A database error while looking up or taking a seat is 503 UNAVAILABLE
# (with Retry-After), never NOT_ACTIVATED: an agent must retry, not conclude
# that its machine lost its seat.  The error is real: the machines table is
# renamed away under the running daemon, then put back.
. "$(dirname "$0")/common.sh"

setup
make_model m 0.25
push_model m seat
cut_tier basic 0.1
api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"c\",\"max_machines\":2}"
expect 201 "issue"
KEY=$(jget '["key"]')
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp1\"}"
expect 200 "activate"

rename() {
	sql "ALTER TABLE $1 RENAME TO $2" > /dev/null
}

rename machines machines_away
post_json /v1/key "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp1\",\"nonce\":\"n1\"}"
expect_error 503 UNAVAILABLE "key with the seats unreadable"
grep -qi '^retry-after:' "$T/headers" || fail "503 without Retry-After"
post_json /v1/validate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp1\",\"nonce\":\"n2\"}"
expect_error 503 UNAVAILABLE "validate with the seats unreadable"
for fp in fp1 fp2; do
	post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"$fp\"}"
	expect_error 503 UNAVAILABLE "activate $fp with the seats unreadable"
done
rename machines_away machines
post_json /v1/key "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp1\",\"nonce\":\"n3\"}"
expect 200 "key once the seats are back"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp2\"}"
expect 200 "activate fp2 once the seats are back"
[ "$(sql 'SELECT COUNT(*) FROM machines')" = 2 ] || fail "seats after the outage"
ok "a database error while seating is 503 UNAVAILABLE with Retry-After, never NOT_ACTIVATED"

# A clean exit: under the sanitizers, no leak and no runtime error.
stop
grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$T/serve.log" && fail "sanitizer report in the daemon log"
ok "the daemon stops cleanly"
