#!/bin/bash
# patch_bench.sh - wall time and peak anonymous memory of corelocker-agent's
# patch (the full tier of a ~1 GiB F32 model locked at ratio 0.01) against cp,
# cp+sync and the PyTorch peer (bench/torch_patch_peer.py: load, index_put_,
# save), plus the agent's --in-place patch; and the bytes each agent command
# writes (wchar and write_bytes of its /proc/PID/io, one more run each).
#
# usage: bench/patch_bench.sh [-n RUNS] [-r RATIO] [-s SIZE_GIB] [-p PAUSE] [-d DIR] [-q] [MODEL]
#   MODEL     a model to use instead of generating one: a file, or a sharded
#             model's *.index.json (e.g. from bench/gen_llm.py; then the
#             outputs are directories, cp is cp -r, and there is no torch peer)
#   -n RUNS   timed rounds (default 5); each round runs every command once,
#             the order rotating from round to round
#   -r RATIO  lock ratio (default 0.01)
#   -s SIZE   model size in GiB for bench/gen_model.py (default 1.0)
#   -p PAUSE  seconds to wait before each timed command (default 3; see
#             "Memory state" in bench/lock_bench.sh)
#   -d DIR    work directory (default /tmp/clpatch); results in
#             DIR/patch-results.{tsv,md}
#   -q        no torch peer
#   -c CMDS   only these commands (space-separated names, below)
#   -V VER    the key volume version of the saved volume file that agent-file
#             and in-place apply: 3 (default, what this tree's agent asks
#             for over HTTPS) or 2 (what agents before version 3 get); both
#             sizes are reported
#   -P PERF   instead of the timed rounds: profile agent, agent-file and
#             in-place once each with perf record -g (PERF/CMD.data, and the
#             top of perf report in PERF/CMD.txt)
# environment: AGENT, CTL, CORELOCKERD (default: this tree's builds), PY;
#   AGENT_BASE, another agent build (say the commit before a change, from
#   bench/build_ctl.sh) timed as agent-base in the same rounds;
#   CORELOCKER_TEST_MAX_RECV_SPEED=BYTES caps the agents' download rate (a
#   slow network on loopback; agents from before c80598e ignore it)
#
# Commands timed:
#   agent        corelocker-agent unlock LOCKED -o OUT over HTTPS from a local
#                corelockerd: activate, validate, fetch, verify (signature,
#                SHA-256 of LOCKED, of the result against the original),
#                patch into a temp file, fsync, rename
#   agent-base   the agent command with $AGENT_BASE (when set)
#   agent-file   the same from a volume file (--volume-file): no network
#   in-place     --in-place --volume-file on a fresh copy of LOCKED (the copy
#                is made outside the timing): journal, patch, fsync
#   in-place-net the same over HTTPS (fetch, verify, journal, patch, fsync)
#   cp, cp+sync  copying LOCKED (the floor for a second copy)
#   torch        the PyTorch peer on its own locked model and key, --fsync
# The model stays in the page cache; outputs are removed and the file system
# synced outside the timing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"
root=$(dirname "$here")
PY=${PY:-/usr/bin/python3}
AGENT=${AGENT:-$root/client/corelocker-agent}
CTL=${CTL:-$root/ctl/corelockerctl}
CORELOCKERD=${CORELOCKERD:-$root/server/corelockerd}
runs=5 ratio=0.01 size=1.0 dir=/tmp/clpatch peer=1 pause=3 perf= only= volver=3
while getopts "n:r:s:p:d:P:c:V:qh" o; do
	case $o in
	n) runs=$OPTARG ;; r) ratio=$OPTARG ;; s) size=$OPTARG ;; p) pause=$OPTARG ;;
	d) dir=$OPTARG ;; q) peer=0 ;; P) perf=$OPTARG ;; c) only=$OPTARG ;; V) volver=$OPTARG ;;
	*) sed -n '2,48s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done
[ "$volver" = 2 ] || [ "$volver" = 3 ] || { echo "patch_bench: -V is 2 or 3" >&2; exit 2; }
shift $((OPTIND - 1))
for b in "$AGENT" "$CTL" "$CORELOCKERD" ${AGENT_BASE:+"$AGENT_BASE"}; do
	[ -x "$b" ] || { echo "patch_bench: $b is not built (make)" >&2; exit 1; }
	if grep -qa -e __asan_init "$b"; then echo "patch_bench: $b is a sanitizer build" >&2; exit 1; fi
done
mkdir -p "$dir"
model=${1:-$dir/model.safetensors} key=$dir/model.clkey
# LOCKED and every output: a file, or for a sharded model a directory (LK, OUT.x the model in it)
if [[ $model == *.json ]]; then
	idx=/$(basename "$model") peer=0 CP="cp -r"
	locked=$dir/locked.d
else
	idx= CP=cp
	locked=$dir/locked.safetensors
