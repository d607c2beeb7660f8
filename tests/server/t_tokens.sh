#!/bin/bash
# Admin tokens: the Authorization grammar (exactly "Bearer", one space, a
# token; a NUL with junk after the token is 400 from the HTTP layer), GET/POST/DELETE
# /v1/tokens, the read scope (GET only, else 403 FORBIDDEN), expiry and
# deletion refused at the next request, the last admin token kept (409),
# corelockerd token-create --scope/--expires, and corelockerctl token with
# its token sources (environment, --token-file; --token warns).
. "$(dirname "$0")/common.sh"

setup
ADMIN=$TOKEN
# as TOK METHOD PATH [curl args]: an admin call with token TOK
as() {
	local tok=$1
	shift
	TOKEN=$tok api "$@"
}
# raw_auth VALUE [EXTRA_HEADER_LINES]: GET /v1/models with this Authorization
# value, '@' standing for a NUL byte; prints the status code
raw_auth() {
	"$PY" - "$PORT" "$T/tls.crt" "$1" "${2:-}" <<'PYEOF'
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
auth, extra = sys.argv[3].encode().replace(b"@", b"\0"), sys.argv[4].encode()
ctx = ssl.create_default_context(cafile=ca)
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: " + auth +
                  b"\r\n" + extra + b"\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
print(data.split(b" ")[1].decode())
PYEOF
}

# ---- the Authorization grammar ----
[ "$(raw_auth "Bearer $ADMIN")" = 200 ] || fail "a plain Bearer token"
[ "$(raw_auth "Bearer $ADMIN" "X-After: 1"$'\r\n')" = 200 ] || fail "a plain Bearer token, not the last header"
# A NUL in any header value is refused by the HTTP layer (server/strict.c)
# with 400 before authorization is looked at.
# A NUL that ends the value (nothing after it on the line) is invisible to
# that layer; auth.c sees it in the library's buffer and answers 401.
[ "$(raw_auth "Bearer $ADMIN@junk" "X-After: 1"$'\r\n')" = 400 ] || fail "'Bearer TOKEN<NUL>junk' (then another header) not refused with 400"
[ "$(raw_auth "Bearer $ADMIN@" "X-After: 1"$'\r\n')" = 401 ] || fail "'Bearer TOKEN<NUL>' (then another header) not refused with 401"
[ "$(raw_auth "Bearer $ADMIN@junk")" = 400 ] || fail "'Bearer TOKEN<NUL>junk' as the last header not refused with 400"
[ "$(raw_auth "Bearer $ADMIN" "Authorization: Bearer $ADMIN"$'\r\n')" = 401 ] || fail "two Authorization headers"
for v in "bearer $ADMIN" "BEARER $ADMIN" "Bearer  $ADMIN" "Bearer	$ADMIN" "Bearer $ADMIN x" "Bearer $ADMIN," \
	"Bearer" "Bearer " "Basic $ADMIN" "$ADMIN" "Bearer ${ADMIN}é"; do
	call GET /v1/models -H "Authorization: $v"
	expect_error 401 UNAUTHORIZED "Authorization: '$v'"
done
ok "Authorization: exactly 'Bearer' SP token (NUL+junk: 400); case, extra spaces, tabs, trailing text, two headers: 401"

# ---- list, create ----
api GET /v1/tokens
expect 200 "list"
[ "$(jget '["tokens"].__len__()')" = 1 ] && [ "$(jget '["tokens"][0]["scope"]')" = admin ] &&
	[ "$(jget '["tokens"][0]["current"]')" = true ] && [ "$(jget '["tokens"][0]["expires_at"]')" = null ] ||
	fail "initial list: $(cat "$T/body")"
grep -q 'clt_\|hash' "$T/body" && fail "the list shows a secret: $(cat "$T/body")"
ADMIN_ID=$(jget '["tokens"][0]["id"]')
api POST /v1/tokens -d '{"name":"auditor","scope":"read"}'
expect 201 "create a read token"
RO=$(jget '["token"]')
RO_ID=$(jget '["id"]')
[ "$(jget '["scope"]')" = read ] && [ "$(jget '["current"]')" = false ] || fail "create answer: $(cat "$T/body")"
case "$RO" in clt_????????????????????????????????????????????????????????????????) ;; *) fail "token '$RO'" ;; esac
sql "SELECT $(sql_hex hash) FROM tokens" | grep -qi "${RO#clt_}" && fail "token stored in clear"
for bad in '{"name":"x","scope":"root"}' '{"name":"x"}' '{"scope":"read"}' '{"name":"","scope":"read"}' \
	'{"name":"a\u0085b","scope":"read"}' '{"name":"x","scope":"read","expires_at":"2001-01-01T00:00:00Z"}' \
	'{"name":"x","scope":"read","expires_at":"9999-12-31T23:59:60-23:59"}' '{"name":"x","scope":"read","id":3}'; do
	api POST /v1/tokens -d "$bad"
	expect_error 400 INVALID_FIELD "create $bad"
