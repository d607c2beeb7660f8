#!/bin/bash
# Replayed offline volumes.  A volume file carries no nonce of ours, so its
# signed issue time (header ts) is what keeps one fetched before the license
# was revoked from working forever: --volume-file refuses a volume issued
# longer ago than --max-age (default 7 days; 0 or none: no limit), and one
# issued more than 300 s in the future.  Old volumes are made by rewriting
# ts and signing again with the server's own key (openssl pkeyutl), as the
# server would have signed them days ago.
. "$top_srcdir/tests/agent/common.sh"
VOLUME="$PY $top_srcdir/tests/agent/volume.py"

agent_setup
mk m 0.05 1
push m
tier m basic 0.02
issue m basic
L=$T/m.locked.safetensors
ref "$L" "$T/m.clkey" 0.02 "$T/ref.safetensors"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\"}"
expect 200 "activate"
post_json /v1/key "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\",\"nonce\":\"n-1\"}"
expect 200 "fetch a volume"
cp "$T/body" "$T/vol"
# The site fetched the volume; then the license was revoked.
api POST "/v1/licenses/$LID/revoke"
expect 200 "revoke"

NOW=$(date -u +%s)
# at SECONDS_FROM_NOW OUT: the volume, issued then, signed by the server's key
at() {
	$VOLUME set "$T/vol" "$2" ts "\"$(date -u -d "@$((NOW + $1))" +%Y-%m-%dT%H:%M:%SZ)\"" "$T/var/signing.key" ||
		fail "re-sign the volume"
}
# apply TAG VOLUME [ARGS...]: --volume-file VOLUME into $T/TAG.safetensors
apply() {
	local tag=$1 vol=$2
	shift 2
	rm -f "$T/$tag.safetensors"
	run_agent "$tag" unlock "$L" -o "$T/$tag.safetensors" --volume-file "$vol" "$@"
}
# applied TAG WHAT: exit 0 and the basic tier written
applied() {
	expect_rc 0 "$1" "$2"
	cmp -s "$T/$1.safetensors" "$T/ref.safetensors" || fail "$2: the output is not the basic tier"
}
# not_applied CODE TAG WHAT WORD: refused with one line naming WORD, nothing written
not_applied() {
	refused "$1" "$2" "$3"
	grep -q -- "$4" "$T/$2.err" || fail "$3: the message does not say '$4': $(cat "$T/$2.err")"
	[ ! -e "$T/$2.safetensors" ] || fail "$3: the output was written"
}

at -691200 "$T/old8d" # issued 8 days ago
apply d8 "$T/old8d"
not_applied 7 d8 "a volume issued 8 days ago, default --max-age" "max-age"
apply fresh "$T/vol"
applied fresh "a volume issued just now, fetched before the revoke"
ok "default --max-age 7d: an 8-day-old volume is refused (exit 7); a fresh one applies"

apply d8a "$T/old8d" --max-age 9d
applied d8a "an 8-day-old volume with --max-age 9d"
apply d8b "$T/old8d" --max-age none
applied d8b "an 8-day-old volume with --max-age none"
apply d8c "$T/old8d" --max-age 0
applied d8c "an 8-day-old volume with --max-age 0"
at -7200 "$T/old2h"
apply h2 "$T/old2h" --max-age 1h
not_applied 7 h2 "a volume issued 2 hours ago, --max-age 1h" "max-age"
apply h2b "$T/old2h" --max-age 90m
not_applied 7 h2b "a volume issued 2 hours ago, --max-age 90m" "max-age"
apply h2c "$T/old2h" --max-age 10800
applied h2c "a volume issued 2 hours ago, --max-age 10800 (seconds)"
apply h2d "$T/old2h" --max-age 3h
applied h2d "a volume issued 2 hours ago, --max-age 3h"
ok "--max-age 9d, none and 0 take the 8-day-old volume; a 2-hour-old one: refused by 1h and 90m, taken by 10800 and 3h"

at 3600 "$T/future"
apply fu "$T/future" --max-age none
not_applied 13 fu "a volume issued an hour from now" "in the future"
at 60 "$T/soon"
apply so "$T/soon"
applied so "a volume issued 60 s ahead (within the 300 s skew)"
ok "a volume issued an hour ahead is refused (exit 13), even with --max-age none; 60 s ahead is clock skew"

# ts is signed: rewriting it without the server's key breaks the signature
$VOLUME set "$T/vol" "$T/unsigned" ts "\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"" || fail "rewrite ts"
apply us "$T/unsigned" --max-age none
not_applied 5 us "a volume whose ts was rewritten without the server's key" "signature"
ok "a rewritten ts without the server's key fails the signature (exit 5)"

for bad in 7x -1 '' 1.5d d; do
	apply ba "$T/vol" --max-age "$bad"
	not_applied 2 ba "--max-age '$bad'" "max-age"
done
run_agent nv unlock "$L" -o "$T/nv.safetensors" --max-age 1d --license "$KEY" --fingerprint fp
not_applied 2 nv "--max-age without --volume-file" "volume-file"
ok "--max-age 7x, -1, '', 1.5d and d, or without --volume-file: usage errors"
stop
