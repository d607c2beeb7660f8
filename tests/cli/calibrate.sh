#!/usr/bin/env bash
# calibrate and lock --target-utility (also with --max-attack) on any metric and on discrete units,
# their progress lines, and inspect -k.  The evaluators compute their metric
# from the model file (the share of non-zero 4-byte words, as a fraction, a
# percent, or a perplexity-like number where lower is better), so every
# expected value below is computed by running them, never written in.
set -u
. "${top_srcdir:?}/tests/cli/common.sh" calib
OTHER="$top_srcdir/tests/utility/models/mlp.safetensors"
py() { "$PYTHON" -c "$@"; }
g() { py "print('%g' % $1)"; } # as the C side prints it

cat >"$W/metric.py" <<'EOP'
import math, sys
import numpy as np
kind, path = sys.argv[1], sys.argv[2]
d = np.fromfile(path, dtype=np.uint8); d = d[len(d) % 4:].view(np.uint32)
f = np.count_nonzero(d) / len(d)
print("loading", path)  # noise before the last line
print({"fraction": "%.6f" % f, "percent": "%.4f" % (100 * f),
       "perplexity": "%.4f" % math.exp(5000 * (1 - f)), "attack": "%.4f" % (1000 * f)}[kind])
EOP
for kind in fraction percent perplexity attack; do
	printf '#!/bin/sh\nexec "%s" "%s" %s "$1"\n' "$PYTHON" "$W/metric.py" "$kind" >"$W/$kind.sh"
	chmod +x "$W/$kind.sh"
done
m() { "$W/$1.sh" "$2" | tail -n 1; }

# A key of channel units: a few dozen, so every tier is a whole count of them.
expect 0 "$CTL" lock "$MODEL" -o "$W/locked.safetensors" -k "$W/key.clkey" --ratio 0.1 --unit channel --scope global --json
read -r FINITE COUNT < <(py "import json; d=json.load(open('$W/out')); print(d['units_total'], d['units_locked'])")
check "the key has a few dozen units" test "$COUNT" -ge 8 -a "$COUNT" -le 100
# tier N: the tier that keeps N units locked (N / FINITE is the middle of its ratios)
tier() { "$CTL" unlock "$W/locked.safetensors" -k "$W/key.clkey" --tier-ratio "$(py "print($1 / $FINITE)")" -o "$2" >/dev/null; }
H=$((COUNT / 2))
tier "$H" "$W/t$H.safetensors"
tier $((H - 1)) "$W/t$((H - 1)).safetensors"

# 1. fraction (0-1): ends read from the measurement, tolerance 1.5 % of the span
F_FULL=$(m fraction "$MODEL") F_LOCKED=$(m fraction "$W/locked.safetensors") F_H=$(m fraction "$W/t$H.safetensors")
T=$(py "print($F_H + 0.004 * ($F_FULL - $F_LOCKED))") # near tier H, within the default tolerance of it
OUT_HI=$(py "print($F_FULL + ($F_FULL - $F_LOCKED))") OUT_LO=$(py "print($F_LOCKED - ($F_FULL - $F_LOCKED))")
expect 0 "$CTL" calibrate "$W/locked.safetensors" -k "$W/key.clkey" --eval-cmd "$W/fraction.sh {model}" \
	--target "$T" --target "$OUT_HI" --target "$OUT_LO" --json
