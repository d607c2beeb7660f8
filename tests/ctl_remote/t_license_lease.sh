#!/bin/bash
# corelockerctl license issue|update|show with the lease fields (issue 12):
# --lease-seconds, --floating and --max-checkout reach the server, show and
# list print them, 'none' clears a lease, and bad values are usage errors
# (exit 2) that change nothing.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
mk m 0.05 1
push m
tier "$MID" basic 0.02
export CORELOCKER_TOKEN="$TOKEN"

c issue license issue --model m --tier basic --customer acme --lease-seconds 600 --floating yes --max-checkout 86400 --json
expect_rc 0 issue "issue with lease fields"
cp "$T/issue.out" "$T/body"
LID=$(jget '["id"]')
[ "$(jget '["lease_seconds"]')" = 600 ] && [ "$(jget '["floating"]')" = true ] && [ "$(jget '["max_checkout"]')" = 86400 ] ||
	fail "issue answer: $(cat "$T/body")"
c show license show "$LID"
expect_rc 0 show "license show"
grep -q '^lease seconds  *600$' "$T/show.out" && grep -q '^floating  *yes$' "$T/show.out" &&
	grep -q '^max checkout  *86400$' "$T/show.out" || fail "license show: $(cat "$T/show.out")"
ok "issue --lease-seconds --floating --max-checkout: stored and shown"

c upd license update "$LID" --lease-seconds none --floating no --json
expect_rc 0 upd "update"
cp "$T/upd.out" "$T/body"
[ "$(jget '["lease_seconds"]')" = null ] && [ "$(jget '["floating"]')" = false ] && [ "$(jget '["max_checkout"]')" = 86400 ] ||
	fail "update answer: $(cat "$T/body")"
ok "update --lease-seconds none --floating no: cleared, the rest kept"

for bad in "--floating maybe" "--lease-seconds soon" "--max-checkout -" ; do
	# shellcheck disable=SC2086
	c bad license update "$LID" $bad
	expect_rc 2 bad "update $bad"
done
c bad license update "$LID" --lease-seconds 0
[ "$RC" != 0 ] || fail "--lease-seconds 0 accepted"
api GET "/v1/licenses/$LID"
[ "$(jget '["lease_seconds"]')" = null ] && [ "$(jget '["max_checkout"]')" = 86400 ] || fail "a refused update changed the license"
ok "bad values refused (usage errors exit 2; out-of-bounds by the server) and nothing changed"
