#!/bin/bash
# same_locks.sh - two corelockerctl builds lock alike: identical locked files
# and keys for every model given, unit, scope, fill and ratio (a selection
# rewrite must not change a single byte).
#
# usage: bench/same_locks.sh OLD_CTL NEW_CTL MODEL...
# environment: UNITS (default "element neuron"), SCOPES ("global layer
#   global-norm"), FILLS ("zero resample flip"), RATIOS ("0.01 0.1 0.5"),
#   THREADS (CORELOCKER_THREADS of the new build, default 2), W (work dir,
#   default a mktemp -d).  A lock both builds refuse alike counts as same.
set -u
old=$1 new=$2
shift 2
W=${W:-$(mktemp -d)}
same=0 differ=0
for m in "$@"; do
	for u in ${UNITS:-element neuron}; do
		for s in ${SCOPES:-global layer global-norm}; do
			for f in ${FILLS:-zero resample flip}; do
				for r in ${RATIOS:-0.01 0.1 0.5}; do
					rm -rf "$W/a" "$W/a.key" "$W/b" "$W/b.key"
					args=(--unit "$u" --scope "$s" --fill "$f" --ratio "$r")
					CORELOCKER_THREADS=1 "$old" lock "$m" -o "$W/a" -k "$W/a.key" "${args[@]}" >/dev/null 2>"$W/a.err"
					ra=$?
					CORELOCKER_THREADS=${THREADS:-2} "$new" lock "$m" -o "$W/b" -k "$W/b.key" "${args[@]}" >/dev/null 2>"$W/b.err"
					rb=$?
					if [ "$ra" = "$rb" ] && { [ "$ra" != 0 ] || { diff -r -q "$W/a" "$W/b" >/dev/null && cmp -s "$W/a.key" "$W/b.key"; }; }; then
						same=$((same + 1))
					else
						differ=$((differ + 1))
						echo "DIFFER: $m ${args[*]} (exit $ra, $rb)"
					fi
				done
			done
		done
	done
done
rm -rf "$W/a" "$W/a.key" "$W/b" "$W/b.key"
echo "same_locks: $same same, $differ differ"
[ "$differ" = 0 ]
