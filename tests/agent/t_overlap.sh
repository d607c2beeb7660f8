#!/bin/bash
# The agent patches while the key volume downloads (client/overlap.c; the
# order in docs/man/corelocker-agent.1):
#  - a sharded model (basic tier: the base hashed as it is read) and a single
#    file (full tier: the result checked against the original), over HTTPS
#    on a slow link (CORELOCKER_TEST_MAX_RECV_SPEED), in version 3 and,
#    through a relay that drops the Accept header (an old agent's request),
#    version 2: byte-identical to --volume-file with volumes of both versions
#    and to corelockerctl unlock; and each shard's pass got its first entry
#    before the volume's last byte arrived (CORELOCKER_TEST_OVERLAP_TRACE),
#    which --volume-file and --in-place never do (they wait for the
#    signature);
#  - a volume with one bit flipped at three quarters of it (passes already
#    running): exit 5, no output, no directory, no temp file, no state file;
#    one cut off half-way: exit 3, the same; then a good unlock still works.
. "$top_srcdir/tests/agent/common.sh"
. "$top_srcdir/tests/agent/flaky.sh"

agent_setup
SLOW=400000 # bytes per second: volumes of 0.3 to 1 MB arrive in many pieces
export CORELOCKER_TEST_OVERLAP_TRACE=1

# overlapped TAG SHARDS: every shard's pass started before the last byte (TAG's transferred count)
overlapped() {
	local total n=0 s at
	total=$(transferred "$1")
	[ -n "$total" ] || fail "$1: no transferred count: $(cat "$T/$1.out")"
	while read -r s at; do
		[ "$at" -lt "$total" ] || fail "$1: shard $s started after $at of $total bytes: no overlap: $(cat "$T/$1.err")"
		n=$((n + 1))
	done < <(sed -n 's/^corelocker-agent: test: shard \([0-9]*\) patching from byte \([0-9]*\)$/\1 \2/p' "$T/$1.err")
	[ "$n" = "$2" ] || fail "$1: $n passes traced, want $2: $(cat "$T/$1.err")"
}
# clean TAG DIR NAME: the agent left neither DIR/NAME (nor its state file) nor a temp file in DIR
clean() {
	[ ! -e "$2/$3" ] && [ ! -e "$2/$3.clstate" ] || fail "$1: $2/$3 was published: $(ls -A "$2")"
	if find "$2" -maxdepth 2 -name '.*.tmp.*' | grep -q .; then fail "$1: a temp file was left: $(find "$2" -maxdepth 2 -name '.*.tmp.*')"; fi
}

flaky v2 v2 /v1/key
V2URL=$FURL
flaky flip flip /v1/key
FLIP=$FURL
flaky cut cut /v1/key
CUT=$FURL

# ---- a sharded model, basic tier ----
lock_sharded sh 3 16
push sh
tier sh basic 0.04
issue sh basic
"$CTL" unlock "$T/shl/$IDX" -k "$T/sh.clkey" --tier-ratio 0.04 -o "$T/ref" > /dev/null || fail "ctl unlock"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\"}"
expect 200 "activate"
fetch_volume sh2 n-sh2
fetch_volume sh3 n-sh3 "$V3"
[ "$(volume_version "$T/sh2.vol")" = 2 ] && [ "$(volume_version "$T/sh3.vol")" = 3 ] || fail "volume versions"
unset CORELOCKER_SERVER
for n in 2 3; do
	run_agent "f$n" unlock "$T/shl/$IDX" -o "$T/f$n" --volume-file "$T/sh$n.vol" --nonce "n-sh$n"
	expect_rc 0 "f$n" "--volume-file v$n"
	diff -r "$T/f$n" "$T/ref" > /dev/null || fail "--volume-file v$n != corelockerctl unlock"
	! grep -q 'test: shard' "$T/f$n.err" || fail "--volume-file patched through the stream: $(cat "$T/f$n.err")"
done
for n in 3:$URL 2:$V2URL; do
	v=${n%%:*}
	CORELOCKER_TEST_MAX_RECV_SPEED=$SLOW run_agent "n$v" unlock "$T/shl/$IDX" -o "$T/n$v" --license "$KEY" \
		--fingerprint fp --server "${n#*:}"
	expect_rc 0 "n$v" "unlock over HTTPS (v$v)"
	[ "$(delivered)" = "$v" ] || fail "the agent was sent version '$(delivered)', want $v"
	diff -r "$T/n$v" "$T/f$v" > /dev/null || fail "over HTTPS (v$v) != --volume-file: $(diff -rq "$T/n$v" "$T/f$v")"
	overlapped "n$v" 3
done
ok "sharded, basic tier: over HTTPS (v3, and v2 through a relay) == --volume-file (v2, v3) == ctl unlock; all 3 passes started before the last byte"

# ---- bad volumes: nothing published, nothing left ----
mkdir "$T/bad"
# bad TAG URL RC: unlock through URL into $T/bad/TAG, exit RC with one line (and the trace) on stderr
bad() {
	CORELOCKER_TEST_MAX_RECV_SPEED=$SLOW run_agent "$1" unlock "$T/shl/$IDX" -o "$T/bad/$1" --license "$KEY" \
		--fingerprint fp --server "$2"
	expect_rc "$3" "$1" "a volume with a bad byte ($1)"
	[ "$(grep -vc 'test: shard' "$T/$1.err")" = 1 ] || fail "$1: expected one line on stderr: $(cat "$T/$1.err")"
	clean "$1" "$T/bad" "$1"
	clean "$1" "$T" "$1"
}
bad flip "$FLIP" 5
bad cut "$CUT" 3
grep -q 'test: shard 0 patching from byte' "$T/flip.err" || fail "flip: no pass started before the bad byte: $(cat "$T/flip.err")"
grep -q "signature does not verify" "$T/flip.err" || fail "flip: $(cat "$T/flip.err")"
ok "a bit flipped at 3/4 of the volume (passes already running): exit 5; cut half-way: exit 3; no output, directory, state or temp file"

# ---- a single file, full tier; --in-place keeps today's order ----
mk one 0.05 8
push one
tier one full 0
issue one full
for n in 3:$URL 2:$V2URL; do
	v=${n%%:*}
	CORELOCKER_TEST_MAX_RECV_SPEED=$SLOW run_agent "o$v" unlock "$T/one.locked.safetensors" -o "$T/o$v.safetensors" \
		--license "$KEY" --fingerprint fp --server "${n#*:}"
	expect_rc 0 "o$v" "one file over HTTPS (v$v)"
	cmp -s "$T/o$v.safetensors" "$T/one.safetensors" || fail "one file over HTTPS (v$v) is not the original"
	overlapped "o$v" 1
done
cp "$T/one.locked.safetensors" "$T/ip.safetensors"
run_agent ip unlock "$T/ip.safetensors" --in-place --license "$KEY" --fingerprint fp --server "$URL"
expect_rc 0 ip "in place"
cmp -s "$T/ip.safetensors" "$T/one.safetensors" || fail "in place is not the original"
! grep -q 'test: shard' "$T/ip.err" || fail "--in-place patched before the signature: $(cat "$T/ip.err")"
ok "one file, full tier: over HTTPS (v3, v2) == the original, its pass started before the last byte; --in-place waits"
