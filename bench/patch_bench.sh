#!/bin/bash
# patch_bench.sh - wall time and peak anonymous memory of corelocker-agent's
# patch (the full tier of a ~1 GiB F32 model locked at ratio 0.01) against cp,
# cp+sync and the PyTorch peer (bench/torch_patch_peer.py: load, index_put_,
# save), plus the agent's --in-place patch.
#
# usage: bench/patch_bench.sh [-n RUNS] [-r RATIO] [-s SIZE_GIB] [-p PAUSE] [-d DIR] [-q]
#   -n RUNS   timed rounds (default 5); each round runs every command once,
#             the order rotating from round to round
#   -r RATIO  lock ratio (default 0.01)
#   -s SIZE   model size in GiB for bench/gen_model.py (default 1.0)
#   -p PAUSE  seconds to wait before each timed command (default 3; see
#             "Memory state" in bench/lock_bench.sh)
#   -d DIR    work directory (default /tmp/clpatch); results in
#             DIR/patch-results.{tsv,md}
#   -q        no torch peer
# environment: AGENT, CTL, CORELOCKERD (default: this tree's builds), PY
#
# Commands timed:
#   agent        corelocker-agent unlock LOCKED -o OUT over HTTPS from a local
#                corelockerd: activate, validate, fetch, verify (signature,
#                SHA-256 of LOCKED, of the result against the original),
#                patch into a temp file, fsync, rename
#   agent-file   the same from a volume file (--volume-file): no network
#   in-place     --in-place --volume-file on a fresh copy of LOCKED (the copy
#                is made outside the timing): journal, patch, fsync
#   cp, cp+sync  copying LOCKED (the floor for a second copy)
#   torch        the PyTorch peer on its own locked model and key, --fsync
# The model stays in the page cache; outputs are removed and the file system
# synced outside the timing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
PY=${PY:-/usr/bin/python3}
AGENT=${AGENT:-$root/client/corelocker-agent}
CTL=${CTL:-$root/ctl/corelockerctl}
CORELOCKERD=${CORELOCKERD:-$root/server/corelockerd}
runs=5 ratio=0.01 size=1.0 dir=/tmp/clpatch peer=1 pause=3
while getopts "n:r:s:p:d:qh" o; do
	case $o in
	n) runs=$OPTARG ;; r) ratio=$OPTARG ;; s) size=$OPTARG ;; p) pause=$OPTARG ;;
	d) dir=$OPTARG ;; q) peer=0 ;;
	*) sed -n '2,31s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done
for b in "$AGENT" "$CTL" "$CORELOCKERD"; do
	[ -x "$b" ] || { echo "patch_bench: $b is not built (make)" >&2; exit 1; }
	if grep -qa -e __asan_init "$b"; then echo "patch_bench: $b is a sanitizer build" >&2; exit 1; fi
done
mkdir -p "$dir"
model=$dir/model.safetensors locked=$dir/locked.safetensors key=$dir/model.clkey
DPID=
cleanup() {
	[ -z "$DPID" ] || { kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null || true; }
	rm -rf "$dir/srv" "$dir"/out.* "$dir"/ip.* "$dir"/.out.* "$dir"/.ip.*
}
trap cleanup EXIT

# ---- inputs, made once ----
if [ ! -f "$model" ]; then
	echo "generating $model ($size GiB)" >&2
	"$PY" "$here/gen_model.py" "$model" --size-gib "$size" >&2
fi
if [ ! -f "$locked" ] || [ ! -f "$key" ] || [ "$(cat "$dir/ratio" 2>/dev/null)" != "$ratio" ]; then
	echo "locking at ratio $ratio" >&2
	"$CTL" lock "$model" -o "$locked" -k "$key" --ratio "$ratio" >&2
	echo "$ratio" > "$dir/ratio"
	rm -f "$dir/peer.locked" "$dir/peer.key"
fi
if [ $peer = 1 ] && [ ! -f "$dir/peer.key" ]; then
	echo "locking with the torch peer (its own key for its patch)" >&2
	"$PY" "$here/torch_lock_peer.py" "$model" "$dir/peer.locked" "$dir/peer.key" --ratio "$ratio" >&2
fi

# ---- a local daemon with the key, a full-tier license, a saved volume ----
s=$dir/srv
rm -rf "$s"
mkdir -p "$s/var"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$s/tls.key" -out "$s/tls.crt" \
	-days 1 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
printf '[server]\nlisten = 127.0.0.1\nport = 0\ntls_cert = tls.crt\ntls_key = tls.key\n[storage]\ndatabase = var/d.db\n[keys]\nsigning_key = var/s.key\nmaster_key = var/m.key\n[limits]\nmax_body = 512M\nrate = 0\nlicense_rate = 0\nactivate_rate = 0\n[log]\nlevel = info\n' > "$s/d.conf"
TOKEN=$("$CORELOCKERD" init -c "$s/d.conf" 2>/dev/null | tail -n 1)
"$CORELOCKERD" -c "$s/d.conf" 2> "$s/log" &
DPID=$!
URL=
for _ in $(seq 1 600); do
	URL=$(grep -o 'https://127.0.0.1:[0-9]*' "$s/log" | head -n 1) || true
	[ -n "$URL" ] && break
	sleep 0.05
