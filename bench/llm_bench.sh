#!/bin/bash
# llm_bench.sh - `corelockerctl lock` of sharded LLaMA-like BF16 models (1 and
# 4 GiB, 4 shards, bench/gen_llm.py) against `cp -r` + sync of the same shards
# and against the PyTorch peer (bench/torch_lock_peer.py), side by side:
# medians of the timed rounds, CPU time, peak RssAnon, cost per GiB.
#
# The peer ranks per tensor (--scope layer), an easier job than the lock's
# global ranking: its --scope global (one torch.topk over every |w|) took
# 133 s and 9.9 GB of RSS for the 1 GiB model, and would not fit in memory
# at 4 GiB.
#
# usage: bench/llm_bench.sh [--quick] [-n RUNS] [-P PEER_RUNS] [-s "SIZES"] [-r RATIO] [-p PAUSE] [-d DIR] [-q]
#   --quick     3 rounds, no peer, no 1-thread row: a first look in ~5 minutes
#   -n RUNS     timed rounds (default 5); each runs every command once, the
#               order rotating from round to round
#   -P N        the peer runs in the first N rounds only (default: every
#               round; it takes minutes per GiB); its peak RssAnon is taken
#               in those runs (peak_rss_anon.py wraps it)
#   -s SIZES    model sizes in GiB (default "1 4"); DIR/llm-SIZEg is generated
#               once if missing (about 4 GiB of /tmp per 4 GiB model, plus the
#               outputs of one command at a time)
#   -r RATIO    lock ratio (default 0.01); element units, global scope (the
#               defaults of corelockerctl lock)
#   -p PAUSE    seconds between cleaning up and each timed command (default 5:
#               see "Memory state" in bench/lock_bench.sh)
#   -d DIR      work directory (default /tmp/cllock-llm); results in
#               DIR/llm-results.{tsv,md}
#   -q          no PyTorch peer
# environment: CTL (default: bench/build_ctl.sh HEAD DIR/build), PY
#   (default /usr/bin/python3).  The lock runs at CORELOCKER_THREADS unset (one
#   thread per online CPU) and, as a reference row, at 1 thread.
#
# Every timed run records the 1-minute load average next to it: the machine
# may be shared, and the medians only compare runs of similar load.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"
root=$(dirname "$here")
PY=${PY:-/usr/bin/python3}
runs=5 sizes="1 4" ratio=0.01 pause=5 dir=/tmp/cllock-llm peer=1 one=1 peer_runs=
args=()
for a in "$@"; do
	if [ "$a" = --quick ]; then runs=3 peer=0 one=0; else args+=("$a"); fi
done
set -- "${args[@]+"${args[@]}"}"
while getopts "n:P:s:r:p:d:qh" o; do
	case $o in
	n) runs=$OPTARG ;; P) peer_runs=$OPTARG ;; s) sizes=$OPTARG ;; r) ratio=$OPTARG ;; p) pause=$OPTARG ;;
	d) dir=$OPTARG ;; q) peer=0 ;;
	*) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
	esac
done
peer_runs=${peer_runs:-$runs}
mkdir -p "$dir"
if [ -z "${CTL:-}" ]; then
	echo "building corelockerctl (bench/build_ctl.sh HEAD $dir/build)" >&2
	CTL=$("$here/build_ctl.sh" HEAD "$dir/build")
fi
[ -x "$CTL" ] || { echo "llm_bench: $CTL is not built" >&2; exit 1; }
if grep -qa -e __asan_init -e __ubsan_handle "$CTL"; then
	echo "llm_bench: $CTL is a sanitizer build; use bench/build_ctl.sh" >&2
	exit 1
fi
tsv=$dir/llm-results.tsv
out=$dir/out
key=$dir/out.key
{
	echo "# date: $(date -u +%FT%TZ)"
	echo "# host: nproc=$(nproc) cpu='$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')'" \
		"mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) kernel=$(uname -r)"
	echo "# fs: $(df -T "$dir" | awk 'NR==2 {print $1, $2}') ($dir)"
	info=$(cat "$(dirname "$(dirname "$CTL")")/BUILD_INFO" 2>/dev/null || echo "tree at $(git -C "$root" rev-parse --short HEAD 2>/dev/null)")
	echo "# ctl: $CTL from $info"
	echo "# ratio $ratio; runs $runs; pause $pause s; sizes $sizes GiB"
	echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo -e "kind\tsize\tname\trun\tvalue\trc\tload1"
} >"$tsv"

