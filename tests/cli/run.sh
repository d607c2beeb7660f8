#!/usr/bin/env bash
# corelockerctl from the outside: exit statuses, messages, --json output,
# atomic outputs, and calibrate against a real (if simple) evaluation command.
set -u
. "${top_srcdir:?}/tests/cli/common.sh" cli

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
# every option of the table has its line with a description (issue 16, item 7)
for o in "-o, --output LOCKED" "-k, --key KEY" "--ratio A" "--unit UNIT" "--scope SCOPE" "--include RE" \
	"--exclude RE" "--select HOW" "--seed N" "--target-utility U" "--eval-cmd CMD" "--max-ratio A" \
	"--allow-whole-tensor" "--attack-cmd CMD" "--max-attack A" "--fill FILL" "--json" "--quiet"; do
	check "lock --help describes $o" grep -Eq "^  $o +[a-z]" "$W/out"
done
expect 0 "$CTL" unlock --help
check "unlock --help describes --tier-ratio" grep -Eq '^  --tier-ratio B +restore the tier' "$W/out"
expect 0 "$CTL" inspect --help
for o in "-k, --key KEY" "--json"; do
	check "inspect --help describes $o" grep -Eq "^  $o +[a-z]" "$W/out"
done
expect 0 "$CTL" calibrate --help
for o in "-k, --key KEY" "--eval-cmd CMD" "--target U" "--tolerance T" "--curve N" "--csv" "--json" "-q, --quiet"; do
	check "calibrate --help describes $o" grep -Eq "^  $o +[a-z]" "$W/out"
done
expect 2 "$CTL" calibrate "$MODEL" --bogus
check "calibrate's unknown option is a usage error" grep -q "^usage: corelockerctl calibrate" "$W/err"
# an out-of-range value is a usage error too (issue 16, item 7)
expect 2 "$CTL" lock "$MODEL" -o "$W/l" -k "$W/k" --ratio 0.9
check "ratio message" grep -q "^corelockerctl: --ratio 0.9 is outside (0, 0.5]" "$W/err"
check "ratio usage line" grep -q "^usage: corelockerctl lock" "$W/err"
expect 2 "$CTL" lock "$MODEL" -o "$W/l" -k "$W/k" --ratio 0
expect 2 "$CTL" lock "$MODEL" -o "$W/l" -k "$W/k" --ratio -0.1
# --fill: an unknown name is a usage error, one message line naming the fills; nothing written
expect 2 "$CTL" lock "$MODEL" -o "$W/l" -k "$W/k" --ratio 0.1 --fill negate
check "fill message" grep -q "^corelockerctl: unknown --fill 'negate' (zero, resample or flip)$" "$W/err"
check "fill: one message line" test "$(grep -c '^corelockerctl:' "$W/err")" = 1
check "fill: nothing written" test ! -e "$W/l" -a ! -e "$W/k"
# every fill locks, says so in the key, and unlocks to the original
for f in zero resample flip; do
	expect 0 "$CTL" lock "$MODEL" -o "$W/fl" -k "$W/fk" --ratio 0.1 --fill $f
	expect 0 "$CTL" inspect "$W/fk" --json
	check "key of --fill $f names it" grep -q "\"fill\": *\"$f\"" "$W/out"
	expect 0 "$CTL" unlock "$W/fl" -k "$W/fk" -o "$W/fu"
	check "--fill $f: full unlock is the original" cmp -s "$W/fu" "$MODEL"
	rm -f "$W/fl" "$W/fk" "$W/fu"
done
expect 2 "$CTL" unlock "$MODEL" -k "$W/k" -o "$W/l" --tier-ratio 0.6
check "tier-ratio message" grep -q "tier-ratio 0.6 is outside \[0, 0.5\]" "$W/err"

# runtime failures: status 1, one line, nothing written
expect 1 "$CTL" lock "$W/missing.safetensors" -o "$W/l" -k "$W/k" --ratio 0.1
check "one line on stderr" test "$(wc -l <"$W/err")" = 1
check "missing file named" grep -q "missing.safetensors: No such file" "$W/err"
# not a model at all: say so, and what a model is (issue 16, item 6)
printf '# notes\n\nnot a model\n' > "$W/README.md"
expect 1 "$CTL" lock "$W/README.md" -o "$W/l" -k "$W/k" --ratio 0.1
check "README.md: one line" test "$(wc -l <"$W/err")" = 1
check "README.md: not a safetensors file" grep -q "README.md: not a safetensors file (expected an 8-byte little-endian header length, then a JSON header)" "$W/err"
printf '{"model_type": "cnn"}\n' > "$W/config.json"
expect 1 "$CTL" lock "$W/config.json" -o "$W/l" -k "$W/k" --ratio 0.1
check "config.json: not a sharded index" grep -q "config.json: not a sharded safetensors index" "$W/err"
rm -f "$W/README.md" "$W/config.json"
# a missing CA file is named as such, before any connection (issue 16, item 7)
CORELOCKER_TOKEN=t expect 2 "$CTL" model list --server https://127.0.0.1:1 --cacert "$W/no-ca.pem"
check "CA file message" grep -q "^corelockerctl: cannot read CA file $W/no-ca.pem: No such file or directory" "$W/err"
check "not reported as untrusted" test -z "$(grep 'not trusted' "$W/err")"
check "no output after failures" test -z "$(ls -A "$W" | grep -v '^out$\|^err$')"