cp "$W/out" "$W/fraction.json"
cp "$W/err" "$W/fraction.err"
check "fraction: direction and default tolerance come from the ends" py "
import json; r=json.load(open('$W/fraction.json')); span=abs($F_FULL-$F_LOCKED)
assert all(x['higher_is_better'] and abs(x['tolerance']-0.015*span) < 1e-12 for x in r), r
x=r[0]; assert x['result']=='within_tolerance' and x['within_tolerance'] and abs(x['utility']-$T) <= 0.015*span, x
assert 0 < x['units_locked'] < $COUNT, x"
check "fraction: targets beyond either end are reported outside, never within tolerance" py "
import json; r=json.load(open('$W/fraction.json'))
for x in r[1:]: assert x['result']=='outside' and not x['within_tolerance'] and x['evals']==0, x
assert r[1]['units_locked']==0 and r[1]['utility']==$F_FULL and r[2]['units_locked']==$COUNT and r[2]['utility']==$F_LOCKED, r
b=r[1]['bracket']; assert (b[0]['utility'], b[1]['utility'])==($F_FULL, $F_LOCKED), b"
read -r BETA UNITS U < <(py "import json; x=json.load(open('$W/fraction.json'))[0]; print(repr(x['beta']), x['units_locked'], repr(x['utility']))")
"$CTL" unlock "$W/locked.safetensors" -k "$W/key.clkey" --tier-ratio "$BETA" -o "$W/found.safetensors" >"$W/unlock.out"
check "the reported beta restores the reported units" grep -q "^restored $((COUNT - UNITS)) units" "$W/unlock.out"
check "the reported utility is that tier's" py "assert $(m fraction "$W/found.safetensors") == $U"
evals=$(py "import json; print(2 + sum(x['evals'] for x in json.load(open('$W/fraction.json'))))")
check "one progress line per evaluation on a non-terminal stderr" \
	test "$(grep -Ec '^calibrate: eval [0-9]+/~[0-9]+ beta [0-9.e-]+ \([0-9]+ units locked\) -> [0-9.e-]+ \([0-9.]+ s\)$' "$W/fraction.err")" = "$evals"
check "an estimate after the first evaluation" \
	grep -Eq '^calibrate: estimate: at most [0-9]+ evaluations x [0-9.]+ s = ' "$W/fraction.err"
check "the estimate follows the first evaluation line" \
	py "assert open('$W/fraction.err').read().split('\\n')[1].startswith('calibrate: estimate: ')"
expect 0 "$CTL" calibrate "$W/locked.safetensors" -k "$W/key.clkey" --eval-cmd "$W/fraction.sh {model}" \
	--target "$T" --json --quiet
check "--quiet: nothing on stderr" test ! -s "$W/err"
check "--quiet: the same answer" py "
import json; assert json.load(open('$W/out'))[0]['units_locked']==json.load(open('$W/fraction.json'))[0]['units_locked']"
expect 0 "$CTL" calibrate "$W/locked.safetensors" -k "$W/key.clkey" --eval-cmd "$W/fraction.sh {model}" \
	--target "$OUT_LO" --quiet
check "the table says a target is outside" grep -q "target outside the curve: the ends measure $(g "$F_FULL") (original, beta 0) and $(g "$F_LOCKED")" "$W/out"
check "the table names the direction" grep -q "higher is better" "$W/out"

# 2. percent: the same curve x 100 gives the same tier, the tolerance x 100
expect 0 "$CTL" calibrate "$W/locked.safetensors" -k "$W/key.clkey" --eval-cmd "$W/percent.sh {model}" \
	--target "$(py "print(100 * $T)")" --json --quiet
check "percent: same tier as the fraction, tolerance scaled" py "
import json; p=json.load(open('$W/out'))[0]; f=json.load(open('$W/fraction.json'))[0]
assert p['within_tolerance'] and p['units_locked']==f['units_locked'], (p, f)
assert abs(p['tolerance'] - 100*f['tolerance']) < 1e-6, (p, f)"

# 3. perplexity (lower is better): read from the ends, not assumed
P_FULL=$(m perplexity "$MODEL") P_LOCKED=$(m perplexity "$W/locked.safetensors") P_H=$(m perplexity "$W/t$H.safetensors")
expect 0 "$CTL" calibrate "$W/locked.safetensors" -k "$W/key.clkey" --eval-cmd "$W/perplexity.sh {model}" \
	--target "$P_H" --target "$(py "print($P_LOCKED * 2)")" --json --quiet
