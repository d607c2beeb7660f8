#!/bin/bash
# Rate limits: per client address, per license key, and the activation cap;
# 429 RATE_LIMITED with Retry-After.
#
# Independent of the machine's speed: each burst of requests goes through one
# curl over one keep-alive connection and is timed, and the test checks the
# token bucket's promise, at most BURST + RATE x elapsed seconds granted,
# however long the burst took.  The shape of a 429 is checked on the first
# one; a burst that drew none (only possible if it took longer than
# (N - BURST) / RATE seconds) is repeated, a bounded number of times.
. "$(dirname "$0")/common.sh"

# burst N PATH [JSON]: N requests in one curl (a POST of JSON when given,
# with every %i replaced by the request's number).  Checks that at most
# $BURST + $RATE x elapsed were granted, and sets LIMITED=1 if a 429 came,
# its headers and body then in $T/headers and $T/body (STATUS=429).
burst() {
	local n=$1 path=$2 json=${3:-} args=() i t0 t1 secs granted
	for i in $(seq 1 "$n"); do
		[ "$i" = 1 ] || args+=(--next)
		args+=(-sS -i -w '\n' --cacert "$T/tls.crt")
		[ -z "$json" ] || args+=(-H 'Content-Type: application/json' --data-binary "${json//%i/$i}")
		args+=("$URL$path")
	done
	t0=$(date +%s.%N)
	curl "${args[@]}" > "$T/burst" || fail "curl ($path)"
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	granted=$(grep -Ec '^HTTP/[0-9.]+ 200' "$T/burst") || true
	awk -v g="$granted" -v b="$BURST" -v r="$RATE" -v s="$secs" 'BEGIN { exit !(g <= b + r * s + 1e-6) }' ||
		fail "$path: $granted of $n granted in $secs s at rate $RATE, burst $BURST"
	LIMITED=0
	grep -Eq '^HTTP/[0-9.]+ 429' "$T/burst" || return 0
	LIMITED=1
	STATUS=429
	: > "$T/headers"
	: > "$T/body"
	awk -v h="$T/headers" -v b="$T/body" '
		/^HTTP\// { if (body) exit; grab = $2 == 429; head = 1 }
		!grab { next }
		head { sub(/\r$/, ""); if ($0 == "") head = 0; else print > h; next }
		{ print > b; body = 1 }' "$T/burst"
}
# limited N PATH [JSON]: bursts until one draws a 429 (at most 5).
limited() {
	for _ in 1 2 3 4 5; do
		burst "$@"
		[ "$LIMITED" = 1 ] && return 0
	done
	fail "$2: no 429 in 5 bursts of $1 requests at rate $RATE, burst $BURST"
}

make_cert
write_conf
sed -i 's/^rate = 0$/rate = 1\nburst = 3/' "$T/d.conf"
init_db
start
RATE=1 BURST=3
limited 20 /healthz
expect_error 429 RATE_LIMITED "rate limit"
grep -Eqi '^Retry-After: [1-9]' "$T/headers" || fail "429 without Retry-After"
stop
ok "per-address limit: 429 RATE_LIMITED with Retry-After"

write_conf
sed -i 's/^license_rate = 0$/license_rate = 1\nlicense_burst = 2/; s/^activate_rate = 0$/activate_rate = 1\nactivate_burst = 2/' "$T/d.conf"
start
make_model m 0.25
api POST "/v1/models?name=m&version=1" --data-binary "@$T/m.clkey"
MID=$(jget '["id"]')
api PUT "/v1/models/$MID/tiers/t" -d '{"ratio":0.1}'
api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"t\",\"customer\":\"c\",\"max_machines\":100}"
expect 201 issue
KEY=$(jget '["key"]')
RATE=1 BURST=2
limited 20 /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp%i\"}"
expect_error 429 RATE_LIMITED "activation cap"
limited 20 /v1/validate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp1\",\"nonce\":\"n%i\"}"
expect_error 429 RATE_LIMITED "license limit"
grep -Eqi '^Retry-After: [1-9]' "$T/headers" || fail "429 without Retry-After"
# admin calls are not slowed by the license limits
api GET /v1/licenses
expect 200 "admin while a license is limited"
call GET /metrics
grep -Eq '^corelockerd_rate_limited_total [1-9]' "$T/body" || fail "rate-limited metric"
ok "per-license limit and activation cap: 429 with Retry-After; counted in /metrics"
