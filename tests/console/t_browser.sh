#!/bin/bash
# The web console in a real browser: Debian's chromium, driven by
# playwright-core (tests/console/browser.mjs), against the real daemon over
# TLS with the real agent.  Skipped (77, with the reason) when chromium, node
# or tests/console/node_modules is missing or chromium cannot start; never
# passed without running.  CONSOLE_SHOTS=DIR keeps the screenshots (the ones
# in docs/console/ come from here).
. "$top_srcdir/tests/agent/common.sh"

skip() {
	echo "SKIP: $*"
	exit 77
}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
NODE=$(command -v node || true)
[ -n "$NODE" ] || skip "node is not installed (scripts/setup.sh installs Debian's nodejs)"
[ -x "$CHROMIUM" ] || skip "$CHROMIUM is not installed (scripts/setup.sh installs Debian's chromium)"
[ -f "$top_srcdir/tests/console/node_modules/playwright-core/package.json" ] ||
	skip "tests/console/node_modules has no playwright-core (scripts/setup.sh runs npm ci there)"

agent_setup
mk fashion-cnn 0.05 1
push fashion-cnn
export CORELOCKER_TOKEN="$TOKEN"
"$CTL" tier set fashion-cnn basic --ratio 0.02 --utility 71.5 --label "top-1 accuracy %" > /dev/null || fail "tier basic"
"$CTL" tier set fashion-cnn full --ratio 0 --utility 91.25 --label "top-1 accuracy %" > /dev/null || fail "tier full"
api POST /v1/tokens -d '{"name":"support desk","scope":"read"}'
expect 201 "a read token"
RO=$(jget '["token"]')
# two more customers, so that the pages show more than the license under test
api POST /v1/licenses -d '{"model":"fashion-cnn","tier":"basic","customer":"Globex Corp","max_machines":5,"expires_at":"2031-06-30T23:59:59Z"}'
expect 201 "license for Globex"
api POST /v1/licenses -d '{"model":"fashion-cnn","tier":"full","customer":"Initech"}'
expect 201 "license for Initech"
api POST "/v1/licenses/$(jget '["id"]')/suspend"
expect 200 "suspend Initech"

RC=0
URL=$URL TOKEN=$TOKEN RO_TOKEN=$RO AGENT=$AGENT LOCKED="$T/fashion-cnn.locked.safetensors" WORK=$T CHROMIUM=$CHROMIUM \
	SHOTS=${CONSOLE_SHOTS:-$T/shots} NODE_PATH="$top_srcdir/tests/console/node_modules" \
	"$NODE" "$top_srcdir/tests/console/browser.mjs" || RC=$?
[ "$RC" = 77 ] && exit 77
[ "$RC" = 0 ] || fail "browser.mjs exited $RC"
# what the browser did, as the server recorded it
api GET '/v1/licenses?customer=Acme%20Robotics'
[ "$(jget '["licenses"].__len__()')" = 1 ] && [ "$(jget '["licenses"][0]["status"]')" = revoked ] &&
	[ "$(jget '["licenses"][0]["tier"]')" = full ] || fail "the license the browser issued: $(cat "$T/body")"
ok "the server holds the license the browser issued, upgraded and revoked"