done
[ "$(sql 'SELECT COUNT(*) FROM tokens')" = 2 ] || fail "a refused create stored a token"
ok "GET /v1/tokens shows no secret; POST shows it once; bad scope, names, expiry: 400"

# ---- the read scope ----
as "$RO" GET /v1/models
expect 200 "a read token GETs"
as "$RO" GET /v1/tokens
expect 200 "a read token lists tokens"
[ "$(jget '["tokens"][1]["current"]')" = true ] || fail "current flag: $(cat "$T/body")"
as "$RO" POST /v1/tokens -d '{"name":"escalate","scope":"admin"}'
expect_error 403 FORBIDDEN "a read token creates a token"
as "$RO" DELETE "/v1/tokens/$ADMIN_ID"
expect_error 403 FORBIDDEN "a read token deletes a token"
as "$RO" POST /v1/licenses -d '{"model":1,"tier":"x","customer":"c"}'
expect_error 403 FORBIDDEN "a read token issues a license"
as "$RO" DELETE /v1/models/1
expect_error 403 FORBIDDEN "a read token deletes a model"
[ "$(sql 'SELECT COUNT(*) FROM tokens')" = 2 ] || fail "a read token changed the tokens"
ok "a read token may GET; POST, DELETE (tokens, licenses, models): 403 FORBIDDEN"

