#!/bin/bash
# Upgrades after a re-cut.  The agent asks for an upgrade from the ratio its
# file holds (from_beta, from its state file), never from a tier name, and
# applies an upgrade volume only when its from_beta is that ratio.  So a tier
# re-cut between two unlocks can never give a wrong file: every result is
# byte-identical to corelockerctl unlock --tier-ratio at the ratio the tier
# has now, and later upgrades keep working.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
mk m 0.05 1
push m
tier m trial 0.03
tier m basic 0.02
tier m full 0
L=$T/m.locked.safetensors
for b in 0.03 0.02 0.015 0.01; do ref "$L" "$T/m.clkey" "$b" "$T/ref-$b"; done

# same TAG FILE BETA WHAT: exit 0 and FILE byte-identical to corelockerctl's unlock at BETA
same() {
	expect_rc 0 "$1" "$4"
	cmp -s "$2" "$T/ref-$3" || fail "$4: $(basename "$2") != corelockerctl unlock --tier-ratio $3 ($(cmp "$2" "$T/ref-$3" | head -c 200))"
}
# state_beta FILE: the ratio its state file records
state_beta() { jget '["beta"]' "$1.clstate"; }

# ---- the reported case: trial re-cut, then an upgrade to basic, then to full ----
issue m trial '"max_machines":2'
LT=$LID KT=$KEY
run_agent t0 unlock "$L" -o "$T/a.safetensors" --license "$KT" --fingerprint fp
same t0 "$T/a.safetensors" 0.03 "unlock trial"
cp "$L" "$T/ip.safetensors"
run_agent i0 unlock "$T/ip.safetensors" --in-place --license "$KT" --fingerprint fp
same i0 "$T/ip.safetensors" 0.03 "unlock trial in place"
tier m trial 0.025
api PATCH "/v1/licenses/$LT" -d '{"tier":"basic"}'
expect 200 "upgrade the license to basic"
run_agent t1 unlock "$L" -o "$T/a.safetensors" --license "$KT" --fingerprint fp
same t1 "$T/a.safetensors" 0.02 "upgrade trial (re-cut) -> basic"
grep -q "upgraded from tier trial (ratio 0.03)" "$T/t1.out" || fail "not an upgrade from 0.03: $(cat "$T/t1.out")"
run_agent i1 unlock "$T/ip.safetensors" --in-place --license "$KT" --fingerprint fp
same i1 "$T/ip.safetensors" 0.02 "in place: upgrade trial (re-cut) -> basic"
[ "$(state_beta "$T/a.safetensors")" = 0.02 ] || fail "the state records $(state_beta "$T/a.safetensors"), not 0.02"
api PATCH "/v1/licenses/$LT" -d '{"tier":"full"}'
run_agent t2 unlock "$L" -o "$T/a.safetensors" --license "$KT" --fingerprint fp
expect_rc 0 t2 "the next upgrade, to full"
cmp -s "$T/a.safetensors" "$T/m.safetensors" || fail "basic -> full after the re-cut != the original"
run_agent i2 unlock "$T/ip.safetensors" --in-place --license "$KT" --fingerprint fp
expect_rc 0 i2 "in place: the next upgrade, to full"
cmp -s "$T/ip.safetensors" "$T/m.safetensors" || fail "in place: basic -> full after the re-cut != the original"
ok "trial re-cut 0.03 -> 0.025, then upgrades to basic and full: byte-identical to corelockerctl unlock (to OUT and in place)"

