#!/bin/sh
# tests/hostile/run.sh - the hostile-file catalogue, run against corelockerctl.
#
# For every row of catalogue.tsv (file, defect, expected error substring):
#   inspect FILE   exits 1, prints nothing on stdout, and exactly one line on
#                  stderr: "corelockerctl: ...", holding the expected
#                  substring and no control character;
#   lock FILE      (models) fails the same way and leaves no file at all in
#                  its output directory (no output, no key, no temp file);
#   unlock -k FILE (keys) of a good locked model fails with one line naming
#                  the key, and leaves no file behind.
# known-bugs.tsv holds rows that lib/ does not handle yet: a failing check
# there is an expected failure (XFAIL); a row that passes (XPASS) fails the
# test, so that it moves to catalogue.tsv.  The file may hold no row.  A few
# cases need files git cannot hold (a FIFO, a directory) or options (a lock
# that fails midway, a lock that extracts nothing); they are made here.
#
# The files are committed; tests/hostile/gen.py reproduces them.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:+$top_srcdir/tests/hostile}
srcdir=${srcdir:-$here}
CTL=${CTL:-$here/../../ctl/corelockerctl}
TIMEOUT=${HOSTILE_TIMEOUT:-20}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clhostile.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

pass=0 fail=0 xfail=0 xpass=0 n=0
why=

# check_failure RC OUT ERR EXPECT: the command failed cleanly with one line.
check_failure() {
	_rc=$1 _out=$2 _err=$3 _expect=$4
	if [ "$_rc" -eq 124 ] || [ "$_rc" -eq 137 ]; then
		why="timed out after ${TIMEOUT}s (hang)"
		return 1
	fi
	if [ "$_rc" -ge 128 ]; then
		why="killed by signal $((_rc - 128)) (crash): $(head -c 300 "$_err")"
		return 1
	fi
	if [ "$_rc" -ne 1 ]; then
		why="exit status $_rc, want 1"
		return 1
	fi
	if [ -s "$_out" ]; then
		why="stdout is not empty: $(head -c 200 "$_out")"
		return 1
	fi
	if [ "$(wc -l <"$_err")" -ne 1 ] || [ "$(tail -c 1 "$_err" | od -An -tx1 | tr -d ' \n')" != 0a ]; then
		why="stderr is not exactly one line: $(head -c 300 "$_err" | tr '\n' '|')"
		return 1
	fi
	case $(cat "$_err") in
	"corelockerctl: "*) ;;
	*)
		why="stderr does not start with 'corelockerctl: ': $(cat "$_err")"
		return 1
		;;
	esac
	if tr -d '\n' <"$_err" | LC_ALL=C grep -qa '[[:cntrl:]]'; then
		why="stderr holds a control character: $(tr -d '\n' <"$_err" | cat -v | head -c 300)"
		return 1
	fi
	if [ -n "$_expect" ] && ! grep -qF -- "$_expect" "$_err"; then
		why="stderr lacks '$_expect': $(cat "$_err")"
		return 1
	fi
	return 0
}

# empty_dir DIR: DIR holds no file at all.
empty_dir() {
	if [ -n "$(ls -A "$1")" ]; then
		why="left files behind: $(ls -A "$1" | tr '\n' ' ')"
		return 1
	fi
	return 0
}

run() { # run OUT ERR CMD...: run with a time limit; status in $rc
	_o=$1 _e=$2
	shift 2
	timeout -k 5 "$TIMEOUT" "$@" >"$_o" 2>"$_e" </dev/null
	rc=$?
}

# check_row KIND FILE EXPECT: every check of one row; 0 if all pass.
check_row() {
	cr_kind=$1 cr_file=$2 cr_expect=$3
	d=$tmp/case
	rm -rf "$d" && mkdir "$d" || return 1
	run "$tmp/out" "$tmp/err" "$CTL" inspect "$cr_file"
	check_failure "$rc" "$tmp/out" "$tmp/err" "$cr_expect" || { why="inspect: $why"; return 1; }
	case $cr_kind in
	safetensors | sharded)
		if [ "$cr_kind" = sharded ]; then o=$d/out; else o=$d/out.safetensors; fi
		run "$tmp/out" "$tmp/err" "$CTL" lock "$cr_file" -o "$o" -k "$d/out.clkey" --ratio 0.1
		check_failure "$rc" "$tmp/out" "$tmp/err" "$cr_expect" || { why="lock: $why"; return 1; }
		empty_dir "$d" || { why="lock: $why"; return 1; }
		;;
	clkey)
		run "$tmp/out" "$tmp/err" "$CTL" unlock "$locked" -k "$cr_file" -o "$d/out.safetensors"
		check_failure "$rc" "$tmp/out" "$tmp/err" "$cr_file" || { why="unlock: $why"; return 1; }
		empty_dir "$d" || { why="unlock: $why"; return 1; }
		;;
	esac
	return 0
}

