# bench/common.sh - helpers the benchmark scripts share (sourced, not run).

# timed_run LABEL CMD DIR: run CMD (a shell string) once, output discarded.
# Sets BENCH_SEC (wall seconds), BENCH_CPU (user + system seconds) and
# BENCH_RC; CMD's stderr is left in DIR/stderr.txt and printed on failure.
timed_run() {
	local label=$1 cmd=$2 dir=$3 t0 t1
	t0=$EPOCHREALTIME
	set +e
	/usr/bin/time -f '%U %S' -o "$dir/cpu.txt" sh -c "$cmd" > /dev/null 2> "$dir/stderr.txt"
	BENCH_RC=$?
	set -e
	t1=$EPOCHREALTIME
	[ "$BENCH_RC" = 0 ] || { echo "$label failed ($BENCH_RC):" >&2; cat "$dir/stderr.txt" >&2; }
	BENCH_SEC=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}')
	BENCH_CPU=$(tail -1 "$dir/cpu.txt" | awk '{printf "%.2f", $1 + $2}')
}

# proc_ticks PID...: user + system clock ticks of the processes (all threads)
proc_ticks() {
	local p s=0
	for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2> /dev/null || echo 0))); done
	echo "$s"
}