# lock, inspect, unlock
expect 0 "$CTL" lock "$MODEL" -o "$W/locked.safetensors" -k "$W/key.clkey" --ratio 0.1 --unit channel --json
check "lock --json parses" "$PYTHON" -c "import json,sys; d=json.load(open('$W/out')); assert d['units_locked']>0 and d['unit']=='channel'"
check "key is private (0600)" test "$(stat -c %a "$W/key.clkey")" = 600
expect 0 "$CTL" inspect "$W/key.clkey" --json
check "inspect key --json" "$PYTHON" -c "
import json; d=json.load(open('$W/out'))
assert d['type']=='clkey' and d['unit']=='channel' and d['extracted']>0
assert d['version']==3 and all(g['index_bytes']==max(1, ((g['units']-1).bit_length()+7)//8) for g in d['groups'])
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
# a step-shaped curve: target 50 falls in its jump, which calibrate must locate
mid=$("$PYTHON" -c "print(($full + $locked) / 2)")
cat >"$W/step.sh" <<EOS
#!/bin/sh
u=\$("$W/eval.sh" "\$1" | tail -n 1)
"$PYTHON" -c "print(90 if \$u > $mid else 10)"
EOS
chmod +x "$W/step.sh"
expect 0 "$CTL" calibrate "$W/el.safetensors" -k "$W/el.clkey" --eval-cmd "$W/step.sh {model}" --target 50 --target 95 --json
check "a target in a jump is located between two measured tiers" "$PYTHON" -c "
import json; r=json.load(open('$W/out'))
j, o = r
assert not j['within_tolerance'] and j['utility'] in (10, 90), j
(a, b) = j['bracket']
assert a['utility']==90 and b['utility']==10 and 0 < b['beta']-a['beta'] < 0.3*1e-3, j
assert not o['within_tolerance'] and o['bracket'][0]['utility']==90 and o['bracket'][0]['beta']==0, o"
expect 0 "$CTL" calibrate "$W/el.safetensors" -k "$W/el.clkey" --eval-cmd "$W/step.sh {model}" --target 50 --target 95
check "the table names the jump" grep -q "target falls in a jump: 90 at beta .*, 10 at beta" "$W/out"
check "the table names a target outside the curve" grep -q "target outside the curve" "$W/out"
mkdir "$W/tmp"
expect 1 env TMPDIR="$W/tmp" "$CTL" calibrate "$W/el.safetensors" -k "$W/el.clkey" --eval-cmd "false {model}" --target 50
check "failing evaluator reported" grep -q "evaluation command failed" "$W/err"
expect 1 env TMPDIR="$W/tmp" "$CTL" calibrate "$W/el.safetensors" -k "$W/el.clkey" --eval-cmd "echo hello {model}" --target 50
check "non-numeric evaluator reported" grep -q "not a number" "$W/err"
expect 2 "$CTL" calibrate "$W/el.safetensors" -k "$W/el.clkey" --eval-cmd "echo 1" --target 50
check "no temp files left by calibrate" test -z "$(ls -A "$W/tmp")"

# lock --target-utility: the search's every claim is re-measured here by a
# direct lock with the same evaluator (monotone in the count of zeroed words).
A="$W/auto"
mkdir "$A"
util() { "$W/eval.sh" "$1" | tail -n 1; }
expect 0 "$CTL" lock "$MODEL" -o "$A/l.safetensors" -k "$A/k.clkey" --target-utility 95 \
	--eval-cmd "$W/eval.sh {model}" --json
cp "$W/out" "$A/search.json"
check "search leaves only its two outputs" test "$(ls -A "$A" | tr '\n' ' ')" = "k.clkey l.safetensors search.json "
check "search --json: chosen is the smallest reaching key, at or below the target" "$PYTHON" -c "
import json; d=json.load(open('$A/search.json'))
reached=[s for s in d['settings'] if s['result']=='reached']
assert reached and d['original_utility']>95 and d['utility']<=95, d
best=min(reached, key=lambda s: s['key_bytes'])
assert best['chosen'] and sum(s['chosen'] for s in d['settings'])==1, d
c=d['chosen']; assert (c['unit'],c['scope'],c['ratio'])==(best['unit'],best['scope'],best['ratio']), d
assert c['key_bytes']==best['key_bytes'] and d['utility']==best['utility'], d
assert all(s['lowest_utility']>95 for s in d['settings'] if s['result'] in ('pruned','not_reached') and s['evals'])
assert any(s['result']!='reached' for s in d['settings']), d
"
# every reached row, and the chosen outputs, against direct locks
"$PYTHON" -c "
import json; d=json.load(open('$A/search.json'))
for s in d['settings']:
    if s['result']=='reached': print(s['unit'], s['scope'], repr(s['ratio']), repr(s['utility']), s['key_bytes'], int(s['chosen']))
" >"$A/rows"
check "at least two settings reached" test "$(wc -l <"$A/rows")" -ge 2
while read -r unit scope ratio u kb chosen; do
	"$CTL" lock "$MODEL" -o "$A/d.safetensors" -k "$A/d.clkey" --unit "$unit" --scope "$scope" --ratio "$ratio" >/dev/null
	check "$unit/$scope: reported utility is the direct lock's" test "$(util "$A/d.safetensors")" = "$("$PYTHON" -c "print('%.4f' % $u)")"
	check "$unit/$scope: reported key size is the direct lock's" test "$(stat -c %s "$A/d.clkey")" = "$kb"
	smaller=$("$PYTHON" -c "print($ratio / 1.03)")
	"$CTL" lock "$MODEL" -o "$A/s.safetensors" -k "$A/s.clkey" --unit "$unit" --scope "$scope" --ratio "$smaller" >/dev/null
	check "$unit/$scope: 3% below the ratio found, the target is not reached" "$PYTHON" -c "assert $(util "$A/s.safetensors") > 95"
	if [ "$chosen" = 1 ]; then
		check "the chosen lock is byte-identical to a direct lock" cmp -s "$A/d.safetensors" "$A/l.safetensors"
		check "the chosen key is byte-identical to a direct lock's" cmp -s "$A/d.clkey" "$A/k.clkey"
	fi
done <"$A/rows"
rm -f "$A"/*
expect 0 "$CTL" lock "$MODEL" -o "$A/n.safetensors" -k "$A/n.clkey" --target-utility 95 \
	--eval-cmd "$W/eval.sh {model}" --unit element --scope layer
check "--unit/--scope restrict the search to one setting" test "$(grep -c '^element  *layer  *[0-9]' "$W/out")" = 1
check "... and nothing else is tried" test "$(grep -Ec '^(neuron|channel) |global' "$W/out")" = 0
check "the table names the chosen setting" grep -q "chosen: --unit element --scope layer --ratio" "$W/out"
rm -f "$A"/n.*
expect 1 "$CTL" lock "$MODEL" -o "$A/x.safetensors" -k "$A/x.clkey" --target-utility 50 \
	--eval-cmd "$W/eval.sh {model}" --unit element --max-ratio 0.01
check "unreachable target: one clear line" grep -q "no setting brings the utility to 50 or below within --max-ratio 0.01" "$W/err"
expect 1 "$CTL" lock "$MODEL" -o "$A/x.safetensors" -k "$A/x.clkey" --target-utility 99.99 --eval-cmd "$W/eval.sh {model}"
check "target above the original refused" grep -q "already scores 99.98.*at or below --target-utility 99.99" "$W/err"
expect 1 "$CTL" lock "$MODEL" -o "$A/x.safetensors" -k "$A/x.clkey" --target-utility 95 --eval-cmd "false {model}"
check "failing evaluator reported by lock" grep -q "evaluation command failed" "$W/err"
# a SIGTERM in the middle of the search leaves nothing behind
"$CTL" lock "$MODEL" -o "$A/x.safetensors" -k "$A/x.clkey" --target-utility 95 \
	--eval-cmd "sleep 1; $W/eval.sh {model}" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do [ -n "$(ls -A "$A" | grep corelocker-search)" ] && break; sleep 0.1; done
sleep 1.5
kill -TERM "$pid"
wait "$pid"
check "killed search exits non-zero" test $? != 0
check "no outputs and no search directory after failures" test -z "$(ls -A "$A")"
# the whole-tensor guard: a tiny tensor of huge weights is what global scope
# takes first, so every element/global lock past 8 units wipes it
"$PYTHON" - "$A/wipe.safetensors" <<'EOP'
import json, struct, sys, numpy as np
rng = np.random.default_rng(7)
t = {"a.weight": np.full((2, 4), 1000.0, np.float32) + rng.random((2, 4), np.float32),
     "b.weight": rng.standard_normal((100, 100)).astype(np.float32)}
hdr, data, off = {}, b"", 0
for k, v in t.items():
    hdr[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + v.nbytes]}
    data += v.tobytes(); off += v.nbytes
h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)
EOP
expect 0 "$CTL" lock "$A/wipe.safetensors" -o "$A/w.safetensors" -k "$A/w.clkey" --target-utility 99 \
	--eval-cmd "$W/eval.sh {model}" --unit element --json
check "guarded search: element/global stops where it wipes a tensor; the chosen lock wipes none" "$PYTHON" -c "
import json; d=json.load(open('$W/out')); s={x['scope']: x for x in d['settings']}
assert s['global']['result']=='whole_tensor' and d['chosen']['scope']!='global', d
assert d['utility'] <= 99 and s[d['chosen']['scope']]['result']=='reached', d"
expect 0 "$CTL" inspect "$A/w.clkey" --json
check "the chosen key extracts part of each tensor" "$PYTHON" -c "
import json; d=json.load(open('$W/out')); assert all(g['extracted'] < g['finite'] for g in d['groups']), d"
rm -f "$A"/w.*
expect 0 "$CTL" lock "$A/wipe.safetensors" -o "$A/w.safetensors" -k "$A/w.clkey" --target-utility 99 \
	--eval-cmd "$W/eval.sh {model}" --unit element --scope global --allow-whole-tensor --json
check "--allow-whole-tensor accepts the wiping lock" "$PYTHON" -c "
import json; d=json.load(open('$W/out')); assert d['settings'][0]['result']=='reached' and d['chosen']['scope']=='global', d"
expect 1 "$CTL" lock "$A/wipe.safetensors" -o "$A/c.safetensors" -k "$A/c.clkey" --target-utility 99 \
	--eval-cmd "$W/eval.sh {model}" --unit channel
check "no batch norm: every channel setting has nothing to extract, nothing is written" \
	test "$(grep -c '^channel .*nothing to extract$' "$W/out")" = 3 -a ! -e "$A/c.clkey" -a ! -e "$A/c.safetensors"
rm -f "$A"/w.* "$A"/wipe.*
# {model} is quoted for the shell: a path with a quote and $(...) is passed as
# it is (the command runs in $A, where a broken quoting would create "pwned")
Q="$A/it's \$(touch pwned).safetensors"
cp "$MODEL" "$Q"
expect 0 env -C "$A" "$CTL" lock "$Q" -o "$A/q.safetensors" -k "$A/q.clkey" --target-utility 95 \
	--eval-cmd "$W/eval.sh {model}" --unit neuron --scope global
check "a quote and \$(...) in the model's path reach the evaluator unharmed" test ! -e "$A/pwned"
rm -f "$Q" "$A"/q.*
expect 2 "$CTL" lock "$MODEL" -o "$A/x" -k "$A/y" --ratio 0.1 --allow-whole-tensor
expect 2 "$CTL" lock "$MODEL" -o "$A/x" -k "$A/y" --ratio 0.1 --target-utility 12 --eval-cmd "e {model}"
expect 2 "$CTL" lock "$MODEL" -o "$A/x" -k "$A/y" --target-utility 12
expect 2 "$CTL" lock "$MODEL" -o "$A/x" -k "$A/y" --target-utility 12 --eval-cmd "no placeholder"
expect 2 "$CTL" lock "$MODEL" -o "$A/x" -k "$A/y" --ratio 0.1 --unit auto
expect 2 "$CTL" lock "$MODEL" -o "$A/x" -k "$A/y" --target-utility 12 --eval-cmd "e {model}" --max-ratio 0.6
expect 0 "$CTL" lock "$MODEL" -o "$A/x" -k "$A/y" --ratio 0.01 --json
check "the default setting is element/global" "$PYTHON" -c "
import json; d=json.load(open('$W/out')); assert (d['unit'], d['scope'])==('element','global'), d"

# kill -9 in the middle of a lock: the outputs' temp files are unnamed
# (O_TMPFILE) until commit, so no temp file is left behind
K="$W/kill"
mkdir "$K"
"$PYTHON" "$top_srcdir/tests/agent/mkmodel.py" "$W/big.safetensors" --mib 96 >/dev/null
killed=0
for delay in 0.2 0.5 0.8 1.2; do
	"$CTL" lock "$W/big.safetensors" -o "$K/l.safetensors" -k "$K/k.clkey" --ratio 0.05 >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
	left=$(ls -A "$K" | tr '\n' ' ')
	# the key lands first, so a kill between the two commits may leave it alone
	check "kill -9 after ${delay}s of a lock leaves no temp file, no locked model without its key ($left)" \
		test -z "$left" -o "$left" = "k.clkey " -o "$left" = "k.clkey l.safetensors "
	rm -f "$K"/* "$K"/.??* 2>/dev/null
done
check "at least two kills landed while the lock ran" test "$killed" -ge 2

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