check "perplexity: lower is better, the tier found, a target above the locked end outside" py "
import json; r=json.load(open('$W/out')); assert $P_LOCKED > $P_FULL
x=r[0]; assert not x['higher_is_better'] and x['within_tolerance'] and abs(x['utility']-$P_H) <= 0.015*($P_LOCKED-$P_FULL), x
assert abs(x['units_locked'] - $H) <= 1, x
assert r[1]['result']=='outside' and r[1]['units_locked']==$COUNT, r"

# 4. discrete units: a target between two adjacent tiers is a jump, found at one-unit resolution
F_H1=$(m fraction "$W/t$((H - 1)).safetensors")
MID=$(py "print(($F_H + $F_H1) / 2)")
TOL=$(py "print(abs($F_H1 - $F_H) / 10)")
check "adjacent tiers measure differently" py "assert $F_H1 > $F_H"
expect 0 "$CTL" calibrate "$W/locked.safetensors" -k "$W/key.clkey" --eval-cmd "$W/fraction.sh {model}" \
	--target "$MID" --tolerance "$TOL" --json
check "the jump names both neighbours, one unit apart, with their utilities" py "
import json; x=json.load(open('$W/out'))[0]; a, b = x['bracket']
assert x['result']=='jump' and not x['within_tolerance'], x
assert (a['units_locked'], b['units_locked'])==($H - 1, $H) and (a['utility'], b['utility'])==($F_H1, $F_H), x
assert x['units_locked'] in ($H - 1, $H), x"
nev=$(grep -c '^calibrate: eval' "$W/err")
check "the search stops at one unit: at most 2 + ceil(log2 $COUNT) evaluations ($nev)" \
	py "import math; assert $nev <= 2 + math.ceil(math.log2($COUNT)), $nev"
check "no two evaluations of the same tier" \
	test "$(grep -o '([0-9]* units locked)' "$W/err" | sort | uniq -d | wc -l)" = 0
expect 0 "$CTL" calibrate "$W/locked.safetensors" -k "$W/key.clkey" --eval-cmd "$W/fraction.sh {model}" \
	--target "$MID" --tolerance "$TOL" --quiet
check "the table names the jump with unit counts" \
	grep -q "target falls in a jump: $(g "$F_H1") at beta .* ($((H - 1)) units locked), $(g "$F_H") at beta .* ($H units locked)" "$W/out"
printf '#!/bin/sh\necho 7\n' >"$W/flat.sh"
chmod +x "$W/flat.sh"
expect 1 "$CTL" calibrate "$W/locked.safetensors" -k "$W/key.clkey" --eval-cmd "$W/flat.sh {model}" --target 7 --quiet
check "a metric that does not move is refused" grep -q "both measure 7: the evaluation command cannot tell tiers apart" "$W/err"

# 5. lock --target-utility on a perplexity: the lock must raise it to the target, to one unit
A="$W/auto"
mkdir "$A"
expect 0 "$CTL" lock "$MODEL" -o "$A/l.safetensors" -k "$A/k.clkey" --target-utility "$P_H" \
	--eval-cmd "$W/perplexity.sh {model}" --unit channel --scope global --json
cp "$W/err" "$A/search.err"
check "lock search: lower is better, the target reached upwards, the unit below short of it" py "
import json; d=json.load(open('$W/out')); s=d['settings'][0]
assert not d['higher_is_better'] and s['result']=='reached' and d['utility'] >= $P_H, d
assert s['below']['units'] == s['units'] - 1 and s['below']['utility'] < $P_H, s
assert d['chosen']['units_locked'] == s['units'], d"
check "lock search: the chosen lock measures what was reported" \
	py "import json; assert $(m perplexity "$A/l.safetensors") == json.load(open('$W/out'))['utility']"
check "lock search: a line per evaluation and an estimate" \
	test "$(grep -c '^lock: eval [0-9]*/~[0-9]* ' "$A/search.err")" -ge 3 -a "$(grep -c '^lock: estimate: ' "$A/search.err")" = 1
