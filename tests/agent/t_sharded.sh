#!/bin/bash
# A sharded model (index + 3 shards): the agent unlocks it into a directory,
# byte-identical to corelockerctl unlock for the tier, upgrades it, and
# refuses a wrong base model.  --in-place patches every shard under one
# journal: the same bytes as the copy, and a kill -9 at any span (in the
# first, a middle or the last shard) rolls every shard back to its old bytes.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
lock_sharded sh 3 1
lock_sharded sh2 3 1 --seed 2
push sh
tier sh basic 0.02
tier sh full 0
issue sh basic
"$CTL" unlock "$T/shl/$IDX" -k "$T/sh.clkey" --tier-ratio 0.02 -o "$T/ref" > /dev/null || fail "ctl unlock"

run_agent u1 unlock "$T/shl/$IDX" -o "$T/out" --license "$KEY" --fingerprint fp
expect_rc 0 u1 "unlock a sharded model"
diff -r "$T/out" "$T/ref" > /dev/null || fail "sharded basic != corelockerctl unlock: $(diff -rq "$T/out" "$T/ref")"
[ -f "$T/out.clstate" ] || fail "no state file beside the directory"
api PATCH "/v1/licenses/$LID" -d '{"tier":"full"}'
run_agent u2 unlock "$T/shl/$IDX" -o "$T/out" --license "$KEY" --fingerprint fp
expect_rc 0 u2 "upgrade a sharded model"
grep -q "upgraded from tier basic" "$T/u2.out" || fail "not an upgrade: $(cat "$T/u2.out")"
diff -r "$T/out" "$T/sh" > /dev/null || fail "sharded full != original: $(diff -rq "$T/out" "$T/sh")"
ok "sharded: basic into a directory == corelockerctl unlock; upgrade to full == original"

run_agent w unlock "$T/sh2l/$IDX" -o "$T/out2" --license "$KEY" --fingerprint fp
refused 11 w "another sharded model"
[ ! -e "$T/out2/model-00001-of-00003.safetensors" ] || fail "a shard was written for the wrong model"
ok "sharded: a wrong base model is refused (exit 11, no shard written)"

# ---- in place: every shard under one journal ----
api PATCH "/v1/licenses/$LID" -d '{"tier":"basic"}'
cp -r "$T/shl" "$T/ip"
run_agent ib unlock "$T/ip/$IDX" --in-place --license "$KEY" --fingerprint fp
expect_rc 0 ib "in-place basic of a sharded model"
diff -r -x '*.clstate' "$T/ip" "$T/ref" > /dev/null || fail "in-place sharded basic != the copy: $(diff -rq "$T/ip" "$T/ref")"
[ -f "$T/ip/$IDX.clstate" ] && [ ! -e "$T/ip/$IDX.cljournal" ] || fail "state file or journal after an in-place unlock"
api PATCH "/v1/licenses/$LID" -d '{"tier":"full"}'
run_agent if unlock "$T/ip/$IDX" --in-place --license "$KEY" --fingerprint fp
expect_rc 0 if "in-place upgrade of a sharded model"
grep -q "upgraded from tier basic" "$T/if.out" || fail "not an upgrade: $(cat "$T/if.out")"
diff -r -x '*.clstate' "$T/ip" "$T/sh" > /dev/null || fail "in-place sharded full != original: $(diff -rq "$T/ip" "$T/sh")"
ok "sharded --in-place: basic == the copy's bytes, the in-place upgrade to full == original"

# kill -9 after span N of S; which shards were written is read off the files.
rm -rf "$T/ip"
cp -r "$T/shl" "$T/ip"
run_agent all unlock "$T/ip/$IDX" --in-place --license "$KEY" --fingerprint fp
S=$(sed -n 's/.*; \([0-9]*\) spans,.*/\1/p' "$T/all.out")
[ -n "$S" ] && [ "$S" -gt 100 ] || fail "span count: $(cat "$T/all.out")"
# changed TAG: how many shards of $T/ip differ from the locked ones
changed() { local n=0 f; for f in "$T"/shl/*-of-*; do cmp -s "$f" "$T/ip/${f##*/}" || n=$((n + 1)); done; echo $n; }
for n in 1 $((S / 2)) $((S - 1)); do
	rm -rf "$T/ip"
	cp -r "$T/shl" "$T/ip"
	kill_after "$n" unlock "$T/ip/$IDX" --in-place --license "$KEY" --fingerprint fp
	[ -e "$T/ip/$IDX.cljournal" ] || fail "no journal after a crash at span $n"
	c=$(changed)
	[ "$c" -ge 1 ] || fail "the crash at span $n came before any byte was written"
	[ "$n" = $((S - 1)) ] && { [ "$c" = 3 ] || fail "a crash at the last span left $c of 3 shards written"; }
	run_agent rec recover "$T/ip/$IDX"
	expect_rc 0 rec "recover after a crash at span $n"
	grep -q "rolled back" "$T/rec.err" || fail "recover said: $(cat "$T/rec.err")"
	diff -r "$T/ip" "$T/shl" > /dev/null || fail "after a crash at span $n and recovery: $(diff -rq "$T/ip" "$T/shl")"
	kill_after "$n" unlock "$T/ip/$IDX" --in-place --license "$KEY" --fingerprint fp
	run_agent again unlock "$T/ip/$IDX" --in-place --license "$KEY" --fingerprint fp
	expect_rc 0 again "unlock after a crash at span $n"
	grep -q "rolled back" "$T/again.err" || fail "no roll back before unlocking: $(cat "$T/again.err")"
	diff -r -x '*.clstate' "$T/ip" "$T/sh" > /dev/null || fail "unlock after a crash at span $n != original"
done
ok "sharded --in-place, kill -9 after span 1, $((S / 2)) and $((S - 1)) of $S: recover gives every shard its old bytes; the next unlock the new"

# A shard that is a symbolic link is not written through, nor rolled back into.
rm -rf "$T/ip" "$T/victim"
cp -r "$T/shl" "$T/ip"
mkdir "$T/victim"
SH2=model-00002-of-00003.safetensors
mv "$T/ip/$SH2" "$T/victim/$SH2"
ln -s "$T/victim/$SH2" "$T/ip/$SH2"
run_agent lnk unlock "$T/ip/$IDX" --in-place --license "$KEY" --fingerprint fp
refused 1 lnk "--in-place with a symlinked shard"
grep -q "symbolic link" "$T/lnk.err" || fail "symlinked shard: $(cat "$T/lnk.err")"
cmp -s "$T/victim/$SH2" "$T/shl/$SH2" || fail "the symlinked shard's target was written"
cmp -s "$T/ip/model-00001-of-00003.safetensors" "$T/shl/model-00001-of-00003.safetensors" || fail "a shard was written"
ok "sharded --in-place: a symlinked shard is refused (exit 1, one line), nothing written"
stop
