#!/usr/bin/env bash
# The main job, locally: lock a bundled reference model, restore tiers from
# the key, and show that each tier is byte-identical to a direct lock at its
# ratio and what accuracy it keeps on Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

CTL=./ctl/corelockerctl
PY=/usr/bin/python3
ARCH=${ARCH:-cnn}
MODEL=tests/utility/models/$ARCH.safetensors
UNIT=${UNIT:-element}
SCOPE=${SCOPE:-layer}
ALPHA=${ALPHA:-0.05}
WORK=$(mktemp -d /tmp/corelocker-demo.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

have_eval=0
[ -f "$MODEL" ] && [ -f tests/utility/eval.py ] && have_eval=1
if [ ! -f "$MODEL" ]; then
	echo "demo: $MODEL not found" >&2
	exit 1
fi

echo "== lock $MODEL ($UNIT/$SCOPE, alpha $ALPHA)"
$CTL lock "$MODEL" -o "$WORK/locked.safetensors" -k "$WORK/model.clkey" --ratio "$ALPHA" --unit "$UNIT" --scope "$SCOPE"
echo
printf '%-10s %-8s %-12s %-10s %s\n' "tier" "beta" "restored" "accuracy" "tier == direct lock at beta"
for beta in "$ALPHA" 0.02 0.01 0.005 0; do
	out="$WORK/tier-$beta.safetensors"
	start=$(date +%s.%N)
	restored=$($CTL unlock "$WORK/locked.safetensors" -k "$WORK/model.clkey" --tier-ratio "$beta" -o "$out" | awk '{print $2}')
	if [ "$beta" = 0 ]; then
		cmp -s "$out" "$MODEL" && same="yes (original, bit for bit)" || same="NO"
	else
		$CTL lock "$MODEL" -o "$WORK/direct.safetensors" -k "$WORK/direct.clkey" --ratio "$beta" --unit "$UNIT" --scope "$SCOPE" >/dev/null
		cmp -s "$out" "$WORK/direct.safetensors" && same="yes" || same="NO"
	fi
	acc="-"
	[ $have_eval = 1 ] && acc="$($PY tests/utility/eval.py "$ARCH" "$out" | tail -n 1)%"
	name=$([ "$beta" = "$ALPHA" ] && echo locked || { [ "$beta" = 0 ] && echo full || echo "tier"; })
	printf '%-10s %-8s %-12s %-10s %s\n' "$name" "$beta" "$restored" "$acc" "$same"
	[ "$same" != "NO" ] || { echo "demo: tier $beta is not byte-identical" >&2; exit 1; }
done
