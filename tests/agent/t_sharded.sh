#!/bin/bash
# A sharded model (index + 3 shards): the agent unlocks it into a directory,
# byte-identical to corelockerctl unlock for the tier, upgrades it, and
# refuses a wrong base model or --in-place.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
"$PY" "$MKMODEL" "$T/sh" --shards 3 --mib 1 || fail "mkmodel"
"$PY" "$MKMODEL" "$T/sh2" --shards 3 --mib 1 --seed 2 || fail "mkmodel"
IDX=model.safetensors.index.json
"$CTL" lock "$T/sh/$IDX" -o "$T/shl" -k "$T/sh.clkey" --ratio 0.05 > /dev/null || fail "lock"
"$CTL" lock "$T/sh2/$IDX" -o "$T/shl2" -k "$T/sh2.clkey" --ratio 0.05 > /dev/null || fail "lock 2"
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

run_agent w unlock "$T/shl2/$IDX" -o "$T/out2" --license "$KEY" --fingerprint fp
refused 11 w "another sharded model"
[ ! -e "$T/out2/model-00001-of-00003.safetensors" ] || fail "a shard was written for the wrong model"
run_agent ip unlock "$T/shl/$IDX" --in-place --license "$KEY" --fingerprint fp
expect_rc 2 ip "--in-place on a sharded model"
ok "sharded: a wrong base model is refused (exit 11, no shard written); --in-place is a usage error"
stop
