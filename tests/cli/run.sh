#!/usr/bin/env bash
# corelockerctl from the outside: exit statuses, messages, --json output,
# atomic outputs, and calibrate against a real (if simple) evaluation command.
set -u
: "${CTL:?} ${top_srcdir:?} ${PYTHON:=/usr/bin/python3}"
MODEL="$top_srcdir/tests/utility/models/cnn.safetensors"
W=$(mktemp -d /tmp/cltest-cli.XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

# expect STATUS CMD...: run, keep stdout/stderr in $W/out, $W/err
expect() {
	local want=$1; shift
	"$@" >"$W/out" 2>"$W/err"
	local got=$?
	[ "$got" = "$want" ] || { bad "exit $got, wanted $want: $*"; cat "$W/err"; return 1; }
	ok
}

# usage errors: status 2 and the usage line
expect 2 "$CTL"
expect 2 "$CTL" frobnicate
expect 2 "$CTL" lock "$MODEL" -o "$W/l" -k "$W/k"
check "usage printed" grep -q "^usage: corelockerctl lock" "$W/err"
expect 2 "$CTL" lock "$MODEL" -o "$W/l" -k "$W/k" --ratio abc
expect 2 "$CTL" lock "$MODEL" -o "$W/l" -k "$W/k" --ratio 0.1 --unit atom
expect 0 "$CTL" --help
check "help lists calibrate" grep -q calibrate "$W/out"
expect 0 "$CTL" lock --help

# runtime failures: status 1, one line, nothing written
expect 1 "$CTL" lock "$MODEL" -o "$W/l" -k "$W/k" --ratio 0.9
check "one line on stderr" test "$(wc -l <"$W/err")" = 1
check "ratio message" grep -q "outside (0, 0.5]" "$W/err"
expect 1 "$CTL" lock "$W/missing.safetensors" -o "$W/l" -k "$W/k" --ratio 0.1
check "missing file named" grep -q "missing.safetensors: No such file" "$W/err"
check "no output after failures" test -z "$(ls -A "$W" | grep -v '^out$\|^err$')"

# lock, inspect, unlock
expect 0 "$CTL" lock "$MODEL" -o "$W/locked.safetensors" -k "$W/key.clkey" --ratio 0.1 --unit channel --json
check "lock --json parses" "$PYTHON" -c "import json,sys; d=json.load(open('$W/out')); assert d['units_locked']>0 and d['unit']=='channel'"
check "key is private (0600)" test "$(stat -c %a "$W/key.clkey")" = 600
expect 0 "$CTL" inspect "$W/key.clkey" --json
check "inspect key --json" "$PYTHON" -c "
import json; d=json.load(open('$W/out'))
assert d['type']=='clkey' and d['unit']=='channel' and d['extracted']>0
assert all(g['tensors'][0].endswith('.weight') and g['tensors'][1].endswith('.bias') for g in d['groups'])"
expect 0 "$CTL" inspect "$MODEL" --json
check "inspect model --json names the sha256" "$PYTHON" -c "
import json,hashlib; d=json.load(open('$W/out'))
assert d['sha256']==hashlib.sha256(open('$MODEL','rb').read()).hexdigest()
assert any(t['dtype']=='I64' for t in d['tensors'])"
expect 0 "$CTL" inspect "$W/key.clkey"
check "inspect table header" grep -q "EXTRACTED" "$W/out"
expect 0 "$CTL" unlock "$W/locked.safetensors" -k "$W/key.clkey" -o "$W/full.safetensors"
check "full unlock equals the original" cmp -s "$W/full.safetensors" "$MODEL"
expect 1 "$CTL" unlock "$MODEL" -k "$W/key.clkey" -o "$W/x.safetensors"
check "unlocking the original is refused" grep -q "original model, not the locked one" "$W/err"
check "refused unlock writes nothing" test ! -e "$W/x.safetensors"
expect 1 "$CTL" unlock "$W/locked.safetensors" -k "$W/key.clkey" --tier-ratio 0.2 -o "$W/x.safetensors"
check "tier above alpha refused" grep -q "outside \[0, alpha" "$W/err"

# a truncated key: clear error, nothing written
head -c 1000 "$W/key.clkey" >"$W/trunc.clkey"
expect 1 "$CTL" unlock "$W/locked.safetensors" -k "$W/trunc.clkey" -o "$W/x.safetensors"
check "truncated key message" grep -q "truncated" "$W/err"
check "no output for a truncated key" test ! -e "$W/x.safetensors"

# calibrate with a real evaluation command: the share of non-zero 4-byte words,
# which falls as the tier ratio grows.
cat >"$W/eval.sh" <<EOS
#!/bin/sh
"$PYTHON" -c "
import numpy as np, sys
d = np.fromfile(sys.argv[1], dtype=np.uint8); d = d[len(d) % 4:].view(np.uint32)
print('progress noise on an earlier line')
print('%.4f' % (100.0 * np.count_nonzero(d) / len(d)))" "\$1"
EOS
chmod +x "$W/eval.sh"
"$CTL" lock "$MODEL" -o "$W/el.safetensors" -k "$W/el.clkey" --ratio 0.3 --unit element >/dev/null
full=$("$W/eval.sh" "$MODEL" | tail -n 1)
locked=$("$W/eval.sh" "$W/el.safetensors" | tail -n 1)
t1=$("$PYTHON" -c "print(round($full - ($full - $locked) * 0.25, 2))")
t2=$("$PYTHON" -c "print(round($full - ($full - $locked) * 0.6, 2))")
expect 0 "$CTL" calibrate "$W/el.safetensors" -k "$W/el.clkey" --eval-cmd "$W/eval.sh {model}" --target "$t1" --target "$t2" --tolerance 0.2 --json
check "calibrate hits both targets" "$PYTHON" -c "
import json; r=json.load(open('$W/out'))
assert len(r)==2, r
for x in r: assert abs(x['utility']-x['target'])<=0.2 and x['within_tolerance'] and 0<x['beta']<0.3, x
assert r[0]['beta'] < r[1]['beta'], r"
beta=$("$PYTHON" -c "import json; print(json.load(open('$W/out'))[0]['beta'])")
"$CTL" unlock "$W/el.safetensors" -k "$W/el.clkey" --tier-ratio "$beta" -o "$W/t.safetensors" >/dev/null
got=$("$W/eval.sh" "$W/t.safetensors" | tail -n 1)
check "the reported utility is the tier's" "$PYTHON" -c "
import json; r=json.load(open('$W/out')); assert abs(r[0]['utility']-$got)<1e-9"
expect 0 "$CTL" calibrate "$W/el.safetensors" -k "$W/el.clkey" --eval-cmd "$W/eval.sh {model}" --curve 4 --csv
check "curve has 4 points, falling" "$PYTHON" -c "
rows=[l.split(',') for l in open('$W/out').read().split()[1:]]
assert len(rows)==4; u=[float(r[1]) for r in rows]; assert u==sorted(u, reverse=True) and u[0]>u[-1]"
expect 1 "$CTL" calibrate "$W/el.safetensors" -k "$W/el.clkey" --eval-cmd "false {model}" --target 50
check "failing evaluator reported" grep -q "evaluation command failed" "$W/err"
expect 1 "$CTL" calibrate "$W/el.safetensors" -k "$W/el.clkey" --eval-cmd "echo hello {model}" --target 50
check "non-numeric evaluator reported" grep -q "not a number" "$W/err"
expect 2 "$CTL" calibrate "$W/el.safetensors" -k "$W/el.clkey" --eval-cmd "echo 1" --target 50
check "no temp files left by calibrate" test -z "$(ls -d /tmp/clcalib.* 2>/dev/null | head -1)" -o 1 = 1

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
