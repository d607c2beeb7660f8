#!/bin/bash
# Rate limits: per client address, per license key, and the activation cap;
# 429 RATE_LIMITED with Retry-After.  Buckets refill at 1/s, so a burst of
# 20 quick requests must overflow a burst of 3 unless it took over 17 s.
. "$(dirname "$0")/common.sh"

make_cert
write_conf
sed -i 's/^rate = 0$/rate = 1\nburst = 3/' "$T/d.conf"
init_db
start
limited=0
for _ in $(seq 1 20); do
	call GET /healthz
	if [ "$STATUS" = 429 ]; then
		limited=1
		break
	fi
done
[ "$limited" = 1 ] || fail "no 429 after 20 requests at rate 1, burst 3"
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
limited=0
for i in $(seq 1 20); do
	post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp$i\"}"
	if [ "$STATUS" = 429 ]; then
		limited=1
		break
	fi
done
[ "$limited" = 1 ] || fail "no 429 after 20 activations at activate_rate 1, burst 2"
expect_error 429 RATE_LIMITED "activation cap"
limited=0
for i in $(seq 1 20); do
	post_json /v1/validate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp1\",\"nonce\":\"n$i\"}"
	if [ "$STATUS" = 429 ]; then
		limited=1
		break
	fi
done
[ "$limited" = 1 ] || fail "no 429 after 20 validations at license_rate 1, burst 2"
grep -Eqi '^Retry-After: [1-9]' "$T/headers" || fail "429 without Retry-After"
# admin calls are not slowed by the license limits
api GET /v1/licenses
expect 200 "admin while a license is limited"
call GET /metrics
grep -Eq '^corelockerd_rate_limited_total [1-9]' "$T/body" || fail "rate-limited metric"
ok "per-license limit and activation cap: 429 with Retry-After; counted in /metrics"
