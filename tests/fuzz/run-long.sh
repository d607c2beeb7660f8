#!/bin/sh
# tests/fuzz/run-long.sh - build one fuzz target with libFuzzer, ASan and
# UBSan (clang) and run it for a given time over a copy of its corpus.
#
#     tests/fuzz/run-long.sh TARGET SECONDS [OUTDIR]
#
# TARGET is volume, index, time, jreq, clkey or safetensors.  The library
# sources are those of lib/Makefile.inc (plus, for jreq, the request
# validator server/jreq.c, what it needs, and every route's field specs,
# server/jspecs.c made by server/gen-jspecs.sh), all compiled with
# -fsanitize=fuzzer,address,undefined so libFuzzer sees their coverage.
# SRC=DIR builds another checkout (default: this script's tree).  The run
# leaves in OUTDIR (default /tmp/clfuzz-TARGET): fuzz.log (libFuzzer's
# output), corpus/ (the seeds plus what the run found), crash-* files if
# any, and stats.txt: executions, exec/s, cov and ft of the final line,
# corpus size, crashes.  Merge new inputs into the committed corpus with
#     OUTDIR/fuzz_TARGET -merge=1 SRC/tests/fuzz/corpus/TARGET OUTDIR/corpus
# Exit status: 0 when the run ended without a crash, 1 otherwise, 2 on usage
# or build errors.
set -eu

usage() {
	echo "usage: $0 TARGET SECONDS [OUTDIR]" >&2
	exit 2
}
[ $# -ge 2 ] || usage
target=$1
secs=$2
case $secs in '' | *[!0-9]*) usage ;; esac
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "${SRC:-$here/../..}" && pwd)
out=${3:-/tmp/clfuzz-$target}
harness=$src/tests/fuzz/fuzz_$target.c
[ -f "$harness" ] || { echo "$0: no $harness" >&2; exit 2; }

# per target: the longest input and the dictionary
case $target in
volume) maxlen=65536 dict=volume.dict ;;
index) maxlen=16384 dict=index.dict ;;
time) maxlen=128 dict=time.dict ;;
jreq) maxlen=16384 dict=jreq.dict ;;
clkey) maxlen=65536 dict=clkey.dict ;;
safetensors) maxlen=65536 dict=safetensors.dict ;;
*) usage ;;
esac

mkdir -p "$out/corpus"
libsrc=$(sed -n '/^lib_libclcore_la_SOURCES/,/^[^	]/p' "$src/lib/Makefile.inc" |
	tr -s ' \\\t' '\n' | grep '^lib/.*\.c$' | sed "s|^|$src/|")
extra=
if [ "$target" = jreq ]; then
	sh "$src/server/gen-jspecs.sh" "$src"/server/r_*.c >"$out/jspecs.c" || exit 2
	extra="$src/server/jreq.c $src/server/util.c $src/server/errors.c $out/jspecs.c $(pkg-config --cflags sqlite3)"
fi
flags="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# shellcheck disable=SC2046,SC2086  # word lists on purpose
clang $flags -I"$src/lib/include" -I"$src/lib" -I"$src/server" $(pkg-config --cflags jansson) \
	-o "$out/fuzz_$target" "$harness" $libsrc $extra \
	$(pkg-config --libs jansson) -lcrypto -lm || exit 2

[ -d "$src/tests/fuzz/corpus/$target" ] && cp -r "$src/tests/fuzz/corpus/$target/." "$out/corpus/"
dictarg=
[ -f "$src/tests/fuzz/$dict" ] && dictarg=-dict=$src/tests/fuzz/$dict
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
set +e
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm # fuzz_index writes files
(cd "$out" && ./fuzz_"$target" -max_total_time="$secs" -max_len=$maxlen -timeout=30 -rss_limit_mb=2048 \
	-print_final_stats=1 ${dictarg:+"$dictarg"} -artifact_prefix="$out/" corpus) >"$out/fuzz.log" 2>&1
status=$?
set -e
last=$(grep -E '^#[0-9]+' "$out/fuzz.log" | tail -1)
crashes=$(find "$out" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
{
	echo "target: $target"
	echo "started: $start"
	echo "ended: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "seconds: $secs"
	echo "machine: $(nproc) cores, $(uname -m), $(clang --version | head -1)"
	echo "executions: $(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log")"
	echo "exec_per_sec: $(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/fuzz.log")"
	echo "new_units: $(sed -n 's/^stat::new_units_added: *//p' "$out/fuzz.log")"
	echo "peak_rss_mb: $(sed -n 's/^stat::peak_rss_mb: *//p' "$out/fuzz.log")"
	echo "cov: $(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')"
	echo "ft: $(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')"
	echo "corpus: $(find "$out/corpus" -type f | wc -l) files"
	echo "crashes: $crashes"
	echo "exit: $status"
	echo "last: $last"
} >"$out/stats.txt"
cat "$out/stats.txt"
[ "$status" -eq 0 ] && [ "$crashes" -eq 0 ]
