#!/bin/bash
# lock_bench.sh - wall time and peak anonymous memory of `corelockerctl lock`
# against cp, cp+sync and the PyTorch peer (bench/torch_lock_peer.py).
#
# usage: bench/lock_bench.sh [-n RUNS] [-m MEMRUNS] [-r RATIO] [-s SIZE_GIB] [-p PAUSE] [-d DIR] [-q]
#   -n RUNS     timed rounds (default 5); each round runs every command once,
#               the order rotating from round to round
#   -m MEMRUNS  RssAnon rounds per lock/peer command (default 1; 0 skips)
#   -r RATIO    lock ratio (default 0.01)
#   -s SIZE     model size in GiB for bench/gen_model.py (default 1.0)
#   -p PAUSE    seconds to wait after cleaning up, before each timed command
#               (default 5; see "Memory state" below)
#   -d DIR      work directory (default /tmp/clbench); the model is
#               DIR/model.safetensors (generated once if missing), the outputs
#               DIR/out.*, the results DIR/lock-results.{tsv,md}
#   -q          no torch peer (corelockerctl and cp only)
# environment: CTL, the corelockerctl to time (default: a private -O2 build of
#   HEAD made by bench/build_ctl.sh in DIR/build), PY (default /usr/bin/python3)
#
# Wall time comes from bash's EPOCHREALTIME around `/usr/bin/time sh -c CMD`,
# CPU time (user + sys, all threads) from /usr/bin/time.
#
# The model stays in the page cache (read once before timing, nothing is
# dropped).  Outputs are removed, and the file system synced, before each
# timed command, outside the timing.  corelockerctl fsyncs its outputs, cp
# does not: "cp+sync" (`cp M O && sync O`) is the like-for-like baseline.
#
# Memory state: on a VM with virtio-balloon free-page reporting (Firecracker
# here), free 2 MiB+ blocks go back to the host a couple of seconds after they
# are freed.  Large page-cache folios (which ext4 allocates for big write()s)
# are carved from those blocks, and their first touch then faults on the host:
# 1 GiB written in 4 MiB write()s takes 3-5 s instead of 0.6 s.  cp (which
# splices) and small write()s are hit much less often.  Right after
# the previous command's rm the blocks are still "hot"; corelockerctl only
# starts writing after seconds of ranking, so it never is.  The pause puts
# every command in the same state; docs/bench.md has the measurements.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"
root=$(dirname "$here")
PY=${PY:-/usr/bin/python3}
runs=5 memruns=1 ratio=0.01 size=1.0 dir=/tmp/clbench peer=1 pause=5
while getopts "n:m:r:s:p:d:qh" o; do
	case $o in
	n) runs=$OPTARG ;; m) memruns=$OPTARG ;; r) ratio=$OPTARG ;;
	s) size=$OPTARG ;; p) pause=$OPTARG ;; d) dir=$OPTARG ;; q) peer=0 ;;
	*) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
	esac
done
mkdir -p "$dir"
if [ -z "${CTL:-}" ]; then
	echo "building corelockerctl (bench/build_ctl.sh HEAD $dir/build)" >&2
	CTL=$("$here/build_ctl.sh" HEAD "$dir/build")
fi
[ -x "$CTL" ] || { echo "lock_bench: $CTL is not built" >&2; exit 1; }
if grep -qa -e __asan_init -e __ubsan_handle "$CTL"; then
	echo "lock_bench: $CTL is a sanitizer build; use bench/build_ctl.sh" >&2
	exit 1
fi
model=$dir/model.safetensors
out=$dir/out.safetensors
key=$dir/out.key
tsv=$dir/lock-results.tsv
if [ ! -f "$model" ]; then
	echo "generating $model ($size GiB)" >&2
	"$PY" "$here/gen_model.py" "$model" --size-gib "$size"
fi

