#!/bin/bash
# Planted journals.  Roll-back writes old bytes into a file, so a journal
# counts only when it is the user's own file, carries a MAC under the user's
# journal key and names the file's device and inode, and the file is no
# symbolic link.  The attack first: a forged OUT.cljournal beside an OUT that
# is a symbolic link must not write into the link's target; then a journal
# with a bad MAC, for another inode, or of another owner is refused with one
# line and both files are left alone; a genuine interrupted --in-place run
# still recovers.
. "$top_srcdir/tests/agent/common.sh"
JOURNAL="$PY $top_srcdir/tests/agent/journal.py"

agent_setup
mk big 0.01 4
push big
tier big full 0
issue big full
L=$T/big.locked.safetensors
KEYFILE=$XDG_STATE_HOME/corelocker/journal.key

# refused_alone [-2] TAG WHAT WORD FILE COPY: exit 1 (or 2), one line naming WORD, FILE still equal to COPY
refused_alone() {
	local code=1
	[ "$1" = -2 ] && code=2 && shift
	refused "$code" "$1" "$2"
	grep -q -- "$3" "$T/$1.err" || fail "$2: the message does not say '$3': $(cat "$T/$1.err")"
	cmp -s "$4" "$5" || fail "$2: $4 was written"
}

# ---- the attack: a forged journal beside a symbolic link to someone's file ----
mkdir -p "$T/victim" "$T/shared"
head -c 4096 /dev/urandom > "$T/victim/data"
cp "$T/victim/data" "$T/victim.copy"
ln -s "$T/victim/data" "$T/shared/out.safetensors"
J=$T/shared/out.safetensors.cljournal
$JOURNAL v1 "$T/shared/out.safetensors" "$J" 0 "$(printf 'ATTACKER BYTES' | od -An -tx1 | tr -d ' \n')" ||
	fail "forge a journal"
run_agent atk recover "$T/shared/out.safetensors"
refused_alone atk "recover with a forged journal beside a symbolic link" "symbolic link" "$T/victim/data" "$T/victim.copy"
run_agent atk2 unlock "$L" -o "$T/shared/out.safetensors" --license "$KEY" --fingerprint fp
refused_alone atk2 "unlock into a symbolic link beside a forged journal" "symbolic link" "$T/victim/data" "$T/victim.copy"
[ -e "$J" ] || fail "the forged journal was removed"
# the same with a journal that is itself a link, and with a version 2 journal under the attacker's key
head -c 32 /dev/urandom > "$T/attacker.key"
$JOURNAL v2 "$T/shared/out.safetensors" "$T/forged2" 0 414141 "$T/attacker.key" || fail "forge a v2 journal"
for j in "ln -sf $T/forged2" "cp $T/forged2"; do
	rm -f "$J"
	$j "$J"
	run_agent atk3 recover "$T/shared/out.safetensors"
	refused_alone atk3 "recover ($j)" "symbolic link" "$T/victim/data" "$T/victim.copy"
done
ok "a forged journal beside a symbolic link: recover and unlock refuse (exit 1, one line); the link's target is untouched"

# ---- journals of a genuine interrupted run, tampered with ----
cp "$L" "$T/ip.safetensors"
kill_after 5 unlock "$T/ip.safetensors" --in-place --license "$KEY" --fingerprint fp
JP=$T/ip.safetensors.cljournal
[ -e "$JP" ] || fail "no journal after the crash"
[ "$(stat -c %a "$KEYFILE")" = 600 ] || fail "the journal key is not mode 0600: $(stat -c %a "$KEYFILE")"
[ "$(stat -c %a "$JP")" = 600 ] || fail "the journal is not mode 0600"
cp "$JP" "$T/good.journal"
cp "$T/ip.safetensors" "$T/half"
cmp -s "$T/half" "$L" && fail "the crash came before the first byte was written"

# A version 1 journal (no MAC), of the file itself: what the old agent trusted.
$JOURNAL v1 "$T/ip.safetensors" "$JP" 0 "$(printf 'ATTACKER BYTES' | od -An -tx1 | tr -d ' \n')"
run_agent v1 recover "$T/ip.safetensors"
refused_alone v1 "a version 1 journal" "version 1" "$T/ip.safetensors" "$T/half"

# A bad MAC: the genuine journal re-MACed under another key.
$JOURNAL remac "$T/good.journal" "$JP" "$T/attacker.key"
run_agent mac recover "$T/ip.safetensors"
refused_alone mac "a journal with a bad MAC" "MAC does not verify" "$T/ip.safetensors" "$T/half"
# ...and under the right key, the journal is accepted again (the MAC is what was wrong)
$JOURNAL remac "$T/good.journal" "$T/remaced" "$KEYFILE"
cmp -s "$T/remaced" "$T/good.journal" || fail "journal.py does not compute the agent's MAC"
[ "$(od -An -tu4 -j8 -N4 "$T/good.journal" | tr -d ' ')" = 3 ] || fail "the agent did not write a version 3 journal"
# A version 2 journal (what agents before version 3 wrote) under the user's key still rolls back.
cp "$L" "$T/v2.safetensors"
$JOURNAL v2 "$T/v2.safetensors" "$T/v2.safetensors.cljournal" 100 414243 "$KEYFILE" || fail "forge a v2 journal"
run_agent v2ok recover "$T/v2.safetensors"
expect_rc 0 v2ok "recover from a version 2 journal"
[ "$(od -An -tx1 -j100 -N3 "$T/v2.safetensors" | tr -d ' ')" = 414243 ] || fail "the version 2 journal's bytes were not put back"
[ ! -e "$T/v2.safetensors.cljournal" ] || fail "the version 2 journal was left after recovery"

