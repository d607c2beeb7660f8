#!/bin/bash
# Leak tracing (docs/trace.md): ten licenses of one fingerprinted tier get
# ten different models, `corelockerctl trace` names each one's license
# (also re-saved in another order, cast to F16 or BF16, sharded), and names
# none for the original, an unrelated model or an unmarked tier; two
# licensees' average names one of the two.  A fingerprinted full tier is
# not the original, and the agent still refuses a flipped bit in the volume
# or in the locked model; an upgrade from a marked tier to the plain full
# tier gives back the original.  A BF16 model is marked as well.  The trace
# secret is refused to a read-scope token and audited.
. "$top_srcdir/tests/agent/common.sh"
RESAVE="$PY $top_srcdir/tests/agent/resave.py"

agent_setup
export CORELOCKER_TOKEN=$TOKEN
mk m 0.05 1
push m
L=$T/m.locked.safetensors
c ts tier set m fp --ratio 0.01 --fingerprint --json
[ "$RC" = 0 ] && [ "$(jget '["fingerprint"]' "$T/ts.out")" = true ] || fail "tier set --fingerprint: $(cat "$T/ts.out" "$T/ts.err")"
tier m plain 0.01
[ "$(jget '["fingerprint"]')" = false ] || fail "tier plain shown as fingerprinted: $(cat "$T/body")"
api PUT "/v1/models/m/tiers/ffull" -d '{"ratio":0,"fingerprint":true}'
expect 201 "fingerprinted full tier"
tier m full 0
c tl tier list m --json
[ "$RC" = 0 ] && "$PY" -c 'import json,sys; t={x["name"]: x["fingerprint"] for x in json.load(open(sys.argv[1]))["tiers"]}
assert t == {"fp": True, "plain": False, "ffull": True, "full": False}, t' "$T/tl.out" ||
	fail "tier list: $(cat "$T/tl.out" "$T/tl.err")"
ok "tier set --fingerprint: shown by the tier route and tier list"

# ---- ten licenses of the fingerprinted tier ----
ref "$L" "$T/m.clkey" 0.01 "$T/ref-fp.safetensors"
for i in $(seq 1 10); do
	issue m fp
	eval "LID_$i=$LID KEY_$i=$KEY"
	run_agent "u$i" unlock "$L" -o "$T/fp$i.safetensors" --license "$KEY" --fingerprint "fp-$i"
	expect_rc 0 "u$i" "unlock license $i"
	grep -q "SHA-256 verified" "$T/u$i.out" && fail "a marked tier reported as the original"
	cmp -s "$T/fp$i.safetensors" "$T/ref-fp.safetensors" && fail "license $i got the unmarked tier"
	[ "$(stat -c %s "$T/fp$i.safetensors")" = "$(stat -c %s "$T/ref-fp.safetensors")" ] || fail "size of $i"
done
[ "$(sha256sum "$T"/fp*.safetensors | cut -d' ' -f1 | sort -u | wc -l)" = 10 ] || fail "two licenses got the same model"
cp "$L" "$T/ip1.safetensors"
run_agent ip1 unlock "$T/ip1.safetensors" --in-place --license "$KEY_1" --fingerprint fp-1
expect_rc 0 ip1 "unlock license 1 in place"
cmp -s "$T/ip1.safetensors" "$T/fp1.safetensors" || fail "in place, license 1 got other values than before"
ok "ten licenses of a fingerprinted tier: ten different models, none the unmarked tier; in place the same as before"

# trace TAG SUSPECT: RC, the JSON answer in $T/TAG.out
trace() { c "$1" trace "$2" -k "$T/m.clkey" --json; }
matched() { # matched TAG LID
	[ "$RC" = 0 ] && [ "$(jget '["match"]' "$T/$1.out")" = true ] &&
		[ "$(jget '["license"]["id"]' "$T/$1.out")" = "$2" ] || fail "$1: not traced to license $2: $(cat "$T/$1.out" "$T/$1.err")"
}
for i in $(seq 1 10); do
	eval "lid=\$LID_$i"
	trace "t$i" "$T/fp$i.safetensors"
	matched "t$i" "$lid"
	fpp=$(jget '["false_positive"]' "$T/t$i.out")
	"$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 1e-6 else 1)" "$fpp" || fail "t$i: probability $fpp"
