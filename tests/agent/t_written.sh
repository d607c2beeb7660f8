#!/bin/bash
# --in-place writes in proportion to the key, not the whole model.  The
# agent's own /proc/PID/io is read as it exits (procio.py): wchar counts
# every byte it handed to write(2) and pwrite(2) (the model's changed bytes,
# the undo journal, the state file); write_bytes the pages it dirtied.  A
# 64 MiB sharded F32 model locked at ratio 0.01, its full tier applied from
# a volume file (no download to store), in element and in neuron units:
# wchar <= 5 % of the model, and each result byte for byte the copy's (-o)
# and the original.
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
	WCHAR=$(io "$T/$1.io" wchar)
	WB=$(io "$T/$1.io" write_bytes)
	[ -n "$RESTORED" ] && [ -n "$WCHAR" ] && [ -n "$WB" ] || fail "no figures ($1): $(cat "$T/ip-$1.out" "$T/$1.io")"
	# the counters are the agent's: it handed the kernel at least the restored bytes
	[ "$WCHAR" -ge "$RESTORED" ] || fail "wchar $WCHAR < the $RESTORED bytes restored ($1)"
	[ $((WCHAR * 20)) -le "$MODEL" ] || fail "$1: wrote $WCHAR bytes (wchar), more than 5 % of the $MODEL-byte model"
}

# write_bytes is reported, not bounded: the page cache dirties whole folios
# (4 KiB pages, or larger folios for files written in big blocks), so with
# element units (a change every ~400 bytes) every page of the model is
# dirtied, and even whole rows (neuron units) dirty more than their bytes.
check element
ok "element units, ratio 0.01: wrote $WCHAR bytes ($((WCHAR * 1000 / MODEL))/1000 of $MODEL; $RESTORED restored); dirtied $((WB * 100 / MODEL)) % in pages; == copy == original"
check neuron
ok "neuron units, ratio 0.01: wrote $WCHAR bytes ($((WCHAR * 1000 / MODEL))/1000 of $MODEL; $RESTORED restored); dirtied $((WB * 100 / MODEL)) % in pages; == copy == original"
stop
