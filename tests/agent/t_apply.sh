#!/bin/bash
# cl_volume_apply(), through examples/apply_in_memory (public API only, linked
# with the shared libcorelocker): a volume fetched with curl patches a model
# held in memory; every check refuses before the first byte changes.
. "$top_srcdir/tests/agent/common.sh"
: "${APPLY_EXAMPLE:?run through make check}"

agent_setup
mk m 0.05 1
mk other 0.05 1 2
push m
tier m basic 0.02
tier m full 0
issue m basic
KB=$KEY LB=$LID
L=$T/m.locked.safetensors
ref "$L" "$T/m.clkey" 0.02 "$T/ref-basic.safetensors"

post_json /v1/activate "{\"license_key\":\"$KB\",\"fingerprint\":\"fp\"}"
expect 200 activate
fetch() { # NONCE [FROM] -> $T/vol
	post_json /v1/key "{\"license_key\":\"$KB\",\"fingerprint\":\"fp\",\"nonce\":\"$1\"${2:+,\"from_tier\":\"$2\"}}"
	expect 200 "key $1"
	cp "$T/body" "$T/vol"
}
# app TAG ARGS...
app() {
	local tag=$1
	shift
	RC=0
	"$APPLY_EXAMPLE" "$@" > "$T/$tag.out" 2> "$T/$tag.err" || RC=$?
}

fetch a1
app ok1 "$L" "$T/vol" "$T/pub.pem" --nonce a1 -o "$T/basic.safetensors"
expect_rc 0 ok1 "apply basic in memory"
cmp -s "$T/basic.safetensors" "$T/ref-basic.safetensors" || fail "in-memory basic != corelockerctl unlock"
grep -q "^sha256 $(sha256sum < "$T/ref-basic.safetensors" | cut -c1-64)\$" "$T/ok1.out" || fail "reported digest: $(cat "$T/ok1.out")"
cp "$T/vol" "$T/basic.clvol"

app n1 "$L" "$T/vol" "$T/pub.pem" --nonce a2
expect_rc 1 n1 "a stale nonce"
grep -q "replay" "$T/n1.err" || fail "nonce message: $(cat "$T/n1.err")"
cp "$T/vol" "$T/bad"
sz=$(stat -c %s "$T/bad")
printf '\x55' | dd of="$T/bad" bs=1 seek=$((sz - 80)) conv=notrunc 2>/dev/null
app t1 "$L" "$T/bad" "$T/pub.pem"
expect_rc 1 t1 "a tampered volume"
grep -q "signature" "$T/t1.err" || fail "tamper message: $(cat "$T/t1.err")"
app w1 "$T/other.locked.safetensors" "$T/vol" "$T/pub.pem"
expect_rc 1 w1 "another model"
grep -q "does not hash to the locked model" "$T/w1.err" || fail "wrong base message: $(cat "$T/w1.err")"
ok "cl_volume_apply: basic tier in memory == corelockerctl unlock; stale nonce, tampering, wrong base refused"

api PATCH "/v1/licenses/$LB" -d '{"tier":"full"}'
fetch a3
app ok2 "$L" "$T/vol" "$T/pub.pem" --nonce a3 -o "$T/full.safetensors"
expect_rc 0 ok2 "apply full in memory"
cmp -s "$T/full.safetensors" "$T/m.safetensors" || fail "in-memory full != original"
grep -q "SHA-256 verified" "$T/ok2.out" || fail "full not verified: $(cat "$T/ok2.out")"
fetch a4 basic
app up "$T/basic.safetensors" "$T/vol" "$T/pub.pem"
expect_rc 1 up "an upgrade volume without base digests"
grep -q "needs the base_sha256" "$T/up.err" || fail "upgrade message: $(cat "$T/up.err")"
app up2 "$T/basic.safetensors" "$T/vol" "$T/pub.pem" --nonce a4 --base-sha256 "$(sha256sum < "$T/basic.safetensors" | cut -c1-64)" \
	-o "$T/up.safetensors"
expect_rc 0 up2 "an upgrade in memory"
cmp -s "$T/up.safetensors" "$T/m.safetensors" || fail "basic + upgrade in memory != original"
app up3 "$T/basic.safetensors" "$T/vol" "$T/pub.pem" --base-sha256 "$(sha256sum < "$L" | cut -c1-64)"
expect_rc 1 up3 "an upgrade with the wrong base digest"
ok "full tier in memory == original (verified); upgrade basic -> full with the base digest, refused without or with a wrong one"
stop