done
[ -n "$URL" ] || { echo "patch_bench: corelockerd did not start" >&2; exit 1; }
export CORELOCKER_SERVER=$URL CORELOCKER_CACERT=$s/tls.crt CORELOCKER_TOKEN=$TOKEN
curl -sS --cacert "$s/tls.crt" -o "$s/pub.pem" "$URL/v1/pubkey"
"$CTL" model push "$key" --name bench > /dev/null
"$CTL" tier set bench full --ratio 0 > /dev/null
LKEY=$("$CTL" license issue --model bench --tier full --customer bench --max-machines 10 --json 2>/dev/null |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["key"])')
A=(--license "$LKEY" --server-key "$s/pub.pem" --fingerprint bench)
curl -sS --cacert "$s/tls.crt" -H 'Content-Type: application/json' -o /dev/null \
	-d "{\"license_key\":\"$LKEY\",\"fingerprint\":\"bench\"}" "$URL/v1/activate"
curl -sS --cacert "$s/tls.crt" -H 'Content-Type: application/json' -o "$s/full.clvol" \
	-d "{\"license_key\":\"$LKEY\",\"fingerprint\":\"bench\",\"nonce\":\"bench\"}" "$URL/v1/key"
vol_bytes=$(stat -c %s "$s/full.clvol")

# ---- the commands ----
declare -A CMD
CMD[agent]="'$AGENT' unlock '$locked' -o '$dir/out.agent' ${A[*]} -q"
CMD[agent-file]="'$AGENT' unlock '$locked' -o '$dir/out.file' --volume-file '$s/full.clvol' --server-key '$s/pub.pem' -q"
CMD[in-place]="'$AGENT' unlock '$dir/ip.safetensors' --in-place --volume-file '$s/full.clvol' --server-key '$s/pub.pem' -q"
CMD[cp]="cp '$locked' '$dir/out.cp'"
CMD[cp+sync]="cp '$locked' '$dir/out.cps' && sync '$dir/out.cps'"
names=(agent agent-file in-place cp cp+sync)
if [ $peer = 1 ]; then
	CMD[torch]="'$PY' '$here/torch_patch_peer.py' '$dir/peer.locked' '$dir/out.torch' '$dir/peer.key' --fsync"
	names+=(torch)
fi

prepare() {
	rm -f "$dir"/out.* "$dir"/out.*.clstate "$dir"/ip.safetensors*
	[ "$1" = in-place ] && cp "$locked" "$dir/ip.safetensors"
	sync
	cat "$locked" > /dev/null
	[ "$1" = torch ] && cat "$dir/peer.locked" "$dir/peer.key" > /dev/null
	sleep "$pause"
}

# check once that every agent output is the original
declare -A OUTF=([agent]=out.agent [agent-file]=out.file [in-place]=ip.safetensors)
for c in agent agent-file in-place; do
	prepare "$c"
	eval "${CMD[$c]}"
	cmp -s "$dir/${OUTF[$c]}" "$model" || { echo "patch_bench: the $c output is not the original" >&2; exit 1; }
done

tsv=$dir/patch-results.tsv
printf 'round\tcommand\twall_s\n' > "$tsv"
for ((r = 0; r < runs; r++)); do
	n=${#names[@]}
	for ((i = 0; i < n; i++)); do
		c=${names[$(((i + r) % n))]}
		prepare "$c"
		t0=$EPOCHREALTIME
		eval "${CMD[$c]}" > /dev/null
		t1=$EPOCHREALTIME
		printf '%d\t%s\t%s\n' "$r" "$c" "$("$PY" -c "print('%.3f' % ($t1 - $t0))")" >> "$tsv"
		echo "round $r: $c $(tail -n 1 "$tsv" | cut -f3) s" >&2
	done
done

# peak RssAnon, one run each
mem=$dir/patch-mem.tsv
printf 'command\tpeak_rss_anon_kib\n' > "$mem"
for c in "${names[@]}"; do
	prepare "$c"
	if [ "$c" = cp+sync ]; then
		set -- cp "$locked" "$dir/out.cps" # the same process; sync runs after it
	else
		eval "set -- ${CMD[$c]}"
	fi
	"$PY" "$here/peak_rss_anon.py" --interval 0.005 --json -- "$@" 2> "$dir/mem.json" > /dev/null || true
	printf '%s\t%s\n' "$c" "$("$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    l = l.strip()
    if l.startswith("{"): print(json.loads(l)["peak_rss_anon_kib"])' "$dir/mem.json" | tail -n 1)" >> "$mem"
done

"$PY" - "$tsv" "$mem" "$model" "$ratio" "$vol_bytes" "$runs" > "$dir/patch-results.md" <<'PYEOF'
import csv, os, statistics, sys
tsv, mem, model, ratio, vol, runs = sys.argv[1:]
t = {}
for row in csv.DictReader(open(tsv), delimiter="\t"):
    t.setdefault(row["command"], []).append(float(row["wall_s"]))
m = {row["command"]: row["peak_rss_anon_kib"] for row in csv.DictReader(open(mem), delimiter="\t")}
base = statistics.median(t["cp+sync"])
size = os.path.getsize(model)
print("Model: %.2f GiB F32 (bench/gen_model.py), locked at ratio %s (element, layer); full-tier volume %.1f MiB; "
      "median of %s rounds." % (size / 2**30, ratio, int(vol) / 2**20, runs))
print()
print("| command | median wall (s) | min | max | vs cp+sync | peak RssAnon (MiB) |")
print("|---|---:|---:|---:|---:|---:|")
for c in ["agent", "agent-file", "in-place", "cp", "cp+sync", "torch"]:
    if c not in t:
        continue
    v = t[c]
    kib = m.get(c, "")
    rss = "%.1f" % (int(kib) / 1024) if kib.isdigit() else "-"
    print("| %s | %.3f | %.3f | %.3f | %.2fx | %s |" % (c, statistics.median(v), min(v), max(v),
                                                          statistics.median(v) / base, rss))
PYEOF
cat "$dir/patch-results.md"
