#!/bin/bash
# corelocker-agent refusals: each one clear line on stderr and its own exit
# status, with the output absent (no temp file either) and an --in-place
# model byte for byte as it was.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
mk m 0.05 1
mk other 0.05 1 2 # the same shape, other weights
push m
tier m basic 0.02
tier m full 0
L=$T/m.locked.safetensors

# both CODE WHAT ARGS...: unlock BASE (default the locked model) to a new
# file, then in place on a copy; both refused with CODE and nothing changed.
both() {
	local code=$1 what=$2 base=${BASE:-$L}
	shift 2
	rm -f "$T/no.safetensors"
	run_agent r1 unlock "$base" -o "$T/no.safetensors" "$@"
	refused "$code" r1 "$what"
	[ ! -e "$T/no.safetensors" ] && [ ! -e "$T/no.safetensors.clstate" ] || fail "$what: an output was written"
	cp "$base" "$T/ip.safetensors"
	run_agent r2 unlock "$T/ip.safetensors" --in-place "$@"
	refused "$code" r2 "$what (in place)"
	cmp -s "$T/ip.safetensors" "$base" || fail "$what: the in-place model changed"
	[ ! -e "$T/ip.safetensors.cljournal" ] && [ ! -e "$T/ip.safetensors.clstate" ] ||
		fail "$what: a journal or state file was left"
	if ls -A "$T" | grep -q '\.tmp\.'; then fail "$what: a temp file was left: $(ls -A "$T")"; fi
	rm -f "$T/ip.safetensors"
}

issue m full '"max_machines":1'
KEY1=$KEY LID1=$LID

# ---- transport and trust ----
openssl genpkey -algorithm ed25519 -out "$T/other.key" 2>/dev/null && openssl pkey -in "$T/other.key" -pubout -out "$T/other.pem" ||
	fail "openssl genpkey"
both 5 "a pinned key that is not the server's" --license "$KEY1" --fingerprint fp-1 --server-key "$T/other.pem"
grep -q "does not verify with the pinned server key" "$T/r1.err" || fail "pinned key message: $(cat "$T/r1.err")"
ok "wrong pinned key: exit 5"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other-tls.key" -out "$T/other-tls.crt" \
	-days 1 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null || fail "openssl req"
both 4 "an untrusted certificate" --license "$KEY1" --fingerprint fp-1 --cacert "$T/other-tls.crt"
grep -q "certificate" "$T/r1.err" || fail "certificate message: $(cat "$T/r1.err")"
(unset CORELOCKER_CACERT; run_agent r3 validate --license "$KEY1" --fingerprint fp-1; refused 4 r3 "system CAs") || exit 1
ok "untrusted certificate (other CA, or the system bundle): exit 4"

both 3 "an unreachable server" --license "$KEY1" --fingerprint fp-1 --server https://127.0.0.1:1
grep -q "cannot reach https://127.0.0.1:1" "$T/r1.err" || fail "unreachable message: $(cat "$T/r1.err")"
run_agent r4 validate --license "$KEY1" --fingerprint fp-1 --server http://127.0.0.1:1
refused 2 r4 "plain http"
ok "unreachable server: exit 3; plain http refused"

# ---- license states ----
both 10 "an unknown license key" --license clk_0000000000000000000000000000000000000000 --fingerprint fp-1
run_agent ok1 unlock "$L" -o "$T/ok1.safetensors" --license "$KEY1" --fingerprint fp-1
expect_rc 0 ok1 "the first machine"
both 9 "a second machine over max_machines 1" --license "$KEY1" --fingerprint fp-2
grep -q "TOO_MANY_MACHINES" "$T/r1.err" || fail "machines message: $(cat "$T/r1.err")"
issue m basic '"expires_at":"2001-01-01T00:00:00Z"'
both 7 "an expired license" --license "$KEY" --fingerprint fp-1
issue m basic
api POST "/v1/licenses/$LID/suspend"
expect 200 suspend
both 8 "a suspended license" --license "$KEY" --fingerprint fp-1
api POST "/v1/licenses/$LID/revoke"
expect 200 revoke
both 6 "a revoked license" --license "$KEY" --fingerprint fp-1
ok "not found 10, too many machines 9, expired 7, suspended 8, revoked 6"

# ---- the base model ----
BASE=$T/other.locked.safetensors both 11 "another locked model of the same shape" --license "$KEY1" --fingerprint fp-1
grep -q "wrong base model" "$T/r1.err" || fail "wrong base message: $(cat "$T/r1.err")"
head -c 5000 "$L" > "$T/short.safetensors"
BASE=$T/short.safetensors both 11 "a file of another size" --license "$KEY1" --fingerprint fp-1
ok "wrong base model: exit 11"

