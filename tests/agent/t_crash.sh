#!/bin/bash
# kill -9 during an --in-place patch of a 40 MiB model: the undo journal puts
# the old bytes back (recover, or the next unlock), so the file ends up with
# exactly its old or its new bytes.  CORELOCKER_TEST_PAUSE_AFTER_SPANS=N
# makes the agent stop after writing N spans, so the kill lands inside the
# patch deterministically, with no timing guesses.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
mk big 0.01 40
push big
tier big basic 0.004
tier big full 0
issue big full
KF=$KEY LF=$LID
L=$T/big.locked.safetensors
ref "$L" "$T/big.clkey" 0.004 "$T/basic.ref"

# A clean run first, for the span count.
cp "$L" "$T/ip.safetensors"
run_agent clean unlock "$T/ip.safetensors" --in-place --license "$KF" --fingerprint fp-1
expect_rc 0 clean "in-place unlock"
cmp -s "$T/ip.safetensors" "$T/big.safetensors" || fail "clean in-place unlock != original"
S=$(sed -n 's/.*; \([0-9]*\) spans,.*/\1/p' "$T/clean.out")
[ -n "$S" ] && [ "$S" -gt 1000 ] || fail "span count: $(cat "$T/clean.out")"

# crash_at N FILE: an in-place unlock of FILE killed after N spans leaves its journal.
crash_at() {
	kill_after "$1" unlock "$2" --in-place --license "$KF" --fingerprint fp-1
	[ -e "$2.cljournal" ] || fail "no journal after a crash at span $1"
}

rm -f "$T/ip.safetensors.clstate"
for n in 1 $((S / 2)) $((S - 1)); do
	cp "$L" "$T/ip.safetensors"
	rm -f "$T/ip.safetensors.clstate"
	crash_at "$n" "$T/ip.safetensors"
	cmp -s "$T/ip.safetensors" "$L" && fail "the crash at span $n came before any byte was written"
	cmp -s "$T/ip.safetensors" "$T/big.safetensors" && fail "the crash at span $n came after the patch"
	run_agent rec recover "$T/ip.safetensors"
	expect_rc 0 rec "recover after a crash at span $n"
	grep -q "rolled back" "$T/rec.err" || fail "recover said: $(cat "$T/rec.err")"
	cmp -s "$T/ip.safetensors" "$L" || fail "after a crash at span $n and recovery the file is not its old bytes"
	[ ! -e "$T/ip.safetensors.cljournal" ] && [ ! -e "$T/ip.safetensors.clstate" ] || fail "journal or state left"
	# again, and this time the next unlock rolls back by itself, then completes
	crash_at "$n" "$T/ip.safetensors"
	run_agent again unlock "$T/ip.safetensors" --in-place --license "$KF" --fingerprint fp-1
	expect_rc 0 again "unlock after a crash at span $n"
	grep -q "rolled back" "$T/again.err" || fail "no roll back before unlocking: $(cat "$T/again.err")"
	cmp -s "$T/ip.safetensors" "$T/big.safetensors" || fail "unlock after a crash at span $n != original"
done
ok "kill -9 after span 1, $((S / 2)) and $((S - 1)) of $S: recover gives the old bytes; the next unlock the new"