rm -f "$A"/*
expect 0 "$CTL" lock "$MODEL" -o "$A/l.safetensors" -k "$A/k.clkey" --target-utility "$F_H" \
	--eval-cmd "$W/fraction.sh {model}" --unit channel --scope global --quiet
check "lock search --quiet: nothing on stderr" test ! -s "$W/err"
check "lock search table: the step around the target" grep -Eq "reaches the target at [0-9]+ units \([0-9]+ units score [0-9.]+\): chosen" "$W/out"
rm -f "$A"/*

# 5a. --max-attack: the "attack" prints 1000 x the share of non-zero words, so
# it falls as units are locked; a bound read off tier H2 (more units than the
# utility target needs) makes H2 units the smallest lock that passes both.
H2=$((H + (COUNT - H) / 2))
tier "$H2" "$W/t$H2.safetensors"
tier $((H2 - 1)) "$W/t$((H2 - 1)).safetensors"
MAXA=$(m attack "$W/t$H2.safetensors")
expect 0 "$CTL" lock "$MODEL" -o "$A/l.safetensors" -k "$A/k.clkey" --target-utility "$F_H" \
	--eval-cmd "$W/fraction.sh {model}" --max-attack "$MAXA" --attack-cmd "$W/attack.sh {model}" \
	--unit channel --scope global --json
cp "$W/out" "$A/attack.json"
cp "$W/err" "$A/attack.err"
check "max-attack: the smallest lock whose attack is at most the bound (H2 units), one unit more than one that fails" py "
import json; d=json.load(open('$A/attack.json')); s=d['settings'][0]
assert d['max_attack'] == $MAXA and s['result'] == 'reached' and d['attack'] <= $MAXA, d
assert d['chosen']['units_locked'] == $H2 == s['units'] and s['attack'] == d['attack'], d
assert s['below']['units'] == $H2 - 1, s"
check "max-attack: the unit below passes the utility target but not the attack" py "
assert $(m fraction "$W/t$((H2 - 1)).safetensors") <= $F_H and $(m attack "$W/t$((H2 - 1)).safetensors") > $MAXA"
check "max-attack: the chosen lock measures what was reported" py "
import json; d=json.load(open('$A/attack.json')); assert $(m attack "$A/l.safetensors") == d['attack'], d"
check "max-attack: the attack runs are progress lines too" test "$(grep -c '^lock: eval .*attack on channel/global' "$A/attack.err")" -ge 2
rm -f "$A"/*
expect 0 "$CTL" lock "$MODEL" -o "$A/l.safetensors" -k "$A/k.clkey" --target-utility "$F_H" \
	--eval-cmd "$W/fraction.sh {model}" --max-attack "$MAXA" --attack-cmd "$W/attack.sh {model}" \
	--unit channel --scope global --quiet
check "max-attack table: the bound in the header and the chosen row's attack" \
	grep -q "attack advantage <= $(g "$MAXA")" "$W/out"
check "max-attack table: the chosen line names the attack" grep -q "^chosen: .*, attack $(g "$MAXA"))" "$W/out"
rm -f "$A"/*
expect 1 "$CTL" lock "$MODEL" -o "$A/l.safetensors" -k "$A/k.clkey" --target-utility "$F_H" \
	--eval-cmd "$W/fraction.sh {model}" --max-attack -1 --attack-cmd "$W/attack.sh {model}" \
	--unit channel --scope global --quiet
check "max-attack out of reach: says none passes both" \
	grep -q "no setting brings the utility to $(g "$F_H") or below within --max-ratio 0.5 with an attack advantage of at most -1" "$W/err"
check "max-attack out of reach: the row says the attack is above" grep -q "every such lock's attack is above --max-attack" "$W/out"
check "max-attack out of reach: no output written" test ! -e "$A/l.safetensors" -a ! -e "$A/k.clkey"
expect 2 "$CTL" lock "$MODEL" -o "$A/l.safetensors" -k "$A/k.clkey" --target-utility "$F_H" \
	--eval-cmd "$W/fraction.sh {model}" --max-attack 3
check "--max-attack without --attack-cmd is a usage error" grep -q "go together" "$W/err"
expect 2 "$CTL" lock "$MODEL" -o "$A/l.safetensors" -k "$A/k.clkey" --target-utility "$F_H" \
	--eval-cmd "$W/fraction.sh {model}" --max-attack 3 --attack-cmd "$W/attack.sh"
check "--attack-cmd without {model} is a usage error" grep -q "attack-cmd must contain {model}" "$W/err"
expect 2 "$CTL" lock "$MODEL" -o "$A/l.safetensors" -k "$A/k.clkey" --ratio 0.1 --max-attack 3 --attack-cmd "$W/attack.sh {model}"
check "--max-attack without --target-utility is a usage error" grep -q "need --target-utility" "$W/err"
rm -f "$A"/*
expect 1 "$CTL" lock "$MODEL" -o "$A/l.safetensors" -k "$A/k.clkey" --target-utility "$(py "print($P_FULL / 2)")" \
	--eval-cmd "$W/perplexity.sh {model}" --unit channel --scope global --quiet
check "a perplexity target below the original's is refused" grep -q "already scores $(g "$P_FULL"), at or above --target-utility" "$W/err"

# 6. inspect -k: which file of the key's family a model is
ident() { "$CTL" inspect "$1" -k "$W/key.clkey" --json >"$W/id.json" && py "import json; d=json.load(open('$W/id.json')); print(d['is'], d.get('units_restored', '-'))"; }
check "inspect -k: the locked model" test "$(ident "$W/locked.safetensors")" = "locked 0"
check "inspect -k: the original" test "$(ident "$MODEL")" = "original $COUNT"
check "inspect -k: tier $H restores $((COUNT - H)) units" test "$(ident "$W/t$H.safetensors")" = "tier $((COUNT - H))"
check "inspect -k: the calibrated tier" test "$(ident "$W/found.safetensors")" = "tier $((COUNT - UNITS))"
check "inspect -k: the tier's beta names the same tier" py "
import json; d=json.load(open('$W/id.json')); assert abs(d['beta'] * $FINITE - $UNITS) < 0.5, d"
check "inspect -k: another model is none of them" test "$(ident "$OTHER")" = "other -"
check "... and says why" grep -q "belongs to another model" "$W/id.json"
"$CTL" lock "$MODEL" -o "$W/l2.safetensors" -k "$W/k2.clkey" --ratio 0.1 --unit channel --scope layer >/dev/null
check "inspect -k: another lock of the same model is none of them" test "$(ident "$W/l2.safetensors")" = "other -"
cp "$W/t$H.safetensors" "$W/tampered.safetensors"
py "
f=open('$W/tampered.safetensors', 'r+b'); f.seek(-3, 2); b=f.read(1); f.seek(-3, 2); f.write(bytes([b[0] ^ 1]))"
check "inspect -k: a tier changed outside the key's units is none of them" test "$(ident "$W/tampered.safetensors")" = "other -"
expect 0 "$CTL" inspect "$W/t$H.safetensors" -k "$W/key.clkey"
check "inspect -k table: tier, beta, units restored" grep -q "a tier of this key: beta .*, $((COUNT - H)) of its $COUNT units restored" "$W/out"
expect 0 "$CTL" inspect "$W/locked.safetensors"
check "inspect without a key says it cannot tell" grep -q "cannot tell without the key" "$W/out"
expect 1 "$CTL" inspect "$W/locked.safetensors" -k "$W/locked.safetensors"
check "inspect -k with a model for a key: one line" test "$(wc -l <"$W/err")" = 1

echo "calibrate: $pass passed, $fail failed"
[ "$fail" = 0 ]
