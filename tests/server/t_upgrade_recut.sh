#!/bin/bash
# Upgrades after a re-cut (issue 9, item 16): the agent names the ratio its
# file holds (from_beta) and the server cuts the difference from that ratio,
# from the model's key.  A file at 0.2 upgraded after its tier was re-cut to
# 0.1 must equal `corelockerctl unlock --tier-ratio 0.1` byte for byte, and a
# further upgrade to pro (0.02) likewise.  The deprecated from_tier resolves
# to the named tier's current ratio; bad from_beta values are 400.
. "$(dirname "$0")/common.sh"

setup
make_model m 0.25
call GET /v1/pubkey
cp "$T/body" "$T/pub.pem"
push_model m recut
cut_tier basic 0.2
cut_tier pro 0.02
api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"c\"}"
expect 201 "issue"
LID=$(jget '["id"]')
KEY=$(jget '["key"]')
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\"}"
expect 200 "activate"

# fetch NONCE [EXTRA JSON FIELDS]: the volume in $T/NONCE.vol, its header in $T/NONCE.json.
fetch() {
	post_json /v1/key "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\",\"nonce\":\"$1\"${2:+,$2}}"
	cp "$T/body" "$T/$1.vol"
}
# apply NONCE IN OUT: apply the checked volume NONCE to IN.
apply() {
	"$VOLCHECK" "$T/$1.vol" "$T/pub.pem" --nonce "$1" --apply "$2" "$3" > "$T/$1.json" || fail "volcheck $1"
}
# same_as_unlock FILE RATIO
same_as_unlock() {
	"$CTL" unlock "$T/m.locked.safetensors" -k "$T/m.clkey" --tier-ratio "$2" -o "$T/ref-$2.safetensors" > /dev/null ||
		fail "unlock --tier-ratio $2"
	cmp -s "$1" "$T/ref-$2.safetensors" || fail "$1 differs from unlock --tier-ratio $2 ($(cmp "$1" "$T/ref-$2.safetensors" | head -c 200))"
}

fetch n1
expect 200 "basic at 0.2"
apply n1 "$T/m.locked.safetensors" "$T/at-0.2"
same_as_unlock "$T/at-0.2" 0.2

# Re-cut basic under the license, then upgrade the file at 0.2 to the new basic.
api PUT "/v1/models/$MID/tiers/basic" -d '{"ratio":0.1}'
expect 200 "re-cut basic to 0.1"
fetch n2 '"from_beta":0.2'
expect 200 "upgrade from 0.2 to the re-cut basic"
apply n2 "$T/at-0.2" "$T/at-0.1"
[ "$(jget '["from_beta"]' "$T/n2.json")" = 0.2 ] && [ "$(jget '["beta"]' "$T/n2.json")" = 0.1 ] ||
	fail "upgrade header: $(cat "$T/n2.json")"
"$PY" -c 'import json,sys; sys.exit("from_tier" in json.load(open(sys.argv[1])))' "$T/n2.json" ||
	fail "from_tier in a from_beta upgrade: $(cat "$T/n2.json")"
same_as_unlock "$T/at-0.1" 0.1
ok "a file at 0.2 upgraded after basic was re-cut to 0.1 is unlock --tier-ratio 0.1, byte for byte"

# Then to pro; the entries are exactly those 0.02 restores and 0.1 does not.
api PATCH "/v1/licenses/$LID" -d '{"tier":"pro"}'
expect 200 "upgrade the license to pro"
fetch n3 '"from_beta":0.1'
expect 200 "upgrade from 0.1 to pro"
apply n3 "$T/at-0.1" "$T/at-0.02"
same_as_unlock "$T/at-0.02" 0.02
fetch n4
expect 200 "pro in full"
e_full=$(jget '["entries"]' <("$VOLCHECK" "$T/n4.vol" "$T/pub.pem"))
api GET "/v1/models/$MID/tiers/basic"
e_basic=$(jget '["entries"]')
[ "$(jget '["entries"]' "$T/n3.json")" = $((e_full - e_basic)) ] ||
	fail "upgrade entries $(jget '["entries"]' "$T/n3.json"), expected $e_full - $e_basic"
ok "a further upgrade to pro holds exactly the difference and gives unlock --tier-ratio 0.02"

# The deprecated from_tier: the named tier's current ratio, and named in the header.
fetch n5 '"from_tier":"basic"'
expect 200 "upgrade from_tier basic"
"$VOLCHECK" "$T/n5.vol" "$T/pub.pem" > "$T/n5.json" || fail "volcheck n5"
[ "$(jget '["from_tier"]' "$T/n5.json")" = basic ] && [ "$(jget '["from_beta"]' "$T/n5.json")" = 0.1 ] ||
	fail "from_tier header: $(cat "$T/n5.json")"
[ "$(jget '["entries"]' "$T/n5.json")" = "$(jget '["entries"]' "$T/n3.json")" ] || fail "from_tier basic != from_beta 0.1"
ok "from_tier (deprecated) resolves to the tier's current ratio"

# Refusals: below the tier's ratio, outside [0, alpha], not a number, both fields, unknown tier.
for extra in '"from_beta":0.01' '"from_beta":0.3' '"from_beta":-0.1' '"from_beta":"0.1"' \
	'"from_beta":0.1,"from_tier":"basic"' '"from_tier":"gold"'; do
	fetch bad "$extra"
	expect_error 400 INVALID_FIELD "from: $extra"
done
ok "from_beta below the tier, outside [0, alpha], of the wrong type, with from_tier, or an unknown from_tier: 400"
api GET "/v1/audit?since=0&limit=1000"
"$PY" -c 'import json,sys
d=[e["detail"] for e in json.load(open(sys.argv[1]))["entries"] if e["action"] == "key.deliver"]
assert [x["from_beta"] for x in d] == [None, 0.2, 0.1, None, 0.1], d
assert [x["from_tier"] for x in d] == [None, None, None, None, "basic"], d' "$T/body" || fail "audit from_beta/from_tier"
ok "key.deliver records from_beta and from_tier"

# A clean exit: under the sanitizers, no leak and no runtime error.
stop
grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$T/serve.log" && fail "sanitizer report in the daemon log"
ok "the daemon stops cleanly"