done
c th trace "$T/fp3.safetensors" -k "$T/m.clkey"
[ "$RC" = 0 ] && grep -q "^license $LID_3 matches: customer c-fp, tier fp" "$T/th.out" &&
	grep -q "false-positive probability" "$T/th.out" || fail "text answer: $(cat "$T/th.out" "$T/th.err")"
ok "each of the ten traced to its own license, false-positive probability <= 1e-6"

# ---- the trace route: admin scope only, audited ----
api POST /v1/tokens -d '{"name":"viewer","scope":"read"}'
expect 201 "read token"
RO=$(jget '["token"]')
STATUS=$(curl -sS --cacert "$T/tls.crt" -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $RO" \
	"$URL/v1/models/m/trace") || STATUS=000
expect 403 "a read-scope token asks for the trace secret"
! grep -q secret "$T/body" || fail "secret in a refusal: $(cat "$T/body")"
api GET "/v1/audit?since=0&limit=1000"
[ "$("$PY" -c 'import json,sys; print(sum(e["action"] == "model.trace" for e in json.load(open(sys.argv[1]))["entries"]))' "$T/body")" = 11 ] ||
	fail "not one model.trace audit entry per trace: $(grep -o '"model.trace"' "$T/body" | wc -l)"
ok "the trace secret: refused to a read-scope token (403), every read audited"

# ---- no license: the original, an unrelated model, the unmarked tier ----
mk u 0.05 1 2
for s in m.safetensors u.safetensors ref-fp.safetensors; do
	trace "n-$s" "$T/$s"
	[ "$RC" = 3 ] && [ "$(jget '["match"]' "$T/n-$s.out")" = false ] || fail "$s traced: $(cat "$T/n-$s.out" "$T/n-$s.err")"
done
c nh trace "$T/u.safetensors" -k "$T/m.clkey"
[ "$RC" = 3 ] && grep -q "^no license matches" "$T/nh.out" || fail "text answer for none: $(cat "$T/nh.out")"
ok "the original, an unrelated model and the unmarked tier trace to no license (exit 3)"

# ---- re-saved: another header order, F16, BF16, sharded; averaged by two ----
$RESAVE "$T/fp4.safetensors" "$T/r32.safetensors" || fail resave
$RESAVE "$T/fp4.safetensors" "$T/r16.safetensors" --dtype F16 || fail resave
$RESAVE "$T/fp4.safetensors" "$T/rbf.safetensors" --dtype BF16 || fail resave
$RESAVE "$T/fp4.safetensors" "$T/rsh" --dtype F16 --shards 3 || fail resave
for s in r32.safetensors r16.safetensors rbf.safetensors rsh/model.safetensors.index.json; do
	trace "rs-$(dirname "$s")-$(basename "$s")" "$T/$s"
	matched "rs-$(dirname "$s")-$(basename "$s")" "$LID_4"
done
$RESAVE "$T/fp5.safetensors" "$T/avg.safetensors" --average "$T/fp6.safetensors" || fail resave
trace avg "$T/avg.safetensors"
got=$(jget '["license"]["id"]' "$T/avg.out")
[ "$RC" = 0 ] && { [ "$got" = "$LID_5" ] || [ "$got" = "$LID_6" ]; } || fail "average of 5 and 6: $(cat "$T/avg.out")"
mkdir -p "$T/odd" && "$PY" "$MKMODEL" "$T/odd/x.safetensors" --mib 0.5 || fail mkmodel
c odd trace "$T/odd/x.safetensors" -k "$T/m.clkey"
[ "$RC" = 1 ] && grep -q "of the key's shape" "$T/odd.err" || fail "a model of other shapes: $RC $(cat "$T/odd.err")"
ok "traced after re-saving in another order, as F16, BF16 and sharded; an average names one of the two; other shapes refused"

# ---- a BF16 model: its step is coarser than the marks, which move at least one step ----
$RESAVE "$T/m.safetensors" "$T/b.safetensors" --dtype BF16 || fail resave
"$CTL" lock "$T/b.safetensors" -o "$T/b.locked.safetensors" -k "$T/b.clkey" --ratio 0.05 > /dev/null || fail "lock b"
push b
c tb tier set b fp --ratio 0.01 --fingerprint
[ "$RC" = 0 ] || fail "tier set b: $(cat "$T/tb.err")"
ref "$T/b.locked.safetensors" "$T/b.clkey" 0.01 "$T/ref-b.safetensors"
for i in 1 2; do
	issue b fp
	run_agent "b$i" unlock "$T/b.locked.safetensors" -o "$T/b$i.safetensors" --license "$KEY" --fingerprint "fp-b$i"
	expect_rc 0 "b$i" "unlock BF16 license $i"
	# every restored element moved (the locked file holds zeros where the tier restores)
	"$PY" -c 'import sys, numpy as np
lk, ref, lic = (np.fromfile(f, np.uint16) for f in sys.argv[1:])
assert np.count_nonzero(lic != ref) == np.count_nonzero(ref != lk) > 0, (np.count_nonzero(lic != ref), np.count_nonzero(ref != lk))' \
		"$T/b.locked.safetensors" "$T/ref-b.safetensors" "$T/b$i.safetensors" || fail "BF16 license $i: not every restored element moved"
	c "tb$i" trace "$T/b$i.safetensors" -k "$T/b.clkey" --json
	matched "tb$i" "$LID"
done
cmp -s "$T/b1.safetensors" "$T/b2.safetensors" && fail "two BF16 licenses got the same model"
ok "a BF16 model is marked too: every restored element moved, two licenses differ, each is traced"

# ---- the fingerprinted full tier ----
issue m ffull
run_agent ff unlock "$L" -o "$T/ff.safetensors" --license "$KEY" --fingerprint fp-ff
expect_rc 0 ff "unlock the fingerprinted full tier"
grep -q "SHA-256 verified" "$T/ff.out" && fail "a marked full tier reported as the original"
cmp -s "$T/ff.safetensors" "$T/m.safetensors" && fail "the fingerprinted full tier is the original"
trace tff "$T/ff.safetensors"
matched tff "$LID"
cp "$L" "$T/flip.safetensors"
printf '\x40' | dd of="$T/flip.safetensors" bs=1 seek=3000 conv=notrunc 2>/dev/null
cmp -s "$L" "$T/flip.safetensors" && fail "no bit flipped"
run_agent ff2 unlock "$T/flip.safetensors" -o "$T/ff2.safetensors" --license "$KEY" --fingerprint fp-ff
refused 11 ff2 "a flipped bit in the locked model under a fingerprinted full tier"
[ ! -e "$T/ff2.safetensors" ] || fail "output written for a flipped bit"
post_json /v1/key "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-ff\",\"nonce\":\"n-ff\"}"
expect 200 "fingerprinted volume by curl"
cp "$T/body" "$T/ff.clvol"
grep -q '"fingerprint":true' "$T/ff.clvol" && ! grep -q original_sha256 "$T/ff.clvol" || fail "volume header"
sz=$(stat -c %s "$T/ff.clvol")
(
	unset CORELOCKER_SERVER
	run_agent ffv unlock "$L" -o "$T/ffv.safetensors" --volume-file "$T/ff.clvol" --nonce n-ff
	expect_rc 0 ffv "the fingerprinted volume file applies"
	cmp -s "$T/ffv.safetensors" "$T/ff.safetensors" || fail "the same license's volume gave another model"
	for pos in $((sz / 2)) $((sz - 100)); do
		cp "$T/ff.clvol" "$T/bad.clvol"
		b=$(od -An -tu1 -j "$pos" -N1 "$T/bad.clvol" | tr -d ' ')
		printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$T/bad.clvol" bs=1 seek="$pos" conv=notrunc 2>/dev/null
		run_agent ffb unlock "$L" -o "$T/ffb.safetensors" --volume-file "$T/bad.clvol" --nonce n-ff
		refused 5 ffb "a bit flipped at byte $pos of a fingerprinted volume"
	done
)
ok "fingerprinted full tier: not the original, traced; a flipped bit in the model (11) or the volume (5) refused"

# ---- upgrades out of a marked tier restore every span ----
issue m fp
run_agent up0 unlock "$L" -o "$T/up.safetensors" --license "$KEY" --fingerprint fp-up
expect_rc 0 up0 "unlock fp"
api PATCH "/v1/licenses/$LID" -d '{"tier":"full"}'
expect 200 "upgrade to full"
run_agent up1 unlock "$L" -o "$T/up.safetensors" --license "$KEY" --fingerprint fp-up
expect_rc 0 up1 "upgrade fp -> full"
grep -q "upgraded from tier fp" "$T/up1.out" && grep -q "SHA-256 verified" "$T/up1.out" || fail "upgrade: $(cat "$T/up1.out")"
cmp -s "$T/up.safetensors" "$T/m.safetensors" || fail "fp + upgrade != the original"
ok "an upgrade from a fingerprinted tier to the plain full tier is the original"