# ---- the license's own tier re-cut under the same name ----
issue m basic '"max_machines":2'
LB=$LID KB=$KEY
run_agent b0 unlock "$L" -o "$T/b.safetensors" --license "$KB" --fingerprint fp
same b0 "$T/b.safetensors" 0.02 "unlock basic"
run_agent b1 unlock "$L" -o "$T/b.safetensors" --license "$KB" --fingerprint fp
same b1 "$T/b.safetensors" 0.02 "unlock basic again"
grep -q "already at tier basic" "$T/b1.out" || fail "same tier and ratio: $(cat "$T/b1.out")"
cp "$T/b.safetensors" "$T/ipb.safetensors"
cp "$T/b.safetensors.clstate" "$T/ipb.safetensors.clstate"
tier m basic 0.01
run_agent b2 unlock "$L" -o "$T/b.safetensors" --license "$KB" --fingerprint fp
same b2 "$T/b.safetensors" 0.01 "basic re-cut 0.02 -> 0.01"
grep -q "upgraded from tier basic (ratio 0.02)" "$T/b2.out" || fail "not an upgrade: $(cat "$T/b2.out")"
run_agent ib2 unlock "$T/ipb.safetensors" --in-place --license "$KB" --fingerprint fp
same ib2 "$T/ipb.safetensors" 0.01 "in place: basic re-cut 0.02 -> 0.01"
ok "a tier re-cut under its name (basic 0.02 -> 0.01) is noticed and fetched, to OUT and in place"

# re-cut the other way: the file restores more than the tier now does
tier m basic 0.015
cp "$T/ipb.safetensors" "$T/ipb.before"
run_agent b3 unlock "$L" -o "$T/b.safetensors" --license "$KB" --fingerprint fp
same b3 "$T/b.safetensors" 0.015 "basic re-cut 0.01 -> 0.015: cut again from the locked model"
run_agent ib3 unlock "$T/ipb.safetensors" --in-place --license "$KB" --fingerprint fp
refused 15 ib3 "in place: basic re-cut 0.01 -> 0.015"
cmp -s "$T/ipb.safetensors" "$T/ipb.before" || fail "a refused in-place downgrade changed the file"
ok "basic re-cut 0.01 -> 0.015: a new file is cut again from the locked model; in place refused, file intact"

# ---- the agent checks an upgrade volume's from_beta against its state ----
post_json /v1/key "{\"license_key\":\"$KB\",\"fingerprint\":\"fp\",\"nonce\":\"n-2\",\"from_beta\":0.03}"
expect 200 "an upgrade volume from 0.03"
cp "$T/body" "$T/up.vol"
"$VOLCHECK" "$T/up.vol" "$T/pub.pem" > "$T/up.json" 2> "$T/vc.err" || fail "volcheck the upgrade volume: $(cat "$T/vc.err")"
[ "$(jget '["from_beta"]' "$T/up.json")" = 0.03 ] || fail "the volume's from_beta: $(head -c 400 "$T/up.json")"
cp "$T/b.safetensors" "$T/b.before" # at 0.015: not what the volume builds on
run_agent vf unlock "$L" -o "$T/b.safetensors" --volume-file "$T/up.vol"
refused 11 vf "an upgrade volume from 0.03 applied to a file at 0.015"
grep -q "ratio 0.03" "$T/vf.err" || fail "the refusal does not name the ratio: $(cat "$T/vf.err")"
cmp -s "$T/b.safetensors" "$T/b.before" || fail "a refused upgrade volume changed the file"
cp "$T/ref-0.03" "$T/c.safetensors"
run_agent vf0 unlock "$L" -o "$T/c.safetensors" --volume-file "$T/up.vol"
refused 11 vf0 "an upgrade volume for a file without a state file"
cmp -s "$T/c.safetensors" "$T/ref-0.03" || fail "a refused upgrade volume changed a file without state"
# a file the agent made at 0.03 takes it
api PATCH "/v1/licenses/$LT" -d '{"tier":"trial"}'
tier m trial 0.03
cp "$L" "$T/e.safetensors"
run_agent e0 unlock "$T/e.safetensors" --in-place --license "$KT" --fingerprint fp
same e0 "$T/e.safetensors" 0.03 "in place at trial 0.03"
run_agent vf1 unlock "$T/e.safetensors" --in-place --volume-file "$T/up.vol"
same vf1 "$T/e.safetensors" 0.015 "the upgrade volume from 0.03 applied to a file at 0.03"
ok "an upgrade volume applies only to a file whose state holds its from_beta (exit 11 otherwise, file intact)"
stop
