#!/usr/bin/env bash
# lock on every core is deterministic (issue 15): CORELOCKER_THREADS=1, 2, 3
# and 8 give byte-identical locked files and keys, for a single F32 file, a
# sharded BF16 and a sharded F16 model, and a model made of ties (few distinct
# magnitudes, NaN and Inf, tensors of several parallel slices) and BF16/F16
# models of ties (bench/gen_ties16.py: the histogram selection of
# lib/select16.c), for every unit, scope and selection.  The round trip still restores the original.
set -u
. "${top_srcdir:?}/tests/cli/common.sh" threads

B="$top_srcdir/bench"
"$PYTHON" "$B/gen_model.py" "$W/f32.safetensors" --size-gib 0.0078 2>/dev/null || bad "gen_model.py"
"$PYTHON" "$B/gen_llm.py" "$W/bf16" --size-gib 0.012 --shards 3 2>/dev/null || bad "gen_llm.py BF16"
"$PYTHON" "$B/gen_llm.py" "$W/f16" --size-gib 0.006 --shards 2 --dtype F16 --seed 3 2>/dev/null ||
	bad "gen_llm.py F16"
# ties: a 16 MiB F32 tensor (4 slices of 4 MiB) of three magnitudes, a BF16 one of two
"$PYTHON" - "$W/ties.safetensors" <<'EOF' || bad "ties model"
import json, struct, sys, numpy as np
rng = np.random.default_rng(7)
a = rng.choice(np.array([0.5, 0.25, 0.125, -0.5, -0.25, -0.125], np.float32), size=4096 * 1024)
a[::997] = np.nan
a[5::1999] = np.inf
b = rng.choice(np.array([1.0, -1.0, 2.0], np.float32), size=512 * 300)
T = [("a.weight", "F32", [4096, 1024], a.astype("<f4").tobytes()),
     ("a.bias", "F32", [4096], np.full(4096, 0.5, "<f4").tobytes()),
     ("b.weight", "BF16", [512, 300], (b.view(np.uint32) >> 16).astype("<u2").tobytes())]
hdr, off = {}, 0
for n, dt, sh, by in T:
    hdr[n] = {"dtype": dt, "shape": sh, "data_offsets": [off, off + len(by)]}
    off += len(by)
h = json.dumps(hdr).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(t[3] for t in T))
EOF

# ties of BF16 and F16 (the histogram selection, lib/select16.c): a threshold inside a
# bucket of ties shared by three tensors and by the two slices of the first
for d in BF16 F16; do
	"$PYTHON" "$B/gen_ties16.py" "$W/t16-$d.safetensors" $d || bad "gen_ties16.py $d"
done

# same MODEL UNIT SCOPE ARGS...: every thread count gives the 1-thread lock
same() {
	local m=$1 u=$2 s=$3 t what
	shift 3
	what="$(basename "$m") $u $s $*"
	rm -rf "$W/ref" "$W/ref.key"
	CORELOCKER_THREADS=1 "$CTL" lock "$m" -o "$W/ref" -k "$W/ref.key" --unit "$u" --scope "$s" "$@" \
		>/dev/null 2>"$W/err" || { bad "$what: 1 thread: $(cat "$W/err")"; return; }
	for t in 2 3 8; do
		rm -rf "$W/lk" "$W/lk.key"
		if ! CORELOCKER_THREADS=$t "$CTL" lock "$m" -o "$W/lk" -k "$W/lk.key" --unit "$u" --scope "$s" "$@" \
			>/dev/null 2>"$W/err"; then
			bad "$what: $t threads: $(cat "$W/err")"
			continue
		fi
		check "$what: $t threads: same locked model" diff -r -q "$W/ref" "$W/lk"
		check "$what: $t threads: same key" cmp -s "$W/ref.key" "$W/lk.key"
	done
}

for s in global layer global-norm; do
	for u in element neuron channel; do
		same "$W/f32.safetensors" $u $s --ratio 0.03
	done
	for u in element neuron; do
		same "$W/bf16/model.safetensors.index.json" $u $s --ratio 0.01
		same "$W/f16/model.safetensors.index.json" $u $s --ratio 0.02
		same "$W/ties.safetensors" $u $s --ratio 0.03
	done
	same "$W/ties.safetensors" element $s --ratio 0.5
	for d in BF16 F16; do
		same "$W/t16-$d.safetensors" element $s --ratio 0.03
		same "$W/t16-$d.safetensors" element $s --ratio 0.5
	done
	same "$W/bf16/model.safetensors.index.json" element $s --ratio 0.01 --select random --seed 9
done
# the computed fills: their seed and tensor statistics are worked out on several threads too
for f in resample flip; do
	same "$W/bf16/model.safetensors.index.json" element global --ratio 0.01 --fill $f
	same "$W/f32.safetensors" neuron layer --ratio 0.03 --fill $f
	same "$W/f16/model.safetensors.index.json" element global --ratio 0.02 --fill $f
	same "$W/t16-BF16.safetensors" element layer --ratio 0.1 --fill $f
done

# a lock on 3 threads still unlocks to the original, byte for byte
CORELOCKER_THREADS=3 expect 0 "$CTL" lock "$W/bf16/model.safetensors.index.json" -o "$W/l" -k "$W/l.key" --ratio 0.01
CORELOCKER_THREADS=3 expect 0 "$CTL" unlock "$W/l/model.safetensors.index.json" -k "$W/l.key" -o "$W/u"
check "round trip on 3 threads" diff -r -q "$W/bf16" "$W/u"
# the knob: a bad value falls back to the online CPUs, it never fails a lock
CORELOCKER_THREADS=1 expect 0 "$CTL" lock "$W/ties.safetensors" -o "$W/t1" -k "$W/t1.key" --ratio 0.03
CORELOCKER_THREADS=zero expect 0 "$CTL" lock "$W/ties.safetensors" -o "$W/t0" -k "$W/t0.key" --ratio 0.03
check "bad CORELOCKER_THREADS: same key" cmp -s "$W/t1.key" "$W/t0.key"

echo "threads: $pass passed, $fail failed"
[ "$fail" = 0 ]