kind_of() {
	case $1 in
	*.clkey) echo clkey ;;
	*.json) echo sharded ;;
	*) echo safetensors ;;
	esac
}

report() { # report BUGROW LABEL OK
	n=$((n + 1))
	if [ "$1" = no ]; then
		if [ "$3" = 0 ]; then
			pass=$((pass + 1))
			echo "ok $n - $2"
		else
			fail=$((fail + 1))
			echo "FAIL $n - $2: $why"
		fi
	elif [ "$3" = 0 ]; then
		xpass=$((xpass + 1))
		echo "XPASS $n - $2: fixed? move its row from known-bugs.tsv to catalogue.tsv"
	else
		xfail=$((xfail + 1))
		echo "XFAIL $n - $2: $why"
	fi
}

# ---- control: the good model locks, inspects and unlocks back to itself
good=$srcdir/files/good/model.safetensors
mkdir "$tmp/good" || exit 99
locked=$tmp/good/model.locked.safetensors
ok=0
run "$tmp/out" "$tmp/err" "$CTL" lock "$good" -o "$locked" -k "$tmp/good/model.clkey" --ratio 0.25 &&
	[ "$rc" -eq 0 ] || ok=1
for f in "$good" "$locked" "$tmp/good/model.clkey"; do
	[ $ok = 0 ] || break
	run "$tmp/out" "$tmp/err" "$CTL" inspect "$f"
	[ "$rc" -eq 0 ] || ok=1
done
if [ $ok = 0 ]; then
	run "$tmp/out" "$tmp/err" "$CTL" unlock "$locked" -k "$tmp/good/model.clkey" -o "$tmp/good/back.safetensors"
	[ "$rc" -eq 0 ] && cmp -s "$good" "$tmp/good/back.safetensors" || ok=1
fi
# tier ratio = alpha restores no unit at all: the locked model, byte for byte
if [ $ok = 0 ]; then
	run "$tmp/out" "$tmp/err" "$CTL" unlock "$locked" -k "$tmp/good/model.clkey" --tier-ratio 0.25 \
		-o "$tmp/good/tier.safetensors"
	[ "$rc" -eq 0 ] && cmp -s "$locked" "$tmp/good/tier.safetensors" || ok=1
fi
if [ $ok != 0 ]; then
	echo "FAIL control: the good model does not lock/inspect/unlock: $(cat "$tmp/err")"
	exit 1
fi
echo "ok control - files/good/model.safetensors locks, inspects, unlocks back, and to tier alpha (no unit)"
# the same lock's key in .clkey version 2 (4-byte unit indexes), as keys stored
# before version 3 are: still read, and every tier it cuts is the same
v2=$srcdir/files/good/model.v2.clkey
run "$tmp/out" "$tmp/err" "$CTL" inspect --json "$v2"
[ "$rc" -eq 0 ] && grep -q '"version": 2,' "$tmp/out" && grep -q '"index_bytes": 4,' "$tmp/out" || ok=1
for beta in 0 0.1 0.25; do
	[ $ok = 0 ] || break
	run "$tmp/out" "$tmp/err" "$CTL" unlock "$locked" -k "$v2" --tier-ratio $beta -o "$tmp/good/v2.safetensors"
	[ "$rc" -eq 0 ] || { ok=1; break; }
	run "$tmp/out" "$tmp/err" "$CTL" unlock "$locked" -k "$tmp/good/model.clkey" --tier-ratio $beta \
		-o "$tmp/good/v3.safetensors"
	[ "$rc" -eq 0 ] && cmp -s "$tmp/good/v2.safetensors" "$tmp/good/v3.safetensors" || ok=1
	rm -f "$tmp/good/v2.safetensors" "$tmp/good/v3.safetensors"
done
if [ $ok != 0 ]; then
	echo "FAIL control: the version 2 key files/good/model.v2.clkey does not inspect or unlock like the version 3 key: $(cat "$tmp/err")"
	exit 1
fi
echo "ok control - files/good/model.v2.clkey (.clkey version 2) inspects and unlocks every tier like the version 3 key"
gsh=$srcdir/files/good/sharded
# (ratio 0.5, scope layer: every group has a unit to extract)
run "$tmp/out" "$tmp/err" "$CTL" lock "$gsh/model.safetensors.index.json" -o "$tmp/good/shl" -k "$tmp/good/sh.clkey" \
	--ratio 0.5 --unit neuron --scope layer
[ "$rc" -eq 0 ] || ok=1
[ $ok = 0 ] && run "$tmp/out" "$tmp/err" "$CTL" unlock "$tmp/good/shl/model.safetensors.index.json" \
	-k "$tmp/good/sh.clkey" -o "$tmp/good/shb"
[ "$rc" -eq 0 ] || ok=1
for f in model.safetensors.index.json model-00001-of-00002.safetensors model-00002-of-00002.safetensors; do
	[ $ok = 0 ] && cmp -s "$gsh/$f" "$tmp/good/shb/$f" || ok=1
