#!/bin/bash
# corelocker-agent end to end: every tier byte-identical to corelockerctl's
# offline unlock, the full tier equal to the original, upgrades that fetch
# only the difference, in-place patching, settings from flags, environment
# and config file, and air-gapped volume files.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
mk m 0.05 1
push m
tier m basic 0.02
tier m pro 0.005
tier m full 0
L=$T/m.locked.safetensors

# ---- each tier, to a new file and in place ----
for t in basic:0.02 pro:0.005 full:0; do
	name=${t%%:*} beta=${t#*:}
	issue m "$name" '"max_machines":3'
	eval "KEY_$name=$KEY LID_$name=$LID"
	ref "$L" "$T/m.clkey" "$beta" "$T/ref-$name.safetensors"
	run_agent "u-$name" unlock "$L" -o "$T/out-$name.safetensors" --license "$KEY" --fingerprint fp-a
	expect_rc 0 "u-$name" "unlock $name"
	cmp -s "$T/out-$name.safetensors" "$T/ref-$name.safetensors" || fail "agent tier $name != corelockerctl unlock --tier-ratio $beta"
	grep -q "\"tier\":\"$name\"" "$T/out-$name.safetensors.clstate" || fail "state file of $name"
	grep -q "bytes transferred" "$T/u-$name.out" || fail "no transfer figure: $(cat "$T/u-$name.out")"
	cp "$L" "$T/ip-$name.safetensors"
	run_agent "ip-$name" unlock "$T/ip-$name.safetensors" --in-place --license "$KEY" --fingerprint fp-a
	expect_rc 0 "ip-$name" "unlock --in-place $name"
	cmp -s "$T/ip-$name.safetensors" "$T/ref-$name.safetensors" || fail "in-place tier $name differs"
	[ ! -e "$T/ip-$name.safetensors.cljournal" ] || fail "journal left behind"
done
cmp -s "$T/out-full.safetensors" "$T/m.safetensors" || fail "the full tier is not the original"
grep -q "SHA-256 verified" "$T/u-full.out" || fail "full tier not reported as verified"
cmp -s "$L" "$T/m.locked.safetensors" || fail "the locked model changed"
[ -z "$(ls -A "$T" | grep '\.tmp\.')" ] || fail "temp files left: $(ls -A "$T")"
ok "each tier (to OUT and --in-place) == corelockerctl unlock --tier-ratio; full == original"

# ---- a .clkey version 2 key (4-byte unit indexes), as stored before version 3 ----
"$PY" - "$top_srcdir/tests/hostile" "$T/m.clkey" "$T/mv2.clkey" <<'PYEOF' || fail "rewrite the key as version 2"
import sys
sys.path.insert(0, sys.argv[1])
import gen
open(sys.argv[3], "wb").write(gen.key_v2(open(sys.argv[2], "rb").read()))
PYEOF
push mv2
[ "$(jget '["key_bytes"]')" -gt "$(stat -c %s "$T/m.clkey")" ] || fail "the version 2 key is not the larger one"
tier mv2 basic 0.02
tier mv2 full 0
for name in basic full; do
	issue mv2 "$name"
	run_agent "v2-$name" unlock "$L" -o "$T/v2-$name.safetensors" --license "$KEY" --fingerprint fp-v2
	expect_rc 0 "v2-$name" "unlock $name with a version 2 key on the server"
	cmp -s "$T/v2-$name.safetensors" "$T/ref-$name.safetensors" || fail "version 2 key: tier $name differs"
done
ok "a version 2 key pushed to the server cuts the same tiers as the version 3 key"

# ---- upgrade basic -> pro -> full fetches only the difference ----
issue m basic '"max_machines":1'
LUP=$LID KUP=$KEY
run_agent up0 unlock "$L" -o "$T/up.safetensors" --license "$KUP" --fingerprint fp-up
expect_rc 0 up0 "unlock basic"
run_agent up1 unlock "$L" -o "$T/up.safetensors" --license "$KUP" --fingerprint fp-up
expect_rc 0 up1 "unlock again at the same tier"
grep -q "already at tier basic" "$T/up1.out" || fail "same tier: $(cat "$T/up1.out")"
api PATCH "/v1/licenses/$LUP" -d '{"tier":"pro"}'
expect 200 "upgrade to pro"
run_agent up2 unlock "$L" -o "$T/up.safetensors" --license "$KUP" --fingerprint fp-up
expect_rc 0 up2 "upgrade basic -> pro"
grep -q "upgraded from tier basic" "$T/up2.out" || fail "not an upgrade: $(cat "$T/up2.out")"
cmp -s "$T/up.safetensors" "$T/ref-pro.safetensors" || fail "basic + upgrade != pro"
api PATCH "/v1/licenses/$LUP" -d '{"tier":"full"}'
run_agent up3 unlock "$L" -o "$T/up.safetensors" --license "$KUP" --fingerprint fp-up
expect_rc 0 up3 "upgrade pro -> full"
cmp -s "$T/up.safetensors" "$T/m.safetensors" || fail "pro + upgrade != the original"
cmp -s "$T/up.safetensors" "$T/out-full.safetensors" || fail "upgrade != a fresh full unlock"
a=$(transferred up3) b=$(transferred u-full)
[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] || fail "the upgrade transferred $a bytes, a fresh full unlock $b"
ok "upgrade basic -> pro -> full: byte-identical to fresh unlocks, $a bytes instead of $b"

# in place: basic, then the upgrade to full
cp "$L" "$T/ipu.safetensors"
api PATCH "/v1/licenses/$LUP" -d '{"tier":"basic"}'
run_agent ipu0 unlock "$T/ipu.safetensors" --in-place --license "$KUP" --fingerprint fp-up
expect_rc 0 ipu0 "in place basic"
api PATCH "/v1/licenses/$LUP" -d '{"tier":"full"}'
run_agent ipu1 unlock "$T/ipu.safetensors" --in-place --license "$KUP" --fingerprint fp-up
expect_rc 0 ipu1 "in place upgrade to full"
grep -q "upgraded from tier basic" "$T/ipu1.out" || fail "in place: not an upgrade: $(cat "$T/ipu1.out")"
cmp -s "$T/ipu.safetensors" "$T/m.safetensors" || fail "in place basic + upgrade != original"
ok "in-place upgrade basic -> full"

# a downgrade: to a new file it starts again from the locked model; in place it is refused
api PATCH "/v1/licenses/$LUP" -d '{"tier":"basic"}'
run_agent dn unlock "$L" -o "$T/up.safetensors" --license "$KUP" --fingerprint fp-up
expect_rc 0 dn "downgrade to a new file"
cmp -s "$T/up.safetensors" "$T/ref-basic.safetensors" || fail "downgrade != basic"
cp "$T/ipu.safetensors" "$T/ipu.before"
run_agent dn2 unlock "$T/ipu.safetensors" --in-place --license "$KUP" --fingerprint fp-up
refused 15 dn2 "in-place downgrade"
cmp -s "$T/ipu.safetensors" "$T/ipu.before" || fail "a refused in-place downgrade changed the file"
ok "downgrade: a new file is cut again from the locked model; in place refused, file intact"

# ---- a stale state file is ignored ----
printf 'x' | dd of="$T/up.safetensors" bs=1 seek=100 conv=notrunc 2>/dev/null
run_agent st unlock "$L" -o "$T/up.safetensors" --license "$KUP" --fingerprint fp-up
expect_rc 0 st "unlock over a modified file"
grep -q "stale" "$T/st.err" || fail "no note about the stale state: $(cat "$T/st.err")"
cmp -s "$T/up.safetensors" "$T/ref-basic.safetensors" || fail "unlock over a modified file"
ok "a file changed since its unlock is cut again from the locked model"

# ---- validate ----
run_agent v1 validate --license "$KEY_basic" --fingerprint fp-a
expect_rc 0 v1 "validate"
[ "$(cat "$T/v1.out")" = VALID ] || fail "validate prints $(cat "$T/v1.out")"
run_agent v2 validate --license "$KEY_basic" --fingerprint fp-never
refused 14 v2 "validate an unseated machine"
[ "$(cat "$T/v2.out")" = NOT_ACTIVATED ] || fail "validate prints $(cat "$T/v2.out")"
ok "validate prints the code; exit 0 only for VALID"

# ---- settings: config file, environment, flags ----
cat > "$T/agent.conf" <<CONF
# agent settings
[ctl]
token = ignored-here
[agent]
server = $URL
license = $KEY_pro
cacert = $T/tls.crt
server_key = $T/pub.pem
fingerprint = fp-a
CONF
(
	unset CORELOCKER_SERVER CORELOCKER_CACERT CORELOCKER_SERVER_KEY
	run_agent c1 unlock "$L" -o "$T/conf.safetensors" --config "$T/agent.conf"
	expect_rc 0 c1 "settings from the config file"
	CORELOCKER_CONFIG="$T/agent.conf" run_agent c2 validate
	expect_rc 0 c2 "CORELOCKER_CONFIG"
	# flags beat the environment, which beats the file
	CORELOCKER_LICENSE=clk_bogus run_agent c3 validate --config "$T/agent.conf"
	refused 10 c3 "environment over file"
	CORELOCKER_LICENSE=clk_bogus run_agent c4 validate --config "$T/agent.conf" --license "$KEY_pro"
	expect_rc 0 c4 "flag over environment"
	printf 'bogus_key = 1\n' > "$T/bad.conf"
	run_agent c5 validate --config "$T/bad.conf"
	refused 2 c5 "unknown config key"
	grep -q "bad.conf:1: unknown key 'bogus_key'" "$T/c5.err" || fail "config error: $(cat "$T/c5.err")"
) || exit 1
cmp -s "$T/conf.safetensors" "$T/ref-pro.safetensors" || fail "unlock with the config file"
ok "settings: config file [agent] section, CORELOCKER_* environment, flags win"

# ---- pinning: none given ----
(unset CORELOCKER_SERVER_KEY; run_agent p1 validate --license "$KEY_pro" --fingerprint fp-a; refused 2 p1 "no pinned key") || exit 1
grep -q "no pinned server key" "$T/p1.err" || fail "no pinned key: $(cat "$T/p1.err")"
(unset CORELOCKER_SERVER_KEY; run_agent p2 validate --license "$KEY_pro" --fingerprint fp-a --insecure-trust-on-first-use
 expect_rc 0 p2 "trust on first use") || exit 1
grep -q "trusting the server's signing key on first use" "$T/p2.err" || fail "no warning: $(cat "$T/p2.err")"
ok "without a pinned key: refused, or trusted on first use with a warning"

# trust on first use into a pin file that does not exist yet: saved, then pinned
(unset CORELOCKER_SERVER_KEY; run_agent p3 validate --license "$KEY_pro" --fingerprint fp-a --insecure-trust-on-first-use \
	--server-key "$T/tofu.pub"; expect_rc 0 p3 "trust on first use, saved") || exit 1
grep -q "saved it to $T/tofu.pub" "$T/p3.err" || fail "TOFU did not say it saved the key: $(cat "$T/p3.err")"
cmp -s "$T/tofu.pub" "$T/pub.pem" || fail "the saved pin is not the server's GET /v1/pubkey"
(unset CORELOCKER_SERVER_KEY; run_agent p4 validate --license "$KEY_pro" --fingerprint fp-a --server-key "$T/tofu.pub"
 expect_rc 0 p4 "the saved pin verifies") || exit 1
# a pin that exists is never overwritten: a wrong saved key is refused, even with the TOFU flag
openssl genpkey -algorithm ed25519 2>/dev/null | openssl pkey -pubout >"$T/other.pub"
cp "$T/other.pub" "$T/other.before"
(unset CORELOCKER_SERVER_KEY; run_agent p5 validate --license "$KEY_pro" --fingerprint fp-a --insecure-trust-on-first-use \
	--server-key "$T/other.pub"; refused 5 p5 "signature") || exit 1
cmp -s "$T/other.pub" "$T/other.before" || fail "TOFU overwrote an existing pin"
ok "trust on first use saves the key to a new --server-key file, which pins later runs; existing pins win"

# ---- air-gapped: a volume file ----
post_json /v1/key "{\"license_key\":\"$KEY_pro\",\"fingerprint\":\"fp-a\",\"nonce\":\"gap-1\"}"
expect 200 "volume by curl"
cp "$T/body" "$T/pro.clvol"
(
	unset CORELOCKER_SERVER
	run_agent g1 unlock "$L" -o "$T/gap.safetensors" --volume-file "$T/pro.clvol" --nonce gap-1
	expect_rc 0 g1 "apply a volume file"
) || exit 1
cmp -s "$T/gap.safetensors" "$T/ref-pro.safetensors" || fail "volume file != pro"
"$CTL" inspect "$T/pro.clvol" > "$T/insp" || fail "inspect a volume"
grep -q "tier pro" "$T/insp" && grep -q "nonce gap-1" "$T/insp" || fail "inspect: $(cat "$T/insp")"
"$CTL" inspect --json "$T/pro.clvol" > "$T/body" || fail "inspect --json"
[ "$(jget '["type"]')" = clvol ] && [ "$(jget '["header"]["tier"]')" = pro ] || fail "inspect --json: $(cat "$T/body")"
ok "air-gapped: --volume-file with --nonce; corelockerctl inspect reads the volume"

# ---- the volume's signature, checked by openssl as docs/formats.md defines it ----
# version 2: Ed25519 over "corelocker-volume-v2" NUL and the SHA-256 of every byte before the signature
sz=$(stat -c %s "$T/pro.clvol")
[ "$(od -An -tu4 -j8 -N4 "$T/pro.clvol" | tr -d ' ')" = 2 ] || fail "the server does not write volume version 2"
head -c $((sz - 64)) "$T/pro.clvol" >"$T/vol.data"
tail -c 64 "$T/pro.clvol" >"$T/vol.sig"
{ printf 'corelocker-volume-v2\0'; openssl dgst -sha256 -binary "$T/vol.data"; } >"$T/vol.msg"
openssl pkeyutl -verify -pubin -inkey "$T/pub.pem" -rawin -in "$T/vol.msg" -sigfile "$T/vol.sig" >/dev/null 2>&1 ||
	fail "the volume's signature is not the documented Ed25519 over the context and SHA-256"
# version 1 (Ed25519 over the bytes themselves) is still accepted: re-sign the same volume as v1
{ head -c 8 "$T/vol.data"; printf '\001\000\000\000'; tail -c +13 "$T/vol.data"; } >"$T/v1.data"
openssl pkeyutl -sign -inkey "$T/var/signing.key" -rawin -in "$T/v1.data" -out "$T/v1.sig" || fail "sign v1"
cat "$T/v1.data" "$T/v1.sig" >"$T/v1.clvol"
(
	unset CORELOCKER_SERVER
	run_agent g2 unlock "$L" -o "$T/gap1.safetensors" --volume-file "$T/v1.clvol" --nonce gap-1
	expect_rc 0 g2 "apply a version 1 volume"
) || exit 1
cmp -s "$T/gap1.safetensors" "$T/ref-pro.safetensors" || fail "a version 1 volume gives another tier"
# a v1 signature on a v2 volume (or the reverse) never verifies
{ head -c 8 "$T/vol.data"; printf '\002\000\000\000'; tail -c +13 "$T/vol.data"; cat "$T/v1.sig"; } >"$T/mix.clvol"
(
	unset CORELOCKER_SERVER
	run_agent g3 unlock "$L" -o "$T/gap3.safetensors" --volume-file "$T/mix.clvol" --nonce gap-1
	refused 5 g3 "a version 1 signature on a version 2 volume"
) || exit 1
[ ! -e "$T/gap3.safetensors" ] || fail "a refused volume wrote output"
ok "volume v2 signature verifies with openssl as documented; v1 volumes are still applied; mixed versions refused"

# ---- the default fingerprint is the SHA-256 of /etc/machine-id ----
if [ -s /etc/machine-id ]; then
	run_agent mid unlock "$L" -o "$T/mid.safetensors" --license "$KEY_full"
	expect_rc 0 mid "unlock with the default fingerprint"
	api GET "/v1/licenses/$LID_full/machines"
	want=$(head -n 1 /etc/machine-id | tr -d '\n' | sha256sum | cut -c1-64)
	grep -q "\"$want\"" "$T/body" || fail "machine fingerprint is not sha256(/etc/machine-id): $(cat "$T/body")"
	ok "default fingerprint: SHA-256 of /etc/machine-id"
fi
stop