clean() { rm -rf "$out" "$key" "$dir"/.out* "$out"/.*.tmp.* 2>/dev/null || true; sync -f "$dir"; }

for size in $sizes; do
	model=$dir/llm-${size}g
	if [ ! -f "$model/model.safetensors.index.json" ]; then
		echo "generating $model ($size GiB, BF16, 4 shards)" >&2
		nice -n 10 "$PY" "$here/gen_llm.py" "$model" --size-gib "$size" --shards 4
	fi
	idx=$model/model.safetensors.index.json
	bytes=$(cat "$model"/*.safetensors | wc -c)
	echo -e "model_bytes\t$size\tmodel\t0\t$bytes\t0\t" >>"$tsv"
	names=(cp-r+sync lock)
	declare -A cmd=()
	cmd[cp-r+sync]="cp -r '$model' '$out' && sync '$out'/*"
	cmd[lock]="'$CTL' lock '$idx' -o '$out' -k '$key' --ratio $ratio"
	if [ "$one" = 1 ]; then
		names+=(lock-1-thread)
		cmd[lock-1-thread]="env CORELOCKER_THREADS=1 ${cmd[lock]}"
	fi
	if [ "$peer" = 1 ]; then
		names+=(torch-peer)
		cmd[torch-peer]="'$PY' '$here/peak_rss_anon.py' --json -- '$PY' '$here/torch_lock_peer.py' '$idx' '$out' '$key' --ratio $ratio --scope layer --threads $(nproc)"
	fi
	cat "$model"/* >/dev/null # the model stays in the page cache
	n=${#names[@]}
	for ((r = 0; r < runs; r++)); do
		for ((j = 0; j < n; j++)); do
			name=${names[$(((j + r) % n))]}
			[ "$name" != torch-peer ] || [ "$r" -lt "$peer_runs" ] || continue
			clean
			sleep "$pause"
			load=$(cut -d' ' -f1 /proc/loadavg)
			timed_run "llm_bench: $name" "${cmd[$name]}" "$dir"
			sec=$BENCH_SEC cpu=$BENCH_CPU rc=$BENCH_RC
			echo -e "time\t$size\t$name\t$r\t$sec\t$rc\t$load" >>"$tsv"
			echo -e "cpu\t$size\t$name\t$r\t$cpu\t$rc\t$load" >>"$tsv"
			printf '%4s GiB %-14s run %d  %8.3f s wall %7.2f s cpu  load %s\n' "$size" "$name" "$r" "$sec" "$cpu" "$load" >&2
			if [ "$name" = torch-peer ] && [ "$r" = 0 ]; then
				anon=$(grep '^{' "$dir/stderr.txt" | tail -1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["peak_rss_anon_kib"])')
				echo -e "rss_anon_kib\t$size\t$name\t0\t$anon\t$rc\t$load" >>"$tsv"
			fi
		done
	done
	for name in "${names[@]}"; do # peak RssAnon, once each
		case $name in cp* | torch-peer) continue ;; esac
		clean
		sleep "$pause"
		load=$(cut -d' ' -f1 /proc/loadavg)
		eval "set -- ${cmd[$name]}"
		set +e
		"$PY" "$here/peak_rss_anon.py" --json -- "$@" >/dev/null 2>"$dir/stderr.txt"
		rc=$?
		set -e
		anon=$(grep '^{' "$dir/stderr.txt" | tail -1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["peak_rss_anon_kib"])')
		echo -e "rss_anon_kib\t$size\t$name\t0\t$anon\t$rc\t$load" >>"$tsv"
		printf '%4s GiB %-14s peak RssAnon %8.1f MiB\n' "$size" "$name" "$(awk -v k="$anon" 'BEGIN {print k/1024}')" >&2
	done
	clean
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$tsv"
"$PY" "$here/llm_summary.py" "$tsv" | tee "$dir/llm-results.md"