fi
lk=$locked$idx
DPID=
cleanup() {
	[ -z "$DPID" ] || { kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null || true; }
	rm -rf "$dir/srv" "$dir"/out.* "$dir"/ip.* "$dir"/.out.* "$dir"/.ip.* "$dir"/ip-net.*
}
trap cleanup EXIT

# ---- inputs, made once ----
if [ ! -f "$model" ]; then
	echo "generating $model ($size GiB)" >&2
	"$PY" "$here/gen_model.py" "$model" --size-gib "$size" >&2
fi
if [ ! -e "$lk" ] || [ ! -f "$key" ] || [ "$(cat "$dir/ratio" 2>/dev/null)" != "$ratio $model" ]; then
	echo "locking at ratio $ratio" >&2
	rm -rf "$locked"
	"$CTL" lock "$model" -o "$locked" -k "$key" --ratio "$ratio" >&2
	echo "$ratio $model" > "$dir/ratio"
	rm -f "$dir/peer.locked" "$dir/peer.key"
fi
if [ $peer = 1 ] && [ ! -f "$dir/peer.key" ]; then
	echo "locking with the torch peer (its own key for its patch)" >&2
	"$PY" "$here/torch_lock_peer.py" "$model" "$dir/peer.locked" "$dir/peer.key" --ratio "$ratio" >&2
fi

# ---- a local daemon with the key, a full-tier license, a saved volume ----
s=$dir/srv
bench_daemon "$s" "$CORELOCKERD" "$key" || exit 1
A=(--license "$LKEY" --server-key "$s/pub.pem" --fingerprint bench)
# the full tier's volume in both versions (docs/api.md: the Accept header picks it)
for v in 2 3; do
	curl -sS --cacert "$s/tls.crt" -H 'Content-Type: application/json' \
		-H "Accept: application/vnd.corelocker.volume; version=$v" -o "$s/full-v$v.clvol" \
		-d "{\"license_key\":\"$LKEY\",\"fingerprint\":\"bench\",\"nonce\":\"bench\"}" "$URL/v1/key"
	[ "$(od -An -tu4 -j8 -N4 "$s/full-v$v.clvol" | tr -d ' ')" = "$v" ] ||
		{ echo "patch_bench: the daemon did not send a version $v volume" >&2; exit 1; }
done
ln -f "$s/full-v$volver.clvol" "$s/full.clvol"
vol_bytes="$(stat -c %s "$s/full-v2.clvol") $(stat -c %s "$s/full-v3.clvol") $volver"

# ---- the commands ----
declare -A CMD
CMD[agent]="'$AGENT' unlock '$lk' -o '$dir/out.agent' ${A[*]} -q"
CMD[agent-file]="'$AGENT' unlock '$lk' -o '$dir/out.file' --volume-file '$s/full.clvol' --server-key '$s/pub.pem' -q"
CMD[in-place]="'$AGENT' unlock '$dir/ip.safetensors$idx' --in-place --volume-file '$s/full.clvol' --server-key '$s/pub.pem' -q"
CMD[in-place-net]="'$AGENT' unlock '$dir/ip-net.safetensors$idx' --in-place ${A[*]} -q"
CMD[cp]="$CP '$locked' '$dir/out.cp'"
# sync FILE... (fsync of each): the copied files, not the whole machine's dirty pages
CMD[cp+sync]="$CP '$locked' '$dir/out.cps' && sync '$dir/out.cps'${idx:+/*}"
names=(agent agent-file in-place in-place-net cp cp+sync)
if [ -n "${AGENT_BASE:-}" ]; then
	CMD[agent-base]="'$AGENT_BASE' unlock '$lk' -o '$dir/out.base' ${A[*]} -q"
	names=(agent agent-base "${names[@]:1}")
fi
if [ $peer = 1 ]; then
	CMD[torch]="'$PY' '$here/torch_patch_peer.py' '$dir/peer.locked' '$dir/out.torch' '$dir/peer.key' --fsync"
	names+=(torch)
fi
[ -z "$only" ] || read -r -a names <<< "$only"

