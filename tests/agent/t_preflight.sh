#!/bin/bash
# corelocker-agent checks its input before the server hears of the run: a
# typo'd model path, a directory or the locked file itself as the output, an
# unreadable CA file, or the original model given instead of the locked one
# each fail with one clear line, take no seat and record no delivery
# (issue 16, item 5).  The license has one seat: a later correct run on
# another machine proves that none was taken.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
mk m 0.05 1
push m
tier m basic 0.02
L=$T/m.locked.safetensors
issue m basic '"max_machines":1'

# agent_calls: the activations and deliveries the audit log holds
agent_calls() {
	api GET "/v1/audit?since=0"
	expect 200 "audit"
	jget '["entries"]' | "$PY" -c 'import json,sys
print(sum(e["action"] in ("machine.activate", "key.deliver", "key.checkout") for e in json.load(sys.stdin)))'
}
# nothing_sent TAG WHAT: no audit entry and no seat since the start
nothing_sent() {
	[ "$(agent_calls)" = 0 ] || fail "$2: the server recorded an activation or a delivery"
	api GET "/v1/licenses/$LID/machines"
	expect 200 "machines"
	[ "$(jget '["machines"].__len__()')" = 0 ] || fail "$2: a seat was taken: $(cat "$T/body")"
	[ ! -e "$T/out.safetensors" ] && [ ! -e "$T/out.safetensors.clstate" ] || fail "$2: an output was written"
}
A=(--license "$KEY" --fingerprint fp-1)

run_agent typo unlock "$T/m.lockd.safetensors" -o "$T/out.safetensors" "${A[@]}"
refused 2 typo "a typo'd model path"
grep -q "m.lockd.safetensors: No such file or directory" "$T/typo.err" || fail "typo message: $(cat "$T/typo.err")"
nothing_sent typo "a typo'd model path"
run_agent rtypo run "$T/m.lockd.safetensors" "${A[@]}" -- true
refused 2 rtypo "run: a typo'd model path"
nothing_sent rtypo "run: a typo'd model path"
ok "a model path that does not exist: one line naming it; no seat, no delivery (unlock and run)"

mkdir "$T/outdir"
run_agent dir unlock "$L" -o "$T/outdir" "${A[@]}"
refused 2 dir "a directory as the output"
grep -q "is a directory: name the file to write" "$T/dir.err" || fail "directory message: $(cat "$T/dir.err")"
run_agent nodir unlock "$L" -o "$T/nowhere/out.safetensors" "${A[@]}"
refused 2 nodir "an output in a directory that does not exist"
grep -q "directory $T/nowhere: No such file or directory" "$T/nodir.err" || fail "no directory message: $(cat "$T/nodir.err")"
cp "$L" "$T/lk.safetensors"
run_agent same unlock "$T/lk.safetensors" -o "$T/lk.safetensors" "${A[@]}"
refused 2 same "the locked file as its own output"
grep -q "is the locked model itself" "$T/same.err" || fail "same file message: $(cat "$T/same.err")"
cmp -s "$T/lk.safetensors" "$L" || fail "the locked file changed"
run_agent cdir checkout --ttl 60 -o "$T/outdir" "${A[@]}"
refused 2 cdir "checkout: a directory as the output"
nothing_sent dir "bad outputs"
ok "output checks: a directory, a missing directory, LOCKED itself (unlock), a directory (checkout): usage, nothing sent"

run_agent ca unlock "$L" -o "$T/out.safetensors" "${A[@]}" --cacert "$T/no-ca.pem"
refused 2 ca "a missing CA file"
grep -q "cannot read CA file $T/no-ca.pem: No such file or directory" "$T/ca.err" || fail "CA message: $(cat "$T/ca.err")"
grep -q "not trusted" "$T/ca.err" && fail "a missing CA file reported as an untrusted certificate"
run_agent cav validate "${A[@]}" --cacert "$T/no-ca.pem"
refused 2 cav "validate: a missing CA file"
run_agent pin unlock "$L" -o "$T/out.safetensors" "${A[@]}" --server-key "$T/no-pub.pem"
refused 2 pin "a missing pinned key"
grep -q "no-pub.pem" "$T/pin.err" || fail "pinned key message: $(cat "$T/pin.err")"
nothing_sent ca "missing CA and key files"
ok "a missing --cacert says 'cannot read CA file', a missing --server-key names it: usage, nothing sent"

run_agent orig unlock "$T/m.safetensors" -o "$T/out.safetensors" "${A[@]}"
refused 11 orig "the original instead of the locked model"
grep -q "is not the locked model the license is for" "$T/orig.err" || fail "original message: $(cat "$T/orig.err")"
cp "$T/m.safetensors" "$T/ip.safetensors"
run_agent origip unlock "$T/ip.safetensors" --in-place "${A[@]}"
refused 11 origip "the original in place"
cmp -s "$T/ip.safetensors" "$T/m.safetensors" || fail "the original changed in place"
run_agent origrun run "$T/m.safetensors" "${A[@]}" -- true
refused 11 origrun "run: the original"
nothing_sent orig "the original model"
ok "the original instead of the locked model: wrong base (11) before any seat or delivery (unlock, in place, run)"

# What the agent checks against: validate names the licensed model's locked
# fingerprint and the tier's ratio (the server's answer, read with curl).
post_json /v1/validate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-9\",\"nonce\":\"n-1\"}"
expect 200 "validate by curl"
[ "$(jget '["locked_sha256"]')" = "$(sha256sum < "$L" | cut -d' ' -f1)" ] || fail "validate's locked_sha256: $(cat "$T/body")"
[ "$(jget '["beta"]')" = 0.02 ] || fail "validate's beta: $(cat "$T/body")"
ok "validate names the locked model's SHA-256 and the tier's ratio"

# The one seat is still free: another machine unlocks, and that is recorded.
run_agent good unlock "$L" -o "$T/out.safetensors" --license "$KEY" --fingerprint fp-2
expect_rc 0 good "the correct run on another machine"
[ "$(agent_calls)" = 2 ] || fail "the correct run: expected an activation and a delivery in the audit log"
ok "the one seat was still free: the correct run activates and gets its delivery"

# The full tier is verified against the original after patching, so any
# file that becomes the original is accepted, the original itself too.
tier m full 0
issue m full
run_agent full unlock "$T/m.safetensors" -o "$T/full.safetensors" --license "$KEY" --fingerprint fp-1
expect_rc 0 full "the full tier over the original"
cmp -s "$T/full.safetensors" "$T/m.safetensors" || fail "the full tier over the original is not the original"
ok "the full tier: the original given as the base still gives the original"

# validate: the code once on stdout, what it means on stderr (issue 16, item 7)
api POST "/v1/licenses/$LID/revoke"
expect 200 revoke
run_agent rv validate --license "$KEY" --fingerprint fp-1
refused 6 rv "validate a revoked license"
[ "$(cat "$T/rv.out")" = REVOKED ] || fail "validate prints: $(cat "$T/rv.out")"
grep -q "REVOKED" "$T/rv.err" && fail "validate repeats the code on stderr: $(cat "$T/rv.err")"
grep -q "the license has been revoked" "$T/rv.err" || fail "validate's stderr: $(cat "$T/rv.err")"
ok "validate prints REVOKED once (stdout) and says what it means on stderr"
stop
