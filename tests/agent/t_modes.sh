#!/bin/bash
# File modes: an unlocked model is the secret a license protects, so the
# agent writes it 0600 (a new sharded folder 0700) whatever the umask,
# unless --mode says otherwise; --in-place keeps the stricter of the file's
# mode and that one.  corelockerctl unlock writes 0600 too, lock keeps the
# (public) locked model 0644 and its key 0600.
. "$top_srcdir/tests/agent/common.sh"

# mode PATH: the permission bits, in octal
mode() { stat -c %a "$1"; }
# expect_mode WANT PATH WHAT
expect_mode() {
	local got
	got=$(mode "$2")
	[ "$got" = "$1" ] || fail "$3: mode $got, expected $1"
}

agent_setup
umask 022 # the usual umask: it alone would give 0644 files and 0755 folders
mk m 0.05 1
push m
tier m basic 0.02
issue m basic '"max_machines":1'
L=$T/m.locked.safetensors
expect_mode 644 "$L" "corelockerctl lock: the locked model (public)"
expect_mode 600 "$T/m.clkey" "corelockerctl lock: the key"

run_agent u1 unlock "$L" -o "$T/one.safetensors" --license "$KEY" --fingerprint fp
expect_rc 0 u1 "unlock"
expect_mode 600 "$T/one.safetensors" "agent unlock, single file"
run_agent u2 unlock "$L" -o "$T/two.safetensors" --mode 0640 --license "$KEY" --fingerprint fp
expect_rc 0 u2 "unlock --mode 0640"
expect_mode 640 "$T/two.safetensors" "agent unlock --mode 0640"
(
	umask 077 # --mode is exact: the umask does not narrow it either
	run_agent u3 unlock "$L" -o "$T/three.safetensors" --mode 644 --license "$KEY" --fingerprint fp
	expect_rc 0 u3 "unlock --mode 644 under umask 077"
	expect_mode 644 "$T/three.safetensors" "agent unlock --mode 644 under umask 077"
)
ok "single file: 0600 by default under umask 022; --mode 0640 and 644 (under umask 077) exactly"

# ---- in place: the stricter of the file's mode and the requested one ----
for c in 644:-:600 640:0604:600 640:0644:640 600:0644:600 604:0660:600; do
	was=${c%%:*} rest=${c#*:}
	want=${rest#*:} m=${rest%%:*}
	f=$T/ip-$was-$m.safetensors
	cp "$L" "$f"
	chmod "$was" "$f"
	opt=()
	[ "$m" != - ] && opt=(--mode "$m")
	run_agent "ip-$was" unlock "$f" --in-place "${opt[@]}" --license "$KEY" --fingerprint fp
	expect_rc 0 "ip-$was" "in place, file $was, mode $m"
	expect_mode "$want" "$f" "in place: a $was file with --mode $m"
done
ok "in place: 644 -> 600 by default; 640 & 0604 -> 600; 640 & 0644 -> 640; 600 & 0644 -> 600; 604 & 0660 -> 600"

# ---- sharded: the folder and every file ----
"$PY" "$MKMODEL" "$T/sh" --shards 2 --mib 1 || fail "mkmodel"
IDX=model.safetensors.index.json
"$CTL" lock "$T/sh/$IDX" -o "$T/shl" -k "$T/sh.clkey" --ratio 0.05 > /dev/null || fail "lock sharded"
expect_mode 755 "$T/shl" "corelockerctl lock: a sharded locked folder (public)"
push sh
tier sh basic 0.02
issue sh basic
run_agent s1 unlock "$T/shl/$IDX" -o "$T/sout" --license "$KEY" --fingerprint fp
expect_rc 0 s1 "unlock sharded"
expect_mode 700 "$T/sout" "agent unlock: the sharded folder"
n=0
for f in "$T"/sout/*; do
	expect_mode 600 "$f" "agent unlock: $(basename "$f")"
	n=$((n + 1))
done
[ "$n" = 3 ] || fail "the sharded output holds $n files, not the index and 2 shards"
run_agent s2 unlock "$T/shl/$IDX" -o "$T/sout2" --mode 0640 --license "$KEY" --fingerprint fp
expect_rc 0 s2 "unlock sharded --mode 0640"
expect_mode 750 "$T/sout2" "agent unlock --mode 0640: the sharded folder"
for f in "$T"/sout2/*; do expect_mode 640 "$f" "agent unlock --mode 0640: $(basename "$f")"; done
ok "sharded: folder 0700 and files 0600; with --mode 0640 folder 0750 and files 0640"

# ---- corelockerctl unlock: the owner's restore is a secret as well ----
"$CTL" unlock "$L" -k "$T/m.clkey" --tier-ratio 0.02 -o "$T/ctl.safetensors" > /dev/null || fail "ctl unlock"
expect_mode 600 "$T/ctl.safetensors" "corelockerctl unlock"
"$CTL" unlock "$T/shl/$IDX" -k "$T/sh.clkey" -o "$T/ctlsh" > /dev/null || fail "ctl unlock sharded"
expect_mode 700 "$T/ctlsh" "corelockerctl unlock: the sharded folder"
for f in "$T"/ctlsh/*; do expect_mode 600 "$f" "corelockerctl unlock: $(basename "$f")"; done
ok "corelockerctl: locked 0644 and key 0600; unlock 0600 (a sharded folder 0700)"

# ---- a bad --mode is a usage error, and nothing is written ----
for bad in 999 0o644 1777 rw ''; do
	run_agent bm unlock "$L" -o "$T/bad.safetensors" --mode "$bad" --license "$KEY" --fingerprint fp
	refused 2 bm "--mode '$bad'"
	grep -q -- "--mode" "$T/bm.err" || fail "--mode '$bad': $(cat "$T/bm.err")"
done
[ ! -e "$T/bad.safetensors" ] || fail "a refused --mode wrote the output"
ok "--mode 999, 0o644, 1777, rw and '' are refused (exit 2, one line)"
stop
