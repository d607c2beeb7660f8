#!/bin/bash
# corelocker-agent with several servers (--server A,B, CORELOCKER_SERVER or
# "server =" in the config file): a server that cannot be reached, that drops
# the TLS handshake, that answers the key with 503, or that breaks the key
# volume off mid-way sends the call to the next address; the output matches
# a direct unlock, the address that worked stays the current one, and each
# switch is one line on stderr.  Bad lists are refused with exit 2.
. "$top_srcdir/tests/agent/common.sh"
. "$top_srcdir/tests/agent/flaky.sh"

agent_setup
mk m 0.05 1
push m
tier m full 0
issue m full '"max_machines":1'
L=$T/m.locked.safetensors
ref "$L" "$T/m.clkey" 0 "$T/ref.safetensors"

# via TAG SERVERS: unlock through SERVERS to $T/TAG.safetensors; it must succeed and match the reference
via() {
	run_agent "$1" unlock "$L" -o "$T/$1.safetensors" --license "$KEY" --fingerprint fp-1 --server "$2"
	expect_rc 0 "$1" "unlock through $2"
	cmp -s "$T/$1.safetensors" "$T/ref.safetensors" || fail "unlock through $2: the output differs from the reference"
}
# switches TAG: how many failover lines TAG's stderr holds
switches() { grep -c '; trying https://' "$T/$1.err" || true; }

# ---- connect failures: any call moves on; the address that worked stays current ----
via dead "$DEAD,$URL"
[ "$(switches dead)" = 1 ] || fail "dead,live: expected one switch (activate, validate and key), got: $(cat "$T/dead.err")"
grep -q "^corelocker-agent: server $DEAD unreachable (.*); trying $URL\$" "$T/dead.err" || fail "switch line: $(cat "$T/dead.err")"
via live "$URL,$DEAD"
[ "$(switches live)" = 0 ] || fail "live,dead: a switch with the first address up: $(cat "$T/live.err")"
flaky close close
run_agent v1 validate --license "$KEY" --fingerprint fp-1 --server "$FURL,$URL"
expect_rc 0 v1 "validate through a server that closes the connection"
[ "$(cat "$T/v1.out")" = VALID ] && [ "$(switches v1)" = 1 ] || fail "close,live validate: $(cat "$T/v1.out" "$T/v1.err")"
run_agent q validate --license "$KEY" --fingerprint fp-1 --server "$DEAD,$URL" -q
expect_rc 0 q "validate -q through a dead first address"
[ ! -s "$T/q.err" ] || fail "--quiet printed on success: $(cat "$T/q.err")"
ok "dead port or closed connection first: unlock and validate go to the next address, one switch line (none with -q)"

# ---- the key call: 503 and a volume broken off mid-way ----
flaky k503 503 /v1/key
K503=$FURL
via s503 "$K503,$URL"
[ "$(grep -c '^POST /v1/key' "$T/k503.log")" = 1 ] && [ "$(requests k503)" = 3 ] ||
	fail "the 503 server should have had activate, validate and key: $(cat "$T/k503.log")"
grep -q "^corelocker-agent: server $K503 answered HTTP 503 UNAVAILABLE (retry after 1 s); trying $URL\$" "$T/s503.err" ||
	fail "503 switch line: $(cat "$T/s503.err")"
flaky cut cut /v1/key
CUT=$FURL
via cut "$CUT,$URL"
[ "$(grep -c '^POST /v1/key' "$T/cut.log")" = 1 ] || fail "the cut server never had the key call: $(cat "$T/cut.log")"
grep -q "^corelocker-agent: server $CUT failed after the request was sent (.*); trying $URL\$" "$T/cut.err" ||
	fail "cut switch line: $(cat "$T/cut.err")"
ok "key call: a 503 and a volume broken off mid-way move it to the next address; the volume restarts from scratch"

# The output is written only from a whole, verified volume: a failed fetch leaves it as it was.
printf 'an older file\n' > "$T/keep.safetensors"
run_agent keep unlock "$L" -o "$T/keep.safetensors" --license "$KEY" --fingerprint fp-1 --server "$CUT,$DEAD"
expect_rc 3 keep "a volume broken off, then no server"
[ "$(cat "$T/keep.safetensors")" = "an older file" ] || fail "a failed fetch changed the output"
if ls -A "$T" | grep -q '\.tmp\.'; then fail "a temp file was left: $(ls -A "$T")"; fi
run_agent gw unlock "$L" -o "$T/gw.safetensors" --license "$KEY" --fingerprint fp-1 --server "$K503,$DEAD"
expect_rc 15 gw "a 503, then no server"
grep -q "HTTP 503 UNAVAILABLE" "$T/gw.err" && [ ! -e "$T/gw.safetensors" ] || fail "503 then dead: $(cat "$T/gw.err")"
ok "a failed failover leaves the output untouched; the last 503 is the answer when nothing else answers"

# ---- the other ways to give the list ----
CORELOCKER_SERVER="$DEAD,$URL" run_agent env validate --license "$KEY" --fingerprint fp-1
expect_rc 0 env "CORELOCKER_SERVER with two URLs"
printf '[agent]\nserver = %s , %s/\n' "$DEAD" "$URL" > "$T/agent.conf"
(unset CORELOCKER_SERVER; run_agent conf validate --license "$KEY" --fingerprint fp-1 --config "$T/agent.conf"; expect_rc 0 conf "server = A, B/ in the config file"; [ "$(switches conf)" = 1 ] || fail "config list: $(cat "$T/conf.err")") || exit 1
ok "CORELOCKER_SERVER and the config file take the same list"

# ---- bad lists: exit 2, one line naming the bad entry ----
many=$URL
for _ in 1 2 3 4 5 6 7 8; do many="$many,$URL"; done
while IFS='|' read -r list want; do
	run_agent bad validate --license "$KEY" --fingerprint fp-1 --server "$list"
	refused 2 bad "--server '$list'"
	grep -qF "$want" "$T/bad.err" || fail "--server '$list': expected '$want', got: $(cat "$T/bad.err")"
done <<LISTS
$URL,http://127.0.0.1:1|server URL 'http://127.0.0.1:1' is not https://
$URL,,$URL|has an empty entry
$URL,|has an empty entry
$URL,https://|server URL 'https://' has no host
$URL,https://127.0.0.1:99999|server URL 'https://127.0.0.1:99999' is not a valid URL
$many|has more than 8 URLs
LISTS
ok "bad lists refused with exit 2: plain http, empty entries, no host, a bad port, more than 8"