# --- the commands -----------------------------------------------------------
names=(cp cp+sync)
declare -A cmd
cmd[cp]="cp '$model' '$out'"
cmd[cp+sync]="cp '$model' '$out' && sync '$out'"
for u in element neuron channel; do
	names+=("lock-$u")
	cmd[lock-$u]="'$CTL' lock '$model' -o '$out' -k '$key' --ratio $ratio --unit $u --scope layer"
done
names+=(lock-element-global)
cmd[lock-element-global]="'$CTL' lock '$model' -o '$out' -k '$key' --ratio $ratio --unit element --scope global"
if [ "$peer" = 1 ]; then
	for u in element neuron channel; do
		names+=("torch-$u")
		cmd[torch-$u]="'$PY' '$here/torch_lock_peer.py' '$model' '$out' '$key' --ratio $ratio --unit $u --threads 2"
	done
fi

clean() { rm -f "$out" "$key" "$dir"/.out.*.tmp.*; sync -f "$dir"; }

# --- conditions ---------------------------------------------------------------
{
	echo "# date: $(date -u +%FT%TZ)"
	echo "# host: nproc=$(nproc) cpu='$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')'" \
		"mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) kernel=$(uname -r)"
	echo "# fs: $(df -T "$dir" | awk 'NR==2 {print $1, $2}') ($dir)"
	info=$(cat "$(dirname "$(dirname "$CTL")")/BUILD_INFO" 2>/dev/null || echo "tree at $(git -C "$root" rev-parse --short HEAD 2>/dev/null)")
	echo "# ctl: $CTL built $(date -u -r "$CTL" +%FT%TZ) from $info"
	echo "# model: $model $(stat -c %s "$model") bytes; ratio $ratio; runs $runs; memruns $memruns; pause $pause s"
	echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$tsv"
cat "$tsv" >&2

cat "$model" >/dev/null # warm the page cache

# --- timing ------------------------------------------------------------------
echo -e "kind\tname\trun\tvalue\trc" >>"$tsv"
n=${#names[@]}
for ((r = 0; r < runs; r++)); do
	for ((j = 0; j < n; j++)); do
		name=${names[$(((j + r) % n))]}
		clean
		sleep "$pause"
		timed_run "lock_bench: $name" "${cmd[$name]}" "$dir"
		sec=$BENCH_SEC cpu=$BENCH_CPU rc=$BENCH_RC
		echo -e "time\t$name\t$r\t$sec\t$rc" >>"$tsv"
		echo -e "cpu\t$name\t$r\t$cpu\t$rc" >>"$tsv"
		printf '%-22s run %d  %8.3f s wall %7.2f s cpu\n' "$name" "$r" "$sec" "$cpu" >&2
		if [ "$r" = 0 ] && [ -f "$key" ]; then
			echo -e "key_bytes\t$name\t0\t$(stat -c %s "$key")\t0" >>"$tsv"
		fi
	done
done

# --- peak RssAnon -----------------------------------------------------------
for ((r = 0; r < memruns; r++)); do
	for name in "${names[@]}"; do
		case $name in cp*) continue ;; esac
		clean
		sleep "$pause"
		eval "set -- ${cmd[$name]}"
		set +e
		"$PY" "$here/peak_rss_anon.py" --json -- "$@" >/dev/null 2>"$dir/stderr.txt"
		rc=$?
		set -e
		line=$(grep '^{' "$dir/stderr.txt" | tail -1)
		[ $rc = 0 ] || { echo "lock_bench: $name failed under peak_rss_anon ($rc)" >&2; cat "$dir/stderr.txt" >&2; }
		anon=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["peak_rss_anon_kib"])' "$line")
		echo -e "rss_anon_kib\t$name\t$r\t$anon\t$rc" >>"$tsv"
		printf '%-22s peak RssAnon %8.1f MiB\n' "$name" "$(awk -v k="$anon" 'BEGIN {print k/1024}')" >&2
	done
done
clean
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$tsv"

"$PY" "$here/lock_summary.py" "$tsv" | tee "$dir/lock-results.md"