# A damaged journal is refused with one line and left for a person to look at.
cp "$L" "$T/ip.safetensors"
crash_at 3 "$T/ip.safetensors"
cp "$T/ip.safetensors.cljournal" "$T/journal.good"
printf 'X' | dd of="$T/ip.safetensors.cljournal" bs=1 seek=100 conv=notrunc 2>/dev/null
run_agent bad recover "$T/ip.safetensors"
refused 1 bad "recover from a damaged journal"
grep -q "damaged" "$T/bad.err" || fail "damaged journal message: $(cat "$T/bad.err")"
[ -e "$T/ip.safetensors.cljournal" ] || fail "a damaged journal was removed"
run_agent bad2 unlock "$T/ip.safetensors" --in-place --license "$KF" --fingerprint fp-1
refused 1 bad2 "unlock with a damaged journal"
cp "$T/journal.good" "$T/ip.safetensors.cljournal"
run_agent good recover "$T/ip.safetensors"
expect_rc 0 good "recover from the intact journal"
cmp -s "$T/ip.safetensors" "$L" || fail "recovery from the intact journal"
printf 'not json' > "$T/ip.safetensors.clstate"
run_agent gs unlock "$T/ip.safetensors" --in-place --license "$KF" --fingerprint fp-1
expect_rc 0 gs "unlock beside a garbage state file"
grep -q "ignoring" "$T/gs.err" || fail "no note about the garbage state: $(cat "$T/gs.err")"
cmp -s "$T/ip.safetensors" "$T/big.safetensors" || fail "unlock beside a garbage state file"
ok "a damaged journal is refused and kept; a garbage state file is ignored"

# A crash during an in-place upgrade goes back to the lower tier, state file included.
api PATCH "/v1/licenses/$LF" -d '{"tier":"basic"}'
cp "$L" "$T/up.safetensors"
run_agent b unlock "$T/up.safetensors" --in-place --license "$KF" --fingerprint fp-1
expect_rc 0 b "in place basic"
cp "$T/up.safetensors.clstate" "$T/state.basic"
api PATCH "/v1/licenses/$LF" -d '{"tier":"full"}'
crash_at 7 "$T/up.safetensors"
run_agent rec2 recover "$T/up.safetensors"
expect_rc 0 rec2 "recover an upgrade"
cmp -s "$T/up.safetensors" "$T/basic.ref" || fail "after a crashed upgrade the file is not the basic tier"
cmp -s "$T/up.safetensors.clstate" "$T/state.basic" || fail "the state file was not restored"
run_agent up unlock "$T/up.safetensors" --in-place --license "$KF" --fingerprint fp-1
expect_rc 0 up "upgrade after recovery"
grep -q "upgraded from tier basic" "$T/up.out" || fail "not an upgrade: $(cat "$T/up.out")"
cmp -s "$T/up.safetensors" "$T/big.safetensors" || fail "upgrade after recovery != original"
ok "a crashed in-place upgrade rolls back to the lower tier and its state; the upgrade then completes"

# Without --in-place, a kill in the middle of the copy leaves OUT (here: the
# basic tier) and its state file exactly as they were; the next run upgrades.
api PATCH "/v1/licenses/$LF" -d '{"tier":"basic"}'
run_agent cb unlock "$L" -o "$T/co.safetensors" --license "$KF" --fingerprint fp-1
expect_rc 0 cb "copy basic"
cp "$T/co.safetensors" "$T/co.before"
cp "$T/co.safetensors.clstate" "$T/co.state"
api PATCH "/v1/licenses/$LF" -d '{"tier":"full"}'
kill_after $((S / 3)) unlock "$L" -o "$T/co.safetensors" --license "$KF" --fingerprint fp-1
cmp -s "$T/co.safetensors" "$T/co.before" || fail "a killed copy changed OUT"
cmp -s "$T/co.safetensors.clstate" "$T/co.state" || fail "a killed copy changed the state file"
# the output's temp file is unnamed (O_TMPFILE) until commit: the kill leaves none
[ -z "$(ls -A "$T" | grep '^\.co\.safetensors\.tmp\.')" ] || fail "a killed copy left a temp file behind"
run_agent cu unlock "$L" -o "$T/co.safetensors" --license "$KF" --fingerprint fp-1
expect_rc 0 cu "upgrade after a killed copy"
grep -q "upgraded from tier basic" "$T/cu.out" || fail "not an upgrade: $(cat "$T/cu.out")"
cmp -s "$T/co.safetensors" "$T/big.safetensors" || fail "upgrade after a killed copy != original"
ok "kill -9 during a copy: OUT and its state untouched, no temp file left; the next run upgrades"
stop
