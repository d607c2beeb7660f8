#!/bin/bash
# tests/pg/run-one.sh itself, on stand-in tests in a scratch source tree: the
# script runs with CL_BACKEND=postgresql against a cluster that answers; its
# status (pass, fail, skip) is the harness's; the cluster is stopped and its
# folder deleted whatever happened, a SIGTERM included; and when PostgreSQL
# cannot be started the answer is a SKIP with the reason, never a pass.
set -u
: "${top_srcdir:?run through make check}" "${top_builddir:?run through make check}"
S=$(mktemp -d "${TMPDIR:-/tmp}/corelocker-runone.XXXXXX")
trap 'rm -rf "$S"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok - $*"; }

mkdir -p "$S/src/tests/pg" "$S/src/tests/x"
cp "$top_srcdir/tests/pg/cluster.sh" "$S/src/tests/pg/"
# t_NAME.sh records its cluster, proves it answers, then ends as NAME says.
for t in pass fail skip term; do
	cat > "$S/src/tests/x/t_$t.sh" <<EOS
#!/bin/bash
echo "\$CL_BACKEND \$CL_PG_SOCK" > "$S/$t.seen"
"\$CL_PG_PSQL" -XAtq -d "\$CL_PG_DSN" -c 'SELECT 6 * 7' > "$S/$t.answer" || exit 99
case $t in pass) exit 0 ;; fail) exit 1 ;; skip) exit 77 ;; term) kill -TERM \$PPID; exit 0 ;; esac
EOS
	chmod +x "$S/src/tests/x/t_$t.sh"
done

# run NAME: run-one.sh on tests/x/t_NAME.pg; RC and its output in $S/NAME.out
run() {
	RC=0
	top_srcdir=$S/src "$top_srcdir/tests/pg/run-one.sh" "tests/x/t_$1.pg" > "$S/$1.out" 2>&1 || RC=$?
}
# gone NAME: the cluster NAME ran on is stopped and deleted
gone() {
	local sock
	sock=$(cut -d' ' -f2 "$S/$1.seen")
	[ -n "$sock" ] && [ ! -e "$(dirname "$sock")" ] || fail "$1: cluster folder ${sock%/sock} left behind"
	! pgrep -f -- "${sock%/sock}/data" > /dev/null || fail "$1: PostgreSQL still runs on ${sock%/sock}"
}

run pass
if [ "$RC" = 77 ] && [ ! -e "$S/pass.seen" ]; then
	# No cluster here: the reason is printed, and checked below as such.
	grep -q '^SKIP: PostgreSQL pass of tests/x/t_pass.sh: .' "$S/pass.out" || fail "skip without a reason: $(cat "$S/pass.out")"
	echo "SKIP: $(cat "$S/pass.out")"
	exit 77
fi
[ "$RC" = 0 ] || fail "pass: exit $RC: $(cat "$S/pass.out")"
[ "$(cut -d' ' -f1 "$S/pass.seen")" = postgresql ] || fail "CL_BACKEND: $(cat "$S/pass.seen")"
[ "$(cat "$S/pass.answer")" = 42 ] || fail "the cluster answered $(cat "$S/pass.answer")"
gone pass
ok "a passing test: CL_BACKEND=postgresql, its cluster answers, then is stopped and deleted"

for t in fail:1 skip:77 term:130; do
	run "${t%:*}"
	[ "$RC" = "${t#*:}" ] || fail "${t%:*}: exit $RC, not ${t#*:}: $(cat "$S/${t%:*}.out")"
	gone "${t%:*}"
done
grep -q -- '--- PostgreSQL log (tail) ---' "$S/fail.out" || fail "a failure without the server log: $(cat "$S/fail.out")"
ok "failing (with the server log), skipping and SIGTERMed tests keep their status; each cluster is deleted"

if [ "$(id -u)" = 0 ]; then
	PG_CLUSTER_USER=corelocker-no-such-user run pass
	[ "$RC" = 77 ] || fail "no cluster user: exit $RC"
	grep -qx 'SKIP: PostgreSQL pass of tests/x/t_pass.sh: running as root and user corelocker-no-such-user does not exist' \
		"$S/pass.out" || fail "no cluster user: $(cat "$S/pass.out")"
	ok "PostgreSQL that cannot start is a SKIP with the reason"
fi