done
if [ $ok != 0 ]; then
	echo "FAIL control: the good sharded model does not lock/unlock: $(cat "$tmp/err")"
	exit 1
fi
echo "ok control - files/good/sharded locks and unlocks back"

# ---- the catalogue
before=$tmp/files.before
(cd "$srcdir" && find files | LC_ALL=C sort) >"$before"
nst=0 nkey=0 nshard=0
for table in catalogue.tsv known-bugs.tsv; do
	bug=no
	[ "$table" = known-bugs.tsv ] && bug=yes
	[ -f "$srcdir/$table" ] || { [ $bug = yes ] && continue; echo "FAIL: $srcdir/$table is missing"; exit 1; }
	tab=$(printf '\t')
	while IFS=$tab read -r file desc expect; do
		case $file in '#'* | '') continue ;; esac
		kind=$(kind_of "$file")
		if [ $bug = no ]; then
			case $kind in
			safetensors) nst=$((nst + 1)) ;;
			clkey) nkey=$((nkey + 1)) ;;
			sharded) nshard=$((nshard + 1)) ;;
			esac
		fi
		if [ ! -f "$srcdir/$file" ]; then
			why="missing file"
			report $bug "$file" 1
			continue
		fi
		check_row "$kind" "$srcdir/$file" "$expect"
		report $bug "$file ($desc)" $?
	done <"$srcdir/$table"
done

# ---- cases git cannot hold
# A FIFO must be refused, not opened for reading (that would wait for a writer).
TIMEOUT=5
mkfifo "$tmp/fifo.safetensors" "$tmp/fifo.clkey" || exit 99
check_row safetensors "$tmp/fifo.safetensors" "not a regular file"
report no "FIFO as the model (inspect/lock must not block)" $?
check_row clkey "$tmp/fifo.clkey" "not a regular file"
report no "FIFO as the key (inspect/unlock must not block)" $?
TIMEOUT=${HOSTILE_TIMEOUT:-20}
mkdir "$tmp/dir.safetensors" "$tmp/dir.clkey"
check_row safetensors "$tmp/dir.safetensors" "not a regular file"
report no "a directory as the model" $?
check_row clkey "$tmp/dir.clkey" "not a regular file"
report no "a directory as the key" $?
check_row safetensors /dev/null "not a regular file"
report no "/dev/null as the model" $?
check_row safetensors "$tmp/no-such-file.safetensors" "No such file or directory"
report no "a model that does not exist" $?
# A sharded lock that fails once it has started writing (here: the key's
# directory does not exist) must not leave its output directory behind.
rm -rf "$tmp/case" && mkdir "$tmp/case"
run "$tmp/out" "$tmp/err" "$CTL" lock "$gsh/model.safetensors.index.json" -o "$tmp/case/out" \
	-k "$tmp/case/missing/k.clkey" --ratio 0.25
check_failure "$rc" "$tmp/out" "$tmp/err" "k.clkey: cannot create a temporary file" && empty_dir "$tmp/case"
report no "failed sharded lock leaves no output directory" $?
# A lock that would extract no unit is refused (its "locked" model would be
# the original), single-file and sharded, and writes nothing.
for m in "$good" "$gsh/model.safetensors.index.json"; do
	rm -rf "$tmp/case" && mkdir "$tmp/case"
	run "$tmp/out" "$tmp/err" "$CTL" lock "$m" -o "$tmp/case/out" -k "$tmp/case/k.clkey" --ratio 0.001
	check_failure "$rc" "$tmp/out" "$tmp/err" \
		"ratio 0.001 extracts no unit from $m: the locked model would be the original" && empty_dir "$tmp/case"
	report no "a lock that extracts no unit is refused ($(basename "$m"))" $?
done

# ---- nothing appeared next to the inputs
(cd "$srcdir" && find files | LC_ALL=C sort) >"$tmp/files.after"
n=$((n + 1))
if cmp -s "$before" "$tmp/files.after"; then
	pass=$((pass + 1))
	echo "ok $n - no file appeared or vanished under files/"
else
	fail=$((fail + 1))
	echo "FAIL $n - files/ changed: $(diff "$before" "$tmp/files.after" | tr '\n' ' ')"
fi

n=$((n + 1))
if [ $nst -ge 25 ] && [ $nkey -ge 12 ] && [ $nshard -ge 3 ]; then
	pass=$((pass + 1))
	echo "ok $n - catalogue: $nst safetensors, $nshard sharded, $nkey clkey rows"
else
	fail=$((fail + 1))
	echo "FAIL $n - catalogue too small: $nst safetensors (>= 25), $nshard sharded (>= 3), $nkey clkey (>= 12)"
fi

echo "hostile: $n checks, $pass passed, $fail failed, $xfail known bugs (XFAIL), $xpass fixed bugs (XPASS)"
[ $fail -eq 0 ] && [ $xpass -eq 0 ]
