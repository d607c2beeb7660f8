#!/bin/bash
# auto.sh - the searches of docs/utility.md section 3a: `corelockerctl lock
# --target-utility 12` on every reference model, over the whole model and
# restricted to its input stage, then a markdown table of what was chosen.
# Not part of make check: about an hour on a shared 2-core machine.
# usage: tests/utility/auto.sh [OUTDIR]   (CTL overrides the corelockerctl used)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$(dirname "$here")")
CTL=${CTL:-$top/ctl/corelockerctl}
M=$here/models
out=${1:-/tmp/corelocker-auto}
mkdir -p "$out"
cd "$out"
# name arch extra-options...
runs=(
	"cnn cnn"
	"cnn.front cnn --unit element --include ^(conv1|layer1)\."
	"vit vit"
	"vit.front vit --unit element --include ^patch_embed\."
	"lstm lstm"
	"lstm.front lstm --unit element --include ^lstm\.weight_ih"
	"mlp mlp --unit element --scope global"
)
for r in "${runs[@]}"; do
	read -r name arch extra <<<"$r"
	rm -f "$name".L "$name".K
	start=$(date +%s)
	# shellcheck disable=SC2086 # extra holds options, split on purpose
	"$CTL" lock "$M/$arch.safetensors" -o "$name.L" -k "$name.K" --target-utility 12 \
		--eval-cmd "/usr/bin/python3 $here/eval.py $arch {model}" $extra --json >"$name.json" || true
	echo $(($(date +%s) - start)) >"$name.secs"
done
/usr/bin/python3 - "${runs[@]}" <<'EOP'
import json, sys
print("| arch | restriction | chosen | ratio | accuracy | key % | evaluations | time |")
print("|---|---|---|---|---|---|---|---|")
for r in sys.argv[1:]:
    name, arch, *extra = r.split()
    try:
        d = json.load(open(name + ".json"))
    except (OSError, ValueError):
        print("| %s | %s | search failed | | | | | |" % (arch, " ".join(extra) or "-"))
        continue
    c, evals = d.get("chosen"), sum(s["evals"] for s in d["settings"])
    secs = open(name + ".secs").read().strip()
    if not c:
        print("| %s | %s | not reached | | | | %d | %s s |" % (arch, " ".join(extra) or "-", evals, secs))
        continue
    print("| %s | %s | `%s --scope %s` | %.4f | %.2f | %.2f | %d | %s s |" % (
        arch, " ".join(extra) or "-", c["unit"], c["scope"], c["ratio"], d["utility"],
        100.0 * c["key_bytes"] / c["model_bytes"], evals, secs))
EOP
