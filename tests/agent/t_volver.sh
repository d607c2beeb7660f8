#!/bin/bash
# Key volume versions (docs/api.md, POST /v1/key): the daemon writes
# version 3 (compact entries) only to a client whose Accept header names
# application/vnd.corelocker.volume; version=3, and version 2 to any other,
# so an agent from before version 3 never gets a volume it cannot read.
#  - curl without the parameter (an old agent): version 2, the old
#    Content-Type; with it: version 3, "; version=3"; version=4 alone or
#    q=0: version 2.  Both verify, and each is what cl_volume_build writes
#    for its version (volcheck --rebuild: the streamed writer agrees).
#  - the two hold the same spans: applied to a single-file model by
#    volcheck, and by the agent from --volume-file, they give identical
#    bytes, the original; the v3 volume is smaller.
#  - the real agent over HTTPS asks for version 3 (the daemon logs the
#    version it wrote), unlocks a sharded model to the original, and an
#    upgrade (a difference of two tiers) in version 3 too.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
# ---- one file: what each request gets ----
mk one 0.05 2
push one
tier one full 0
issue one full
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\"}"
expect 200 "activate"
fetch_volume old n-old
fetch_volume new n-new "$V3"
fetch_volume list n-list "application/json, application/vnd.corelocker.volume;version=4, $V3, */*"
fetch_volume four n-four 'application/vnd.corelocker.volume; version=4'
fetch_volume zero n-zero "$V3; q=0"
for n in old:2 new:3 list:3 four:2 zero:2; do
	[ "$(volume_version "$T/${n%:*}.vol")" = "${n#*:}" ] || fail "${n%:*}: version $(volume_version "$T/${n%:*}.vol"), want ${n#*:}"
done
[ "$(cat "$T/old.ct")" = application/vnd.corelocker.volume ] || fail "v2 Content-Type: $(cat "$T/old.ct")"
[ "$(cat "$T/new.ct")" = "$V3" ] || fail "v3 Content-Type: $(cat "$T/new.ct")"
ok "no version asked (an old agent), version=4 or q=0: version 2; version=3 asked: version 3"

for n in old new; do
	"$VOLCHECK" "$T/$n.vol" "$T/pub.pem" --nonce "n-$n" --rebuild "$T/var/signing.key" \
		--apply "$T/one.locked.safetensors" "$T/$n.out" > /dev/null 2> "$T/vc.err" ||
		fail "volcheck $n: $(cat "$T/vc.err")"
	cmp -s "$T/$n.out" "$T/one.safetensors" || fail "the $n volume applied is not the original"
done
S2=$(stat -c %s "$T/old.vol") S3=$(stat -c %s "$T/new.vol")
[ "$S3" -lt "$S2" ] || fail "the v3 volume ($S3 bytes) is not smaller than the v2 one ($S2)"
ok "v2 and v3 verify, rebuild to the same bytes, apply to the original ($S2 -> $S3 bytes)"

unset CORELOCKER_SERVER
for n in old new; do
	run_agent "f-$n" unlock "$T/one.locked.safetensors" -o "$T/f-$n.safetensors" --volume-file "$T/$n.vol" \
		--nonce "n-$n"
	expect_rc 0 "f-$n" "agent --volume-file ($n)"
done
cmp -s "$T/f-old.safetensors" "$T/f-new.safetensors" && cmp -s "$T/f-new.safetensors" "$T/one.safetensors" ||
	fail "the agent's v2 and v3 results differ, or are not the original"
ok "the agent applies the v2 and the v3 volume files to identical bytes, the original"
export CORELOCKER_SERVER="$URL"

# ---- a sharded model over HTTPS: the agent asks for version 3 ----
lock_sharded sh 3 1
push sh
tier sh basic 0.02
tier sh full 0
issue sh basic
"$CTL" unlock "$T/shl/$IDX" -k "$T/sh.clkey" --tier-ratio 0.02 -o "$T/ref" > /dev/null || fail "ctl unlock"
run_agent u1 unlock "$T/shl/$IDX" -o "$T/out" --license "$KEY" --fingerprint fp
expect_rc 0 u1 "unlock a sharded model"
[ "$(delivered)" = 3 ] || fail "the agent was sent version '$(delivered)'"
diff -r "$T/out" "$T/ref" > /dev/null || fail "sharded basic (v3) != corelockerctl unlock"
api PATCH "/v1/licenses/$LID" -d '{"tier":"full"}'
run_agent u2 unlock "$T/shl/$IDX" -o "$T/out" --license "$KEY" --fingerprint fp
expect_rc 0 u2 "upgrade a sharded model"
grep -q "upgraded from tier basic" "$T/u2.out" || fail "not an upgrade: $(cat "$T/u2.out")"
[ "$(delivered)" = 3 ] || fail "the upgrade was sent version '$(delivered)'"
diff -r "$T/out" "$T/sh" > /dev/null || fail "sharded full (v3 upgrade) != original"
ok "the agent over HTTPS gets version 3: a sharded basic tier == corelockerctl unlock, its upgrade == original"
