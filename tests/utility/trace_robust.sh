#!/bin/bash
# trace_robust.sh [ARCH ...]: the leak-tracing measurements of docs/trace.md on
# the reference models (not part of make check: minutes per family).  A real
# daemon and the real agent (tests/agent/common.sh): per family, the
# recommended lock of docs/utility.md, two fingerprinted tiers (full, and
# half the key), three licenses each; then trace_robust.py measures utility
# per license and the attacks.  One JSON line per measurement on stdout.
#
#   cd BUILDDIR && nice bash tests/utility/trace_robust.sh > trace.jsonl
set -eu
cd "$(dirname "$0")/../.."
export top_srcdir=$PWD
export CORELOCKERD=${CORELOCKERD:-$PWD/server/corelockerd} CTL=${CTL:-$PWD/ctl/corelockerctl}
export VOLCHECK=${VOLCHECK:-$PWD/tests/server/volcheck} AGENT=${AGENT:-$PWD/client/corelocker-agent}
export PYTHON=/usr/bin/python3
. tests/agent/common.sh
ARCHS=${*:-mlp cnn vit lstm}

agent_setup
export CORELOCKER_TOKEN=$TOKEN
for arch in $ARCHS; do
	D=$T/$arch
	mkdir -p "$D"
	args=$("$PY" -c "import sys; sys.path.insert(0, 'tests/utility'); import ulib
r = ulib.RECOMMENDED['$arch']; print(' '.join(ulib.setting('$arch', r['setting']).args(r['ratio'])))")
	# shellcheck disable=SC2086
	"$CTL" lock "tests/utility/models/$arch.safetensors" -o "$D/locked.safetensors" -k "$D/key.clkey" $args \
		> /dev/null || fail "lock $arch"
	alpha=$("$CTL" inspect "$D/key.clkey" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["alpha"])')
	half=$("$PY" -c "print($alpha / 2)")
	push_model "$arch/key" "$arch"
	echo "{" > "$D/lic.json"
	for t in full:0 half:$half; do
		name=${t%%:*} beta=${t#*:}
		api PUT "/v1/models/$arch/tiers/$name" -d "{\"ratio\":$beta,\"fingerprint\":true}"
		expect 201 "tier $arch $name"
		"$CTL" unlock "$D/locked.safetensors" -k "$D/key.clkey" --tier-ratio "$beta" \
			-o "$D/tier-$name.safetensors" > /dev/null || fail "unlock $arch $name"
		for i in 1 2 3; do
			issue "$arch" "$name"
			run_agent "$arch-$name-$i" unlock "$D/locked.safetensors" -o "$D/lic-$name-$i.safetensors" \
				--license "$KEY" --fingerprint "fp-$arch-$name-$i"
			expect_rc 0 "$arch-$name-$i" "agent unlock $arch $name $i"
			printf '"lic-%s-%s": %s,\n' "$name" "$i" "$LID" >> "$D/lic.json"
		done
	done
	sed -i '$ s/,$/}/' "$D/lic.json"
	"$PY" tests/utility/trace_robust.py "$arch" "$D" "$D/key.clkey" || fail "trace_robust.py $arch"
done