# ---- expiry: refused from the moment it passes ----
api POST /v1/tokens -d '{"name":"temp","scope":"admin","expires_at":"2999-01-01T00:00:00Z"}'
expect 201 "create an expiring token"
TMP=$(jget '["token"]')
TMP_ID=$(jget '["id"]')
[ "$(jget '["expires_at"]')" = 2999-01-01T00:00:00Z ] || fail "expires_at: $(cat "$T/body")"
as "$TMP" GET /v1/models
expect 200 "before its expiry"
# move its expiry into the past (as time passing would), without restarting the daemon
sql "UPDATE tokens SET expires_at = $(($(date +%s) - 1)) WHERE id = $TMP_ID" > /dev/null
as "$TMP" GET /v1/models
expect_error 401 UNAUTHORIZED "after its expiry"
api GET /v1/tokens
[ "$(jget "[\"tokens\"][2][\"expired\"]")" = true ] || fail "expired flag: $(cat "$T/body")"
ok "an expired token is refused at once, and listed as expired"

# ---- delete ----
api DELETE /v1/tokens/999
expect_error 404 NOT_FOUND "delete an unknown token"
api DELETE /v1/tokens/x
expect_error 404 NOT_FOUND "delete token x"
api DELETE "/v1/tokens/$RO_ID"
expect 204 "delete the read token"
as "$RO" GET /v1/models
expect_error 401 UNAUTHORIZED "a deleted token"
# the only live admin token (the expired one does not count) cannot go
api DELETE "/v1/tokens/$ADMIN_ID"
expect_error 409 LAST_ADMIN_TOKEN "delete the last admin token"
as "$ADMIN" GET /v1/models
expect 200 "the last admin token still works"
api POST /v1/tokens -d '{"name":"second","scope":"admin"}'
expect 201 "a second admin token"
A2=$(jget '["token"]')
A2_ID=$(jget '["id"]')
# deleting the token one is using is allowed while another admin token lives
api DELETE "/v1/tokens/$ADMIN_ID"
expect 204 "delete one's own token"
as "$ADMIN" GET /v1/models
expect_error 401 UNAUTHORIZED "one's deleted own token"
as "$A2" DELETE "/v1/tokens/$A2_ID"
expect_error 409 LAST_ADMIN_TOKEN "delete the now last admin token"
as "$A2" DELETE "/v1/tokens/$TMP_ID"
expect 204 "delete an expired token"
as "$A2" GET /v1/audit
for a in token.create token.delete; do
	grep -q "\"$a\"" "$T/body" || fail "no $a audit entry"
done
ok "delete: 404 unknown, 401 at the next use, one's own allowed, the last live admin token 409; audited"

# ---- corelockerd token-create --scope --expires ----
"$CORELOCKERD" token-create -c "$T/d.conf" --scope read --expires 2999-01-01T00:00:00Z cli-reader > "$T/tc.out" ||
	fail "token-create --scope read"
R2=$(tail -n 1 "$T/tc.out")
as "$R2" GET /v1/models
expect 200 "token-create --scope read: GET"
as "$R2" POST /v1/tokens -d '{"name":"x","scope":"read"}'
expect_error 403 FORBIDDEN "token-create --scope read: POST"
for args in "--scope root x" "--expires 2001-01-01T00:00:00Z x" "--expires tomorrow x"; do
	# shellcheck disable=SC2086
	rc=0
	"$CORELOCKERD" token-create -c "$T/d.conf" $args > /dev/null 2> "$T/tc.err" || rc=$?
	[ "$rc" = 2 ] || fail "token-create $args: exit $rc"
	[ "$(wc -l < "$T/tc.err")" = 1 ] || fail "token-create $args: $(cat "$T/tc.err")"
done
ok "corelockerd token-create --scope read --expires; bad scope or expiry: exit 2, one line"

# ---- corelockerctl token, and where it takes its token from ----
export CORELOCKER_SERVER="$URL" CORELOCKER_CACERT="$T/tls.crt"
# ctl TAG ARGS...: RC, $T/TAG.out, $T/TAG.err
ctl() {
	local tag=$1
	shift
	RC=0
	"$CTL" "$@" > "$T/$tag.out" 2> "$T/$tag.err" || RC=$?
}
CORELOCKER_TOKEN=$A2 ctl c1 token create ctl-made --scope read --expires-at 2999-01-01T00:00:00Z
[ "$RC" = 0 ] || fail "ctl token create: $RC $(cat "$T/c1.err")"
C1=$(sed -n 's/^token  *//p' "$T/c1.out")
C1_ID=$(sed -n 's/^id  *//p' "$T/c1.out")
[ -n "$C1" ] && [ -n "$C1_ID" ] || fail "ctl token create output: $(cat "$T/c1.out")"
grep -q "^scope  *read" "$T/c1.out" || fail "ctl scope: $(cat "$T/c1.out")"
as "$C1" GET /v1/models
expect 200 "the ctl-made token works"
printf '%s\n' "$A2" > "$T/tok"
chmod 600 "$T/tok"
ctl c2 token list --token-file "$T/tok"
[ "$RC" = 0 ] || fail "ctl token list --token-file: $RC $(cat "$T/c2.err")"
grep -q "ctl-made" "$T/c2.out" && grep -q "cli-reader" "$T/c2.out" || fail "ctl list: $(cat "$T/c2.out")"
[ -s "$T/c2.err" ] && fail "--token-file warns: $(cat "$T/c2.err")"
ctl c3 token list --token "$A2"
[ "$RC" = 0 ] || fail "ctl --token: $RC"
grep -q "warning: --token on the command line is visible" "$T/c3.err" || fail "no warning for --token: $(cat "$T/c3.err")"
CORELOCKER_TOKEN=$A2 ctl c4 token list
[ "$RC" = 0 ] && [ ! -s "$T/c4.err" ] || fail "CORELOCKER_TOKEN: $RC $(cat "$T/c4.err")"
CORELOCKER_TOKEN=$A2 ctl c5 token list --token-file "$T/tok"
[ "$RC" = 2 ] || fail "a token and a token file: exit $RC"
: > "$T/empty"
ctl c6 token list --token-file "$T/empty"
[ "$RC" = 2 ] && grep -q "no token on the first line" "$T/c6.err" || fail "empty token file: $RC $(cat "$T/c6.err")"
ctl c7 token list --token-file "$T/missing"
[ "$RC" = 2 ] || fail "missing token file: exit $RC"
CORELOCKER_TOKEN_FILE="$T/tok" ctl c8 token delete "$C1_ID"
[ "$RC" = 0 ] || fail "ctl token delete: $RC $(cat "$T/c8.err")"
as "$C1" GET /v1/models
expect_error 401 UNAUTHORIZED "the ctl-deleted token"
CORELOCKER_TOKEN=$A2 ctl c9 token delete "$A2_ID"
[ "$RC" = 4 ] && grep -q LAST_ADMIN_TOKEN "$T/c9.err" || fail "ctl delete the last admin token: $RC $(cat "$T/c9.err")"
CORELOCKER_TOKEN=$R2 ctl c10 token create nope
[ "$RC" = 5 ] && grep -q FORBIDDEN "$T/c10.err" || fail "ctl create with a read token: $RC $(cat "$T/c10.err")"
ok "corelockerctl token list|create|delete; token from the environment or --token-file; --token warns"
stop
