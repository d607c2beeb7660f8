# Sourced by the corelockerctl shell tests: a scratch folder $W (removed on
# exit), pass/fail counters and the two checks every case uses.
# Usage: . common.sh NAME  (NAME names the scratch folder)
: "${CTL:?} ${top_srcdir:?} ${PYTHON:=/usr/bin/python3}"
MODEL="$top_srcdir/tests/utility/models/cnn.safetensors"
W=$(mktemp -d "/tmp/cltest-$1.XXXXXX")
trap 'rm -rf "$W"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# check WHAT CMD...: CMD succeeds
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
# expect STATUS CMD...: run, keep stdout/stderr in $W/out, $W/err
expect() {
	local want=$1; shift
	"$@" >"$W/out" 2>"$W/err"
	local got=$?
	[ "$got" = "$want" ] || { bad "exit $got, wanted $want: $*"; cat "$W/err"; return 1; }
	ok
}
