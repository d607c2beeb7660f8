#!/bin/bash
# corelockerctl with several servers (--server A,B): reads (license list) and
# a license issue move on when the first address cannot be reached or drops
# the TLS handshake; after the request was sent (a server that reads it and
# closes, or answers 503) a list moves on but an issue is not repeated, says
# it may or may not have been applied, and no license is added.
. "$top_srcdir/tests/agent/common.sh"
. "$top_srcdir/tests/agent/flaky.sh"

agent_setup
mk m 0.05 1
push m
tier m basic 0.02
export CORELOCKER_TOKEN="$TOKEN"
unset CORELOCKER_SERVER

# c TAG SERVERS ARGS...: corelockerctl through SERVERS; RC, $T/TAG.out, $T/TAG.err
c() {
	local tag=$1 servers=$2
	shift 2
	RC=0
	"$CTL" "$@" --server "$servers" > "$T/$tag.out" 2> "$T/$tag.err" || RC=$?
}
switches() { grep -c '; trying https://' "$T/$1.err" || true; }
# licenses: how many licenses the daemon holds, asked directly
licenses() {
	api GET /v1/licenses
	expect 200 "license count"
	jget '["licenses"].__len__()'
}
# issue TAG SERVERS: license issue through SERVERS
issue_via() { c "$1" "$2" license issue --model m --tier basic --customer "cust-$1" --json; }

flaky close close
CLOSE=$FURL
flaky drop drop
DROP=$FURL
flaky s503 503
S503=$FURL

# ---- connect failures: reads and writes move on ----
n0=$(licenses)
issue_via i1 "$DEAD,$URL"
expect_rc 0 i1 "issue with a dead port first"
issue_via i2 "$CLOSE,$URL"
expect_rc 0 i2 "issue with a closed handshake first"
issue_via i0 "$URL,$DEAD"
expect_rc 0 i0 "issue with the live address first"
[ ! -s "$T/i0.err" ] || fail "live,dead issue: $(cat "$T/i0.err")"
[ "$(licenses)" = $((n0 + 3)) ] || fail "three issues: $(licenses) licenses, expected $((n0 + 3))"
grep -q "^corelockerctl: server $DEAD unreachable (.*); trying $URL\$" "$T/i1.err" || fail "switch line: $(cat "$T/i1.err")"
[ "$(switches i2)" = 1 ] || fail "close,live: $(cat "$T/i2.err")"
for s in "$DEAD,$URL" "$CLOSE,$URL" "$URL,$DEAD"; do
	c l "$s" license list
	expect_rc 0 l "license list through $s"
	[ "$(grep -c '^[0-9]' "$T/l.out")" = $((n0 + 3)) ] || fail "license list through $s: $(cat "$T/l.out")"
done
[ "$(switches l)" = 0 ] || fail "live,dead: a switch with the first address up: $(cat "$T/l.err")"
ok "a dead port or a dropped handshake first: license issue (once each) and list go to the next address"

# ---- after the request was sent: reads move on, an issue is not repeated ----
n1=$(licenses)
c l2 "$DROP,$URL" license list
expect_rc 0 l2 "license list with a server that drops the request first"
grep -q "^corelockerctl: server $DROP failed after the request was sent (.*); trying $URL\$" "$T/l2.err" ||
	fail "switch line after a dropped GET: $(cat "$T/l2.err")"
issue_via i3 "$DROP,$URL"
refused 6 i3 "issue through a server that reads the request and closes"
grep -q "may or may not have been applied" "$T/i3.err" || fail "no 'may or may not': $(cat "$T/i3.err")"
[ "$(grep -c '^POST /v1/licenses' "$T/drop.log")" = 1 ] || fail "the issue reached the first server $(grep -c POST "$T/drop.log") times"
c l3 "$S503,$URL" license list
expect_rc 0 l3 "license list with a 503 first"
grep -q "answered HTTP 503 UNAVAILABLE (retry after 1 s); trying $URL\$" "$T/l3.err" || fail "503 switch line: $(cat "$T/l3.err")"
issue_via i4 "$S503,$URL"
refused 1 i4 "issue answered 503"
grep -q "HTTP 503 UNAVAILABLE" "$T/i4.err" || fail "503 issue: $(cat "$T/i4.err")"
[ "$(licenses)" = "$n1" ] || fail "an issue that may have reached a server was repeated: $(licenses) licenses, expected $n1"
ok "after the request was sent: list moves on, issue is not repeated (exit 6 'may or may not', or the 503)"

# An upload moves on too when the first address takes nothing.
c push "$CLOSE,$URL" model push "$T/m.clkey" --name pushed --version 1
expect_rc 0 push "model push with a closed handshake first"
grep -q "^name  *pushed" "$T/push.out" && [ "$(switches push)" = 1 ] || fail "model push: $(cat "$T/push.out" "$T/push.err")"
ok "model push (a streamed upload) moves on when the first address takes nothing"

# ---- the list in the config file, and a bad one ----
printf '[ctl]\nserver = %s,%s\n' "$DEAD" "$URL" > "$T/ctl.conf"
RC=0
"$CTL" license list --config "$T/ctl.conf" > "$T/cf.out" 2> "$T/cf.err" || RC=$?
expect_rc 0 cf "server = A,B in the [ctl] section"
[ "$(switches cf)" = 1 ] || fail "config list: $(cat "$T/cf.err")"
c bad "$URL,ftp://127.0.0.1" license list
expect_rc 2 bad "a list with a plain ftp URL"
grep -q "server URL 'ftp://127.0.0.1' is not https://" "$T/bad.err" || fail "bad list: $(cat "$T/bad.err")"
ok "the [ctl] config list; a bad entry is exit 2"
