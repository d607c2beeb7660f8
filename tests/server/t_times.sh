#!/bin/bash
# Times: one RFC 3339 parser (lib/timefmt.c) for every time.  Offsets are
# applied, fractions dropped, a leap second is :59, and the result must lie
# in 1970..9999 after the offset: "9999-12-31T23:59:60-23:59" (year 10000)
# is refused instead of stored.  What is stored comes back in UTC.
. "$(dirname "$0")/common.sh"

setup
make_model m 0.25
push_model m times
cut_tier basic 0.1

# utc TIME: the expected UTC form, computed by Python's own parser
utc() {
	"$PY" -c 'import datetime,sys
s=sys.argv[1].replace(":60", ":59")
t=datetime.datetime.fromisoformat(s.replace("Z","+00:00"))
print(t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$1"
}

for t in 2099-01-01T00:00:00Z 2030-06-01T10:00:00+02:00 2030-06-01T10:00:00-05:30 2016-12-31T23:59:60Z \
	2030-06-01T10:00:00.123456Z 9999-12-31T23:59:59Z 9999-12-31T23:59:59+23:59; do
	api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"c\",\"expires_at\":\"$t\"}"
	expect 201 "expires_at $t"
	want=$(utc "$t")
	[ "$(jget '["expires_at"]')" = "$want" ] || fail "$t stored as $(jget '["expires_at"]'), want $want"
done
LID=$(jget '["id"]')
ok "offsets, fractions and a leap second are normalised to UTC"

before=$(sql 'SELECT COUNT(*) FROM licenses')
for t in 9999-12-31T23:59:60-23:59 9999-12-31T23:59:59-00:01 1970-01-01T00:00:00+00:01 2023-02-29T00:00:00Z \
	2030-01-01T00:00:00 2030-01-01T24:00:00Z 10000-01-01T00:00:00Z 2030-01-01T00:00:00+24:00; do
	api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"c\",\"expires_at\":\"$t\"}"
	expect_error 400 INVALID_FIELD "expires_at $t"
	grep -q "'expires_at' must be an RFC 3339 time" "$T/body" || fail "message: $(cat "$T/body")"
	api PATCH "/v1/licenses/$LID" -d "{\"expires_at\":\"$t\"}"
	expect_error 400 INVALID_FIELD "PATCH expires_at $t"
done
[ "$(sql 'SELECT COUNT(*) FROM licenses')" = "$before" ] || fail "a refused time stored a license"
[ "$(sql "SELECT MAX(expires_at) FROM licenses")" -le 253402300799 ] || fail "a time past 9999 is stored"
ok "year 10000 after the offset, before 1970, 29 February 2023, no zone, hour 24: 400, nothing stored"
stop