prepare() {
	rm -rf "$dir"/out.* "$dir"/out.*.clstate "$dir"/ip.safetensors* "$dir"/ip-net.safetensors*
	[ "$1" = in-place ] && $CP "$locked" "$dir/ip.safetensors"
	[ "$1" = in-place-net ] && $CP "$locked" "$dir/ip-net.safetensors"
	sync
	cat "$locked"${idx:+/*} > /dev/null
	[ "$1" = torch ] && cat "$dir/peer.locked" "$dir/peer.key" > /dev/null
	sleep "$pause"
}

# check once that every agent output is the original; the bytes each writes
# (its /proc/PID/io as it exits), outside the timed rounds
declare -A OUTF=([agent]=out.agent [agent-base]=out.base [agent-file]=out.file [in-place]=ip.safetensors [in-place-net]=ip-net.safetensors)
io=$dir/patch-io.tsv
printf 'command\twchar\twrite_bytes\tcancelled_write_bytes\n' > "$io"
for c in "${names[@]}"; do
	[ -n "${OUTF[$c]:-}" ] || continue
	prepare "$c"
	eval "set -- ${CMD[$c]}"
	"$PY" "$root/tests/agent/procio.py" "$dir/io.txt" "$@"
	if [ -n "$idx" ]; then
		diff -r -x '*.clstate' "$dir/${OUTF[$c]}" "$(dirname "$model")" > /dev/null
	else
		cmp -s "$dir/${OUTF[$c]}" "$model"
	fi || { echo "patch_bench: the $c output is not the original" >&2; exit 1; }
	printf '%s\t%s\t%s\t%s\n' "$c" $(sed -n 's/^\(wchar\|write_bytes\|cancelled_write_bytes\): //p' "$dir/io.txt") >> "$io"
done

if [ -n "$perf" ]; then
	mkdir -p "$perf"
	for c in agent agent-file in-place; do
		prepare "$c"
		eval "set -- ${CMD[$c]}"
		perf record -q -g -o "$perf/$c.data" -- "$@" 2> /dev/null
		perf report -i "$perf/$c.data" --stdio --no-children --percent-limit 2 -g none 2> /dev/null |
			grep -v '^#' | grep -v '^$' | head -n 25 > "$perf/$c.txt"
		echo "== $c" >&2
		cat "$perf/$c.txt" >&2
	done
	exit 0
fi

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

"$PY" - "$tsv" "$mem" "$model" "$ratio" "$vol_bytes" "$runs" "$io" > "$dir/patch-results.md" <<'PYEOF'
import csv, json, os, statistics, struct, sys
tsv, mem, model, ratio, vol, runs, io = sys.argv[1:]
t = {}
for row in csv.DictReader(open(tsv), delimiter="\t"):
    t.setdefault(row["command"], []).append(float(row["wall_s"]))
m = {row["command"]: row["peak_rss_anon_kib"] for row in csv.DictReader(open(mem), delimiter="\t")}
base = statistics.median(t["cp+sync"])
files = [model]
if model.endswith(".json"):
    d = os.path.dirname(model)
    files = [model] + [os.path.join(d, f) for f in sorted(set(json.load(open(model))["weight_map"].values()))]
size = sum(os.path.getsize(f) for f in files)
with open(files[-1], "rb") as f:  # the dtype of a shard's first tensor
    hdr = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
dtype = next(v["dtype"] for k, v in hdr.items() if k != "__metadata__")
v2, v3, ver = (int(x) for x in vol.split())
print("Model: %.2f GiB %s in %d file(s), locked at ratio %s (element units, the default scope); full-tier volume "
      "v2 %.1f MiB, v3 %.1f MiB (the file commands apply v%d; the agent over HTTPS asks for v3); "
      "median of %s rounds; %d cores, load %s%s." % (size / 2**30, dtype, len(files), ratio, v2 / 2**20, v3 / 2**20, ver,
                                                   runs, os.cpu_count(),
                                                   " ".join("%.2f" % x for x in os.getloadavg()),
                                                   "; download capped at %s bytes/s" % os.environ["CORELOCKER_TEST_MAX_RECV_SPEED"]
                                                   if os.environ.get("CORELOCKER_TEST_MAX_RECV_SPEED") else ""))
print()
print("| command | median wall (s) | min | max | vs cp+sync | peak RssAnon (MiB) |")
print("|---|---:|---:|---:|---:|---:|")
for c in ["agent", "agent-base", "agent-file", "in-place", "in-place-net", "cp", "cp+sync", "torch"]:
    if c not in t:
        continue
    v = t[c]
    kib = m.get(c, "")
    rss = "%.1f" % (int(kib) / 1024) if kib.isdigit() else "-"
    print("| %s | %.3f | %.3f | %.3f | %.2fx | %s |" % (c, statistics.median(v), min(v), max(v),
                                                          statistics.median(v) / base, rss))
print()
print("Bytes written (one run each, the agent's /proc/PID/io as it exits): wchar = bytes handed to write(2)/pwrite(2); "
      "write_bytes = page-cache bytes dirtied (whole pages or folios), less cancelled_write_bytes (a temp file "
      "dropped before writeback).")
print()
print("| command | wchar (MiB) | % of model | write_bytes - cancelled (MiB) | % of model |")
print("|---|---:|---:|---:|---:|")
for row in csv.DictReader(open(io), delimiter="\t"):
    w, wb = int(row["wchar"]), int(row["write_bytes"]) - int(row["cancelled_write_bytes"])
    print("| %s | %.1f | %.2f | %.1f | %.2f |" % (row["command"], w / 2**20, 100 * w / size, wb / 2**20, 100 * wb / size))
PYEOF
cat "$dir/patch-results.md"
