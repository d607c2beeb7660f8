#!/bin/bash
# profile_lock.sh - where `corelockerctl lock` spends its time.
#
# usage: bench/profile_lock.sh [-u UNIT] [-r RATIO] [-d DIR] [-c]
#   -u UNIT   element (default), neuron or channel
#   -r RATIO  default 0.01
#   -d DIR    default /tmp/clbench: uses DIR/model.safetensors (1 GiB) for
#             perf, and DIR/small.safetensors (64 MiB, generated if missing)
#             for callgrind
#   -c        also run callgrind on the 64 MiB model (about 30 s)
# environment: CTL (default DIR/build/ctl/corelockerctl, see build_ctl.sh)
#
# Prints: perf stat counters, the top symbols by self and by inclusive time
# (perf record --call-graph dwarf), per-thread CPU, and a timeline of the main
# thread in 0.5 s buckets labelled by phase (ranking, writing, key...).
# The perf data stays in DIR/perf-lock.data for `perf report -i`.
set -eu  # no pipefail: `perf report | head` ends with SIGPIPE

here=$(cd "$(dirname "$0")" && pwd)
unit=element ratio=0.01 dir=/tmp/clbench cg=0
while getopts "u:r:d:ch" o; do
	case $o in
	u) unit=$OPTARG ;; r) ratio=$OPTARG ;; d) dir=$OPTARG ;; c) cg=1 ;;
	*) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
	esac
done
CTL=${CTL:-$dir/build/ctl/corelockerctl}
model=$dir/model.safetensors
out=$dir/prof.safetensors
key=$dir/prof.key
[ -f "$model" ] || /usr/bin/python3 "$here/gen_model.py" "$model"
cat "$model" >/dev/null
lock=("$CTL" lock "$model" -o "$out" -k "$key" --ratio "$ratio" --unit "$unit")

echo "== perf stat: ${lock[*]}"
rm -f "$out" "$key"
perf stat -e task-clock,context-switches,cpu-migrations,page-faults "${lock[@]}" 2>&1 >/dev/null |
	grep -E 'task-clock|switches|migrations|faults|elapsed|user|sys'

echo "== perf record --call-graph dwarf"
rm -f "$out" "$key"
perf record -q -F 999 --call-graph dwarf,16384 -o "$dir/perf-lock.data" "${lock[@]}" >/dev/null 2>&1
rm -f "$out" "$key"
echo "-- self time, top 20"
perf report -i "$dir/perf-lock.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
	grep '%' | head -20
echo "-- inclusive time of the lock's own functions"
perf report -i "$dir/perf-lock.data" --children --sort symbol --stdio -g none 2>/dev/null | grep '%' |
	grep -E 'cl_lock|select_units|run_pool|cl_select_top|collect_above|walk_pool|pool_|qsort|msort|build_masks|write_locked|cl_patch|walk|write_key|key_header|hash_|SHA256_Update|__libc_write|copy_folio|copy_file_range|fsync|cl_out' |
	head -40

echo "-- per thread: samples (~ms of CPU at 999 Hz), first..last sample (s from start)"
perf script -i "$dir/perf-lock.data" -F tid,time 2>/dev/null | awk '
	/^ *[0-9]+ +[0-9.]+:/ { t = $2 + 0; if (!t0) t0 = t; if (!($1 in f)) f[$1] = t; l[$1] = t; n[$1]++ }
	END { for (k in n) printf "tid %s: %d samples, %.2f..%.2f s\n", k, n[k], f[k] - t0, l[k] - t0 }'

echo "-- main thread timeline (0.5 s buckets: phase:samples)"
perf script -i "$dir/perf-lock.data" -F tid,time,ip,sym 2>/dev/null | awk '
	/^ *[0-9]+ +[0-9.]+:/ { tid = $1; t = $2 + 0; if (!t0) { t0 = t; main = tid } ph = ""; leaf = ""; next }
	NF == 0 { if (tid == main) { if (ph == "") ph = (leaf ~ /collect|abs|score|pool|pick|select|vec_push|radix/) ? "ranking?" : "other";
		b = int((t - t0) * 2) / 2; c[b] = c[b] " " ph; } next }
	{ if (leaf == "") leaf = $2
	  if (ph == "" && $2 ~ /^(select_units|run_pool|build_masks|write_locked|cl_patch_copy|cl_patch_stream|write_key|cl_out_commit|cl_model_out_commit|cl_model_open|cl_groups_build|pthread_join)$/) ph = $2 }
	END { for (b in c) { split(c[b], a, " "); delete k; for (i in a) k[a[i]]++; s = ""; for (p in k) s = s " " p ":" k[p]; print b "\t" s } }' |
	sort -n

if [ "$cg" = 1 ]; then
	small=$dir/small.safetensors
	[ -f "$small" ] || /usr/bin/python3 "$here/gen_model.py" "$small" --size-gib 0.0625
	echo "== callgrind on $small (user space only; note: under valgrind OpenSSL's SHA-256 runs"
	echo "   without SHA-NI, so its share is inflated; read the rest relative to each other)"
	rm -f "$out" "$key"
	valgrind -q --tool=callgrind --callgrind-out-file="$dir/callgrind.lock.out" \
		"$CTL" lock "$small" -o "$out" -k "$key" --ratio "$ratio" --unit "$unit" >/dev/null
	rm -f "$out" "$key"
	echo "-- self"
	callgrind_annotate --inclusive=no "$dir/callgrind.lock.out" 2>/dev/null | sed -n '/file:function/,/^$/p' | sed -n '3,20p'
	echo "-- inclusive"
	callgrind_annotate --inclusive=yes "$dir/callgrind.lock.out" 2>/dev/null | sed -n '/file:function/,/^$/p' | sed -n '3,30p'
fi