# ---- volumes: tampered, replayed, expired ----
post_json /v1/key "{\"license_key\":\"$KEY1\",\"fingerprint\":\"fp-1\",\"nonce\":\"n-1\"}"
expect 200 "volume by curl"
cp "$T/body" "$T/v.clvol"
(
	unset CORELOCKER_SERVER
	run_agent g0 unlock "$L" -o "$T/g0.safetensors" --volume-file "$T/v.clvol" --nonce n-1
	expect_rc 0 g0 "the untouched volume applies"
	sz=$(stat -c %s "$T/v.clvol")
	for pos in $((sz / 2)) $((sz - 70)) $((sz - 10)) 200; do
		cp "$T/v.clvol" "$T/bad.clvol"
		b=$(od -An -tu1 -j "$pos" -N1 "$T/bad.clvol" | tr -d ' ')
		printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$T/bad.clvol" bs=1 seek="$pos" conv=notrunc 2>/dev/null
		cmp -s "$T/bad.clvol" "$T/v.clvol" && fail "no bit flipped at $pos"
		both 5 "a bit flipped at byte $pos of $sz" --volume-file "$T/bad.clvol"
	done
	printf 'X' | dd of="$T/bad.clvol" bs=1 seek=0 conv=notrunc 2>/dev/null
	both 13 "a volume with a bad magic" --volume-file "$T/bad.clvol"
	head -c 1000 "$T/v.clvol" > "$T/bad.clvol"
	both 5 "a truncated volume" --volume-file "$T/bad.clvol"
	both 5 "a replayed volume with a stale nonce" --volume-file "$T/v.clvol" --nonce n-2
	grep -q "replay" "$T/r1.err" || fail "replay message: $(cat "$T/r1.err")"
	both 5 "a volume checked with another key" --volume-file "$T/v.clvol" --server-key "$T/other.pem"
	BASE=$T/other.locked.safetensors both 11 "a volume for another model" --volume-file "$T/v.clvol"
) || exit 1
ok "volume files: a flipped bit (signature, exit 5), bad magic (13), truncation (5), stale nonce (5), wrong base (11)"

# a license that expires in twelve seconds: its volume, applied later, is
# refused (twelve, not two: issuing, activating and fetching must all fit
# before the expiry on a loaded machine under ASan)
exp=$(($(date +%s) + 12))
issue m basic "\"expires_at\":\"$(date -u -d "@$exp" +%Y-%m-%dT%H:%M:%SZ)\""
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-1\"}"
expect 200 "activate the short license"
post_json /v1/key "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-1\",\"nonce\":\"n-3\"}"
expect 200 "volume of the short license"
cp "$T/body" "$T/short.clvol"
while [ "$(date +%s)" -le "$exp" ]; do sleep 0.2; done # wait for the clock, not for a process
(unset CORELOCKER_SERVER; both 7 "a volume whose license has expired since" --volume-file "$T/short.clvol") || exit 1
ok "a volume of an expired license: exit 7"

# ---- disk full: a small tmpfs in a private mount namespace ----
if unshare -rm true 2>/dev/null; then
	mkdir -p "$T/small"
	sz=$(stat -c %s "$L")
	export L T
	# room for the model and the ~95 KiB volume (version 3: the agent asks
	# for it; 262 KiB in version 2), and then: not for the copy (copy), nor
	# for the ~94 KiB undo journal (inplace)
	for mode in copy inplace; do
		RC=0
		room=$([ $mode = copy ] && echo 360 || echo 150)
		unshare -rm bash -c '
			mount -t tmpfs -o size=$(( '"$sz"' + '"$room"' * 1024 )) tmpfs "$T/small" || exit 99
			cp "$L" "$T/small/m.safetensors"
			if [ '"$mode"' = copy ]; then
				"$AGENT" unlock "$T/small/m.safetensors" -o "$T/small/out.safetensors" --license '"$KEY1"' --fingerprint fp-1 2> "$T/df.err"
			else
				"$AGENT" unlock "$T/small/m.safetensors" --in-place --license '"$KEY1"' --fingerprint fp-1 2> "$T/df.err"
			fi
			rc=$?
			cmp -s "$L" "$T/small/m.safetensors" || exit 98
			ls -A "$T/small" > "$T/df.ls"
			exit $rc' || RC=$?
		[ "$RC" != 99 ] || { echo "# skip disk full: cannot mount a tmpfs"; break; }
		[ "$RC" != 98 ] || fail "disk full ($mode): the model changed"
		[ "$RC" = 12 ] || fail "disk full ($mode): expected exit 12, got $RC: $(cat "$T/df.err")"
		[ "$(wc -l < "$T/df.err")" = 1 ] || fail "disk full ($mode): $(cat "$T/df.err")"
		[ "$(cat "$T/df.ls")" = m.safetensors ] || fail "disk full ($mode): left $(cat "$T/df.ls")"
	done
	[ "$RC" = 99 ] || ok "disk full: exit 12, to a new file and in place, nothing left behind"
fi
stop
