#!/bin/bash
# --in-place writes in proportion to the key.  A 64 MiB sharded F32 model
# locked at ratio 0.01, its full tier applied in place from a volume file
# (no download to store), in element and in neuron units; the agent's own
# /proc/PID/io is read as it exits (procio.py): wchar counts every byte it
# handed to write(2) and pwrite(2) (the pages that change, the undo journal,
# the state file), write_bytes the page-cache bytes it dirtied.
#  - the undo journal holds only the changed bytes (3 + L bytes a span):
#    <= 3 % of the model in both units (version 2's 16 + L was 5 % here);
#  - neuron units change whole rows, so the agent writes <= 5 % of the model;
#  - element units change one element every ~400 bytes, so every page of the
#    model changes and is written: reported, not bounded (no in-place write
#    can dirty less than the pages that change);
#  - each result is byte for byte the copy's (-o) and the original.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
IDX=model.safetensors.index.json
"$PY" "$MKMODEL" "$T/m" --shards 2 --mib 64 || fail "mkmodel"
MODEL=$(cat "$T/m"/* | wc -c)

# io FILE FIELD: a counter from a copy of /proc/PID/io
io() { sed -n "s/^$2: //p" "$1"; }

# check UNIT: lock at ratio 0.01 in UNIT, fetch the full tier's volume, unlock a copy and in place
check() {
	"$CTL" lock "$T/m/$IDX" -o "$T/l-$1" -k "$T/$1.clkey" --ratio 0.01 --unit "$1" > /dev/null || fail "lock $1"
	push "$1"
	tier "$1" full 0
	issue "$1" full
	post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\"}"
	expect 200 "activate ($1)"
	post_json /v1/key "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\",\"nonce\":\"n-$1\"}"
	expect 200 "volume ($1)"
	cp "$T/body" "$T/$1.clvol"
	rm -rf "$T/ip-$1" "$T/cp-$1"
	cp -r "$T/l-$1" "$T/ip-$1"
	sync "$T/ip-$1"/* # its pages clean: the agent's write_bytes are its own
	(
		unset CORELOCKER_SERVER
		# the journal, caught after the first span; then rolled back
		kill_after 1 unlock "$T/ip-$1/$IDX" --in-place --volume-file "$T/$1.clvol" --nonce "n-$1"
		stat -c %s "$T/ip-$1/$IDX.cljournal" > "$T/$1.jsize" || fail "no journal ($1)"
		run_agent "rec-$1" recover "$T/ip-$1/$IDX"
		expect_rc 0 "rec-$1" "recover ($1)"
		sync "$T/ip-$1"/*
		run_agent "cp-$1" unlock "$T/l-$1/$IDX" -o "$T/cp-$1" --volume-file "$T/$1.clvol" --nonce "n-$1"
		expect_rc 0 "cp-$1" "copy ($1)"
		RC=0
		"$PY" "$top_srcdir/tests/agent/procio.py" "$T/$1.io" "$AGENT" unlock "$T/ip-$1/$IDX" --in-place \
			--volume-file "$T/$1.clvol" --nonce "n-$1" > "$T/ip-$1.out" 2> "$T/ip-$1.err" || RC=$?
		expect_rc 0 "ip-$1" "in place ($1)"
	) || exit 1
	diff -r -x '*.clstate' "$T/ip-$1" "$T/cp-$1" > /dev/null || fail "in place != the copy ($1)"
	diff -r -x '*.clstate' "$T/ip-$1" "$T/m" > /dev/null || fail "in place != the original ($1)"
	RESTORED=$(sed -n 's/.* \([0-9]*\) bytes restored.*/\1/p' "$T/ip-$1.out")
	JOURNAL=$(cat "$T/$1.jsize")
	WCHAR=$(io "$T/$1.io" wchar)
	WB=$(io "$T/$1.io" write_bytes)
	[ -n "$RESTORED" ] && [ -n "$WCHAR" ] && [ -n "$WB" ] || fail "no figures ($1): $(cat "$T/ip-$1.out" "$T/$1.io")"
	# the counters are the agent's: it handed the kernel the journal and at least the restored bytes
	[ "$WCHAR" -ge $((RESTORED + JOURNAL)) ] || fail "wchar $WCHAR < $RESTORED bytes restored + the $JOURNAL-byte journal ($1)"
	[ "$JOURNAL" -ge "$RESTORED" ] || fail "the $JOURNAL-byte journal cannot hold the $RESTORED old bytes ($1)"
	[ $((JOURNAL * 100)) -le $((MODEL * 3)) ] || fail "$1: a $JOURNAL-byte journal, more than 3 % of the $MODEL-byte model"
}
# N/1000 of the model
permille() { echo "$(($1 * 1000 / MODEL))/1000"; }

check element
ok "element units, ratio 0.01: journal $JOURNAL bytes ($(permille "$JOURNAL") of $MODEL; $RESTORED restored); wrote $WCHAR bytes ($(permille "$WCHAR")), dirtied $(permille "$WB") in pages; == copy == original"
check neuron
[ $((WCHAR * 20)) -le "$MODEL" ] || fail "neuron: wrote $WCHAR bytes (wchar), more than 5 % of the $MODEL-byte model"
ok "neuron units, ratio 0.01: journal $JOURNAL bytes ($(permille "$JOURNAL")); wrote $WCHAR bytes ($(permille "$WCHAR") of $MODEL; $RESTORED restored), dirtied $(permille "$WB") in pages; == copy == original"
stop
