#!/bin/sh
# tests/fuzz/replay.sh - replay each committed fuzz corpus, corpus/TARGET,
# through its target (tests/fuzz/replay.c linked with fuzz_TARGET.c, built
# as replay_TARGET).  A corpus without its replay program fails.  Under
# --enable-sanitizers this is the corpora under ASan and UBSan.  It also
# checks that the replay tool refuses a missing or an empty directory.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=${top_srcdir:-$here/../..}/tests/fuzz
bin=${top_builddir:-$here/../..}/tests/fuzz
fail=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clreplay.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

for dir in "$src"/corpus/*/; do
	target=$(basename "$dir")
	if "$bin/replay_$target" "$src/corpus/$target"; then
		echo "ok - replay_$target over corpus/$target"
	else
		echo "FAIL - replay_$target over corpus/$target (status $?)"
		fail=1
	fi
done

# fuzz_jreq must see every route's spec: as many specs in the generated table
# (server/jspecs.c) as jreq_parse() calls in the route sources
calls=$(cat "$src"/../../server/r_*.c | grep -c 'jreq_parse(')
specs=$(grep -c '^	{"r_' "$bin/../../server/jspecs.c")
if [ "$calls" -gt 0 ] && [ "$calls" = "$specs" ]; then
	echo "ok - jreq_specs[] holds all $specs route specs"
else
	echo "FAIL - $calls jreq_parse() calls in server/r_*.c, but $specs specs in server/jspecs.c (gen-jspecs.sh)"
	fail=1
fi

# the replay tool must not pass on a corpus that is not there
mkdir "$tmp/empty"
for arg in "$tmp/empty" "$tmp/missing"; do
	if "$bin/replay_safetensors" "$arg" >/dev/null 2>&1; then
		echo "FAIL - replay_safetensors accepts $(basename "$arg") directory"
		fail=1
	else
		echo "ok - replay_safetensors refuses the $(basename "$arg") directory"
	fi
done
exit $fail