# Another inode: the same bytes, moved over the file.
cp "$T/good.journal" "$JP"
cp "$T/ip.safetensors" "$T/ip.new"
mv "$T/ip.new" "$T/ip.safetensors"
run_agent ino recover "$T/ip.safetensors"
refused_alone ino "a journal for another inode" "another file" "$T/ip.safetensors" "$T/half"

# Another owner: the genuine journal, planted by user nobody (setpriv), or chowned to it.
rm -rf "$T/j"
mkdir "$T/j" "$T/pub"
cp "$L" "$T/j/ip.safetensors"
kill_after 5 unlock "$T/j/ip.safetensors" --in-place --license "$KEY" --fingerprint fp
cp "$T/j/ip.safetensors" "$T/jhalf"
mv "$T/j/ip.safetensors.cljournal" "$T/pub/journal"
chmod 0711 "$T"
chmod 0755 "$T/pub"
chmod 0644 "$T/pub/journal"
chmod 0777 "$T/j"
how=chown
if command -v setpriv > /dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups cp "$T/pub/journal" "$T/j/ip.safetensors.cljournal" 2> /dev/null; then
	how=setpriv
else
	cp "$T/pub/journal" "$T/j/ip.safetensors.cljournal"
	chown 65534:65534 "$T/j/ip.safetensors.cljournal"
fi
[ "$(stat -c %u "$T/j/ip.safetensors.cljournal")" = 65534 ] || fail "the planted journal is not owned by uid 65534"
run_agent own recover "$T/j/ip.safetensors"
refused_alone own "a journal of another owner ($how)" "not to you" "$T/j/ip.safetensors" "$T/jhalf"
# the same bytes as our own file are genuine: owner is the only thing wrong above
rm -f "$T/j/ip.safetensors.cljournal"
cp "$T/pub/journal" "$T/j/ip.safetensors.cljournal"
chmod 0600 "$T/j/ip.safetensors.cljournal"
run_agent own2 recover "$T/j/ip.safetensors"
expect_rc 0 own2 "recover with our own copy of that journal"
cmp -s "$T/j/ip.safetensors" "$L" || fail "our own copy of the journal did not roll back"
chmod 0700 "$T"
ok "refused with one line, file untouched: a version 1 journal, a bad MAC, another inode, another owner ($how); a version 2 journal under your key rolls back"

# ---- a genuine interrupted run still recovers, and the next unlock completes ----
cp "$L" "$T/ip2.safetensors"
kill_after 5 unlock "$T/ip2.safetensors" --in-place --license "$KEY" --fingerprint fp
run_agent rec2 recover "$T/ip2.safetensors"
expect_rc 0 rec2 "recover a genuine interrupted run"
grep -q "rolled back" "$T/rec2.err" || fail "recover said: $(cat "$T/rec2.err")"
cmp -s "$T/ip2.safetensors" "$L" || fail "the genuine journal did not give back the old bytes"
kill_after 5 unlock "$T/ip2.safetensors" --in-place --license "$KEY" --fingerprint fp
run_agent again unlock "$T/ip2.safetensors" --in-place --license "$KEY" --fingerprint fp
expect_rc 0 again "unlock after a crash"
grep -q "rolled back" "$T/again.err" || fail "no roll back before unlocking: $(cat "$T/again.err")"
cmp -s "$T/ip2.safetensors" "$T/big.safetensors" || fail "unlock after a crash != original"
ok "a genuine interrupted --in-place run recovers (recover, or the next unlock)"

# A state file that is a symbolic link is not read, and the new one replaces the link.
ln -sf "$T/victim/data" "$T/ip2.safetensors.clstate"
run_agent sl unlock "$T/ip2.safetensors" --in-place --license "$KEY" --fingerprint fp
expect_rc 0 sl "unlock beside a symlinked state file"
grep -q "ignoring.*symbolic link" "$T/sl.err" || fail "no note about the symlinked state file: $(cat "$T/sl.err")"
[ -f "$T/ip2.safetensors.clstate" ] && [ ! -L "$T/ip2.safetensors.clstate" ] || fail "the state file is still a link"
cmp -s "$T/victim/data" "$T/victim.copy" || fail "the state file's link target was written"
ok "a symlinked state file is ignored (one note) and replaced, its target untouched"

# ---- an in-place target that is a symbolic link is refused before anything is fetched ----
ln -s "$T/victim/data" "$T/link.safetensors"
run_agent lnk unlock "$T/link.safetensors" --in-place --license "$KEY" --fingerprint fp
refused_alone -2 lnk "--in-place on a symbolic link" "symbolic link" "$T/victim/data" "$T/victim.copy"
ok "--in-place on a symbolic link: usage error, the target untouched"
stop
