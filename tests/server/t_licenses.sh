#!/bin/bash
# Licenses, seats, validation codes, signed answers, key volumes and the
# audit log, end to end over TLS.
. "$(dirname "$0")/common.sh"

setup
make_model m 0.25
call GET /v1/pubkey
cp "$T/body" "$T/pub.pem"

push_model m fashion
cut_tier basic 0.1
cut_tier pro 0.02
cut_tier full 0

# ---- issue ----
api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"acme\",\"max_machines\":2}"
expect 201 "issue"
LID=$(jget '["id"]')
KEY=$(jget '["key"]')
[ ${#KEY} -ge 36 ] || fail "license key too short: $KEY"
[ "$(jget '["status"]')" = active ] && [ "$(jget '["expires_at"]')" = null ] && [ "$(jget '["max_machines"]')" = 2 ] ||
	fail "license fields: $(cat "$T/body")"
api GET "/v1/licenses/$LID"
expect 200 "show"
grep -q '"key"' "$T/body" && fail "the key is shown again"
sql "SELECT $(sql_hex key_hash) FROM licenses" | grep -qi "${KEY#clk_}" && fail "license key stored in clear"
api POST /v1/licenses -d '{"model":"fashion","tier":"pro","customer":"globex","expires_at":"2099-01-01T00:00:00Z"}'
expect 201 "issue by model name, with expiry"
LID2=$(jget '["id"]')
KEY2=$(jget '["key"]')
[ "$(jget '["expires_at"]')" = 2099-01-01T00:00:00Z ] || fail "expires_at round trip"
api POST /v1/licenses -d '{"model":"fashion","tier":"full","customer":"old","expires_at":"2001-01-01T00:00:00+02:00"}'
expect 201 "issue an expired license"
LID3=$(jget '["id"]')
KEY3=$(jget '["key"]')
[ "$(jget '["status"]')" = expired ] || fail "status expired"
[ "$(jget '["expires_at"]')" = 2000-12-31T22:00:00Z ] || fail "offset applied"
before=$(sql 'SELECT COUNT(*) FROM licenses')
for body in '{"model":999,"tier":"basic","customer":"x"}' "{\"model\":$MID,\"tier\":\"nope\",\"customer\":\"x\"}"; do
	api POST /v1/licenses -d "$body"
	expect_error 404 NOT_FOUND "issue: $body"
done
for body in "{\"model\":$MID,\"tier\":\"basic\"}" "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"\"}" \
	"{\"model\":$MID,\"tier\":\"basic\",\"customer\":7}" "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"x\",\"max_machines\":0}" \
	"{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"x\",\"max_machines\":\"2\"}" \
	"{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"x\",\"expires_at\":\"tomorrow\"}" \
	"{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"x\",\"expires_at\":\"2030-02-31T00:00:00Z\"}" \
	"{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"$(head -c 300 /dev/zero | tr '\0' a)\"}" \
	"{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"a\\u0001b\"}" \
	"{\"model\":[1],\"tier\":\"basic\",\"customer\":\"x\"}" '"just a string"' 'null' '{"model":1,'; do
	api POST /v1/licenses -d "$body"
	expect 400 "issue: $body"
done
[ "$(sql 'SELECT COUNT(*) FROM licenses')" = "$before" ] || fail "a refused issue stored a license"
ok "issue: keys shown once and stored hashed; bad bodies 400/404 and nothing stored"

# ---- list ----
api GET /v1/licenses
[ "$(jget '["licenses"].__len__()')" = 3 ] || fail "list all"
api GET "/v1/licenses?customer=acme"
[ "$(jget '["licenses"].__len__()')" = 1 ] && [ "$(jget '["licenses"][0]["id"]')" = "$LID" ] || fail "filter customer"
api GET "/v1/licenses?status=expired"
[ "$(jget '["licenses"].__len__()')" = 1 ] && [ "$(jget '["licenses"][0]["id"]')" = "$LID3" ] || fail "filter status"
api GET "/v1/licenses?model=fashion&status=active"
[ "$(jget '["licenses"].__len__()')" = 2 ] || fail "filter model+status"
api GET "/v1/licenses?status=bogus"
expect_error 400 BAD_REQUEST "bad status filter"
api GET /v1/licenses/99999
expect_error 404 NOT_FOUND "unknown license"
ok "list with model, customer and status filters"

# ---- activate ----
post_json /v1/activate "{\"license_key\":\"clk_nope\",\"fingerprint\":\"fp1\"}"
expect_error 404 NOT_FOUND "activate an unknown key"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp1\",\"hostname\":\"box1\"}"
expect 200 "activate fp1"
[ "$(jget '["new"]')" = true ] || fail "first activation is new"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp1\"}"
expect 200 "activate fp1 again"
[ "$(jget '["new"]')" = false ] || fail "repeat activation is not new"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp2\"}"
expect 200 "activate fp2"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp3\"}"
expect_error 403 TOO_MANY_MACHINES "third machine on a 2-seat license"
post_json /v1/activate "{\"license_key\":\"$KEY3\",\"fingerprint\":\"fp1\"}"
expect_error 403 EXPIRED "activate an expired license"
post_json /v1/activate "{\"license_key\":\"$KEY\"}"
expect_error 400 INVALID_FIELD "activate without a fingerprint"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":{\"a\":1}}"
expect 400 "fingerprint of the wrong type"
api GET "/v1/licenses/$LID/machines"
expect 200 "machines"
[ "$(jget '["machines"].__len__()')" = 2 ] && [ "$(jget '["machines"][0]["hostname"]')" = box1 ] || fail "machines list"
ok "activate: idempotent per fingerprint, max_machines -> 403 TOO_MANY_MACHINES, unknown key 404"

# ---- validate: every code, signed ----
validate() { # KEY FP NONCE -> code
	post_json /v1/validate "{\"license_key\":\"$1\",\"fingerprint\":\"$2\",\"nonce\":\"$3\"}"
	expect 200 "validate $2"
	sed -n 's/^Corelocker-Signature: ed25519=\([A-Za-z0-9+/=]*\).*/\1/ip' "$T/headers" | base64 -d > "$T/sig"
	openssl pkeyutl -verify -pubin -inkey "$T/pub.pem" -rawin -in "$T/body" -sigfile "$T/sig" > /dev/null 2>&1 ||
		fail "validate answer signature does not verify"
	[ "$(jget '["nonce"]')" = "$3" ] || fail "nonce not echoed"
	jget '["ts"]' | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' || fail "ts format"
	jget '["code"]'
}
[ "$(validate "$KEY" fp1 n1)" = VALID ] || fail "VALID"
[ "$(jget '["valid"]')" = true ] || fail "valid true"
[ "$(validate clk_unknown fp1 n2)" = NOT_FOUND ] || fail "NOT_FOUND"
[ "$(jget '["valid"]')" = false ] || fail "valid false"
[ "$(validate "$KEY" fp9 n3)" = NOT_ACTIVATED ] || fail "NOT_ACTIVATED"
[ "$(validate "$KEY3" fp1 n4)" = EXPIRED ] || fail "EXPIRED"
api PATCH "/v1/licenses/$LID" -d '{"max_machines":1}'
expect 200 "shrink max_machines"
[ "$(validate "$KEY" fp2 n5)" = TOO_MANY_MACHINES ] || fail "TOO_MANY_MACHINES for the newest seat"
[ "$(validate "$KEY" fp1 n6)" = VALID ] || fail "the oldest seat stays VALID"
api PATCH "/v1/licenses/$LID" -d '{"max_machines":2}'
api POST "/v1/licenses/$LID/suspend"
expect 200 suspend
[ "$(jget '["status"]')" = suspended ] || fail "suspended status"
[ "$(validate "$KEY" fp1 n7)" = SUSPENDED ] || fail "SUSPENDED"
api POST "/v1/licenses/$LID/reinstate"
expect 200 reinstate
[ "$(validate "$KEY" fp1 n8)" = VALID ] || fail "VALID after reinstate"
post_json /v1/validate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp1\"}"
expect_error 400 INVALID_FIELD "validate without a nonce"
ok "validate: 200 signed over the exact body, nonce and ts; VALID NOT_FOUND NOT_ACTIVATED EXPIRED TOO_MANY_MACHINES SUSPENDED"

# ---- key volumes ----
key() { # KEY FP NONCE [FROM]
	local extra=""
	[ -n "${4:-}" ] && extra=",\"from_tier\":\"$4\""
	call POST /v1/key -H 'Content-Type: application/json' \
		--data-binary "{\"license_key\":\"$1\",\"fingerprint\":\"$2\",\"nonce\":\"$3\"$extra}"
	cp "$T/body" "$T/vol"
}
key "$KEY" fp1 nonce-1
expect 200 "key for basic"
"$VOLCHECK" "$T/vol" "$T/pub.pem" --nonce nonce-1 --apply "$T/m.locked.safetensors" "$T/basic.safetensors" > "$T/vh" ||
	fail "volume does not verify"
[ "$(jget '["tier"]' "$T/vh")" = basic ] && [ "$(jget '["license"]' "$T/vh")" = "$LID" ] || fail "volume header: $(cat "$T/vh")"
[ "$(jget '["locked_sha256"]' "$T/vh")" = "$(sha256sum < "$T/m.locked.safetensors" | cut -c1-64)" ] || fail "volume base fingerprint"
grep -q original_sha256 "$T/vh" && fail "original fingerprint in a partial tier"
"$CTL" unlock "$T/m.locked.safetensors" -k "$T/m.clkey" --tier-ratio 0.1 -o "$T/basic.ref" > /dev/null
cmp "$T/basic.safetensors" "$T/basic.ref" || fail "the basic volume does not rebuild tier 0.1"
"$VOLCHECK" "$T/vol" "$T/pub.pem" --nonce other > /dev/null 2>&1 && fail "nonce mismatch accepted"
cp "$T/vol" "$T/vol.bad"
sz=$(stat -c %s "$T/vol.bad")
printf '\x01' | dd of="$T/vol.bad" bs=1 seek=$((sz - 100)) conv=notrunc 2>/dev/null
"$VOLCHECK" "$T/vol.bad" "$T/pub.pem" > /dev/null 2>&1 && fail "a tampered volume verified"
ok "key: signed volume verifies, carries nonce, license and base fingerprint, rebuilds the tier byte for byte"

# upgrade basic -> full by PATCH, fetching only the slices in between
api PATCH "/v1/licenses/$LID" -d '{"tier":"full"}'
expect 200 "upgrade to full"
[ "$(jget '["tier"]')" = full ] || fail "tier after PATCH"
key "$KEY" fp1 nonce-2 basic
expect 200 "key full from basic"
"$VOLCHECK" "$T/vol" "$T/pub.pem" --nonce nonce-2 --apply "$T/basic.safetensors" "$T/full.safetensors" > "$T/vh" ||
	fail "upgrade volume"
cmp "$T/full.safetensors" "$T/m.safetensors" || fail "basic + upgrade != the original"
[ "$(jget '["from_tier"]' "$T/vh")" = basic ] || fail "from_tier in the header"
[ "$(jget '["original_sha256"]' "$T/vh")" = "$(sha256sum < "$T/m.safetensors" | cut -c1-64)" ] || fail "original fingerprint"
key "$KEY" fp1 nonce-3
"$VOLCHECK" "$T/vol" "$T/pub.pem" --apply "$T/m.locked.safetensors" "$T/full2.safetensors" > "$T/vh" || fail "full volume"
cmp "$T/full2.safetensors" "$T/m.safetensors" || fail "the full volume != the original"
full_entries=$(jget '["entries"]' "$T/vh")
key "$KEY" fp1 nonce-4 pro
"$VOLCHECK" "$T/vol" "$T/pub.pem" > "$T/vh" || fail "pro->full volume"
[ "$(jget '["entries"]' "$T/vh")" -lt "$full_entries" ] || fail "an upgrade volume is smaller than the full one"
key "$KEY" fp1 nonce-5 nope
expect_error 400 INVALID_FIELD "from an unknown tier"
api PATCH "/v1/licenses/$LID" -d '{"tier":"basic"}'
key "$KEY" fp1 nonce-6 full
expect_error 400 INVALID_FIELD "from a higher tier"
ok "from_tier: only the slices between two tiers; basic + upgrade == original"

# corelockerd keeps unsealed slices in memory (server/slicecache.h): a re-cut
# must be served at once, and the old cut never again
key "$KEY" fp1 nonce-7
expect 200 "key for basic, again (from the cache)"
api PUT "/v1/models/$MID/tiers/basic" -d '{"ratio":0.15}'
expect 200 "re-cut basic while in use"
key "$KEY" fp1 nonce-8
expect 200 "key for basic after the re-cut"
"$VOLCHECK" "$T/vol" "$T/pub.pem" --nonce nonce-8 --apply "$T/m.locked.safetensors" "$T/recut.safetensors" > /dev/null ||
	fail "re-cut volume"
"$CTL" unlock "$T/m.locked.safetensors" -k "$T/m.clkey" --tier-ratio 0.15 -o "$T/recut.ref" > /dev/null
cmp -s "$T/recut.safetensors" "$T/recut.ref" || fail "after a re-cut, the volume is not the new cut"
key "$KEY" fp1 nonce-9 pro
expect_error 400 INVALID_FIELD "from a tier above the re-cut one"
api PUT "/v1/models/$MID/tiers/basic" -d '{"ratio":0.1}'
expect 200 "re-cut basic back"
key "$KEY" fp1 nonce-10
"$VOLCHECK" "$T/vol" "$T/pub.pem" --apply "$T/m.locked.safetensors" "$T/recut2.safetensors" > /dev/null ||
	fail "volume after the second re-cut"
cmp -s "$T/recut2.safetensors" "$T/basic.ref" || fail "after re-cutting back, the volume is not tier 0.1"
ok "a re-cut tier is delivered at once, though the old slice was cached"

# /metrics shows the cache at work; [limits] slice_cache = 0 turns it off
cache_metric() { # NAME: corelockerd_slice_cache_NAME's value
	call GET /metrics
	sed -n "s/^corelockerd_slice_cache_$1 //p" "$T/body"
}
two_keys() { # NONCE-PREFIX: two deliveries of the basic tier
	key "$KEY" fp1 "$1-a"
	expect 200 "key $1-a"
	key "$KEY" fp1 "$1-b"
	expect 200 "key $1-b"
}
h0=$(cache_metric hits_total) m0=$(cache_metric misses_total)
two_keys cached
h1=$(cache_metric hits_total) m1=$(cache_metric misses_total)
[ $((h1 - h0)) = 2 ] && [ "$m1" = "$m0" ] || fail "cached slice: hits $h0 -> $h1, misses $m0 -> $m1"
[ "$(cache_metric bytes)" -gt 0 ] || fail "no bytes cached: $(cat "$T/body")"
stop
write_conf "slice_cache = 0"
start
two_keys uncached
[ "$(cache_metric hits_total)" = 0 ] && [ "$(cache_metric misses_total)" = 2 ] && [ "$(cache_metric bytes)" = 0 ] ||
	fail "slice_cache = 0 still caches: $(grep slice_cache "$T/body")"
"$VOLCHECK" "$T/vol" "$T/pub.pem" --apply "$T/m.locked.safetensors" "$T/uncached.safetensors" > /dev/null ||
	fail "volume without the cache"
cmp -s "$T/uncached.safetensors" "$T/basic.ref" || fail "without the cache, the volume is not tier 0.1"
ok "slice cache: two hits and no unseal when cached; with slice_cache = 0 two unseals, nothing kept, same volume"

key clk_unknown fp1 n
expect_error 404 NOT_FOUND "key for an unknown license"
key "$KEY" fp9 n
expect_error 403 NOT_ACTIVATED "key for a machine without a seat"
key "$KEY3" fp1 n
expect_error 403 EXPIRED "key for an expired license"
api POST "/v1/licenses/$LID/suspend"
key "$KEY" fp1 n
expect_error 403 SUSPENDED "key for a suspended license"
api POST "/v1/licenses/$LID/reinstate"
ok "key refusals: 404 NOT_FOUND, 403 with the validation code"

# ---- in use ----
api DELETE "/v1/models/$MID/tiers/basic"
expect_error 409 IN_USE "delete a tier in use"
api DELETE "/v1/models/$MID"
expect_error 409 IN_USE "delete a model in use"
api POST "/v1/licenses/$LID2/suspend"
api DELETE "/v1/models/$MID/tiers/pro"
expect_error 409 IN_USE "a suspended license keeps its tier in use"
api DELETE "/v1/models/$MID/tiers/full"
expect 204 "a tier used only by an expired license can go"
ok "409 IN_USE while an active or suspended license uses a model or tier"

# ---- machines ----
MACH=$(api GET "/v1/licenses/$LID/machines"; jget '["machines"][1]["id"]')
api DELETE "/v1/licenses/$LID/machines/$MACH"
expect 204 "free a seat"
api DELETE "/v1/licenses/$LID/machines/$MACH"
expect_error 404 NOT_FOUND "free it twice"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp3\"}"
expect 200 "the freed seat can be taken"
ok "machines: delete frees a seat"

# ---- revoke ----
api POST "/v1/licenses/$LID/revoke"
expect 200 revoke
[ "$(validate "$KEY" fp1 n9)" = REVOKED ] || fail "REVOKED"
api POST "/v1/licenses/$LID/reinstate"
expect_error 409 INVALID_STATE "reinstate a revoked license"
api PATCH "/v1/licenses/$LID" -d '{"tier":"pro"}'
expect_error 409 INVALID_STATE "patch a revoked license"
api PATCH "/v1/licenses/$LID2" -d '{}'
expect_error 400 INVALID_FIELD "empty patch"
api PATCH "/v1/licenses/$LID2" -d '{"expires_at":null}'
expect 200 "clear the expiry"
[ "$(jget '["expires_at"]')" = null ] || fail "expiry cleared"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp1\"}"
expect_error 403 REVOKED "activate a revoked license"
ok "revoke is final; REVOKED from validate and activate"

# ---- audit ----
api GET /v1/audit
expect 200 audit
cp "$T/body" "$T/audit.json"
"$PY" - "$T/audit.json" <<'PYEOF' || fail "the audit chain does not verify from the API"
import hashlib, json, sys
e = json.load(open(sys.argv[1]))["entries"]
prev = "0" * 64
for x in e:
    assert x["prev_hash"] == prev, x
    text = "%s\n%d\n%d\n%s\n%s\n%s\n%s" % (prev, x["seq"], x["ts_unix"], x["actor"], x["action"], x["target"], x["detail_text"])
    assert hashlib.sha256(text.encode()).hexdigest() == x["hash"], x
    prev = x["hash"]
actions = [x["action"] for x in e]
for a in ("init", "model.create", "tier.create", "tier.recut", "license.issue", "license.update", "license.suspend",
          "license.reinstate", "license.revoke", "machine.activate", "machine.delete", "key.deliver", "tier.delete"):
    assert a in actions or a == "tier.recut", a
assert actions.count("key.deliver") == 11, actions.count("key.deliver")  # 7, and 4 in the slice cache checks
PYEOF
n=$(jget '["entries"].__len__()' "$T/audit.json")
api GET "/v1/audit?since=$((n - 2))"
[ "$(jget '["entries"].__len__()')" = 2 ] || fail "audit since"
api GET "/v1/audit?since=x"
expect_error 400 BAD_REQUEST "audit since=x"
for s in "UPDATE audit SET actor = 'x' WHERE seq = 1" "DELETE FROM audit WHERE seq = 1"; do
	sql_run "$s" > "$T/append" && fail "audit rows can be changed: $s"
	grep -q 'append-only' "$T/append" || fail "$s: $(cat "$T/append")"
done
"$CORELOCKERD" audit-verify -c "$T/d.conf" > /dev/null || fail "audit-verify"
ok "audit: every admin action and delivery, hash chain verifies, append-only, since=N"

call GET /metrics
# the daemon restarted for the slice_cache = 0 check: the two deliveries since then
grep -q '^corelockerd_key_deliveries_total 2$' "$T/body" || fail "deliveries metric: $(grep deliveries "$T/body")"
grep -q 'route="/v1/key",status="403"' "$T/body" || fail "key 403 metric"
ok "metrics count deliveries and statuses by route"
