#!/bin/bash
# Models and tiers over the admin API: upload bounds, key validation, tokens,
# malformed JSON; failed requests change nothing.
. "$(dirname "$0")/common.sh"

setup
make_model m1 0.25
make_model m2 0.25 2

# ---- tokens ----
for p in /v1/models /v1/models/1 /v1/models/1/tiers /v1/models/1/tiers/x /v1/licenses /v1/licenses/1 \
	/v1/licenses/1/machines /v1/audit; do
	call GET "$p"
	expect_error 401 UNAUTHORIZED "GET $p without a token"
	grep -qi '^WWW-Authenticate: Bearer' "$T/headers" || fail "401 without WWW-Authenticate"
	call GET "$p" -H "Authorization: Bearer clt_0000000000000000000000000000000000000000000000000000000000000000"
	expect_error 401 UNAUTHORIZED "GET $p with a wrong token"
done
call POST "/v1/models?name=m&version=1" --data-binary "@$T/m1.clkey" -H "Authorization: Basic YWRtaW46YWRtaW4="
expect_error 401 UNAUTHORIZED "upload with basic auth"
call PUT /v1/models/1/tiers/basic -d '{"ratio":0.1}' -H "Authorization: Bearer $TOKEN$TOKEN"
expect_error 401 UNAUTHORIZED "overlong token"
[ "$(sql 'SELECT COUNT(*) FROM models')" = 0 ] || fail "unauthenticated upload stored"
ok "every admin route refuses missing, wrong and malformed tokens"

# ---- upload ----
push_model m1 fashion
[ "$(jget '["unit"]')" = element ] && [ "$(jget '["scope"]')" = layer ] && [ "$(jget '["alpha"]')" = 0.25 ] ||
	fail "model fields: $(cat "$T/body")"
[ "$(jget '["locked_sha256"]')" = "$(sha256sum < "$T/m1.locked.safetensors" | cut -c1-64)" ] || fail "locked fingerprint"
[ "$(jget '["original_sha256"]')" = "$(sha256sum < "$T/m1.safetensors" | cut -c1-64)" ] || fail "original fingerprint"
[ "$(jget '["key_bytes"]')" = "$(stat -c %s "$T/m1.clkey")" ] || fail "key size"
api POST "/v1/models?name=fashion&version=1" --data-binary "@$T/m2.clkey"
expect_error 409 ALREADY_EXISTS "duplicate name and version"
ok "push: 201 with fingerprints; duplicate 409"

snapshot() { sql "SELECT (SELECT COUNT(*) FROM models)||'/'||(SELECT COUNT(*) FROM model_keys)||'/'||(SELECT COUNT(*) FROM tiers)||'/'||(SELECT COUNT(*) FROM slices)||'/'||(SELECT COUNT(*) FROM licenses)"; }
before=$(snapshot)
api POST "/v1/models?name=st&version=1" --data-binary "@$T/m1.safetensors"
expect_error 400 INVALID_KEY "a safetensors file pushed as a key"
grep -q 'not a .clkey' "$T/body" || fail "key error message"
head -c 1000 "$T/m1.clkey" > "$T/trunc.clkey"
api POST "/v1/models?name=tr&version=1" --data-binary "@$T/trunc.clkey"
expect_error 400 INVALID_KEY "a truncated key"
cp "$T/m1.clkey" "$T/flip.clkey"
printf '\x55' | dd of="$T/flip.clkey" bs=1 seek=300 conv=notrunc 2>/dev/null
api POST "/v1/models?name=fl&version=1" --data-binary "@$T/flip.clkey"
expect_error 400 INVALID_KEY "a corrupted key"
api POST "/v1/models?name=e&version=1" --data-binary ""
expect_error 400 INVALID_KEY "an empty body"
api POST "/v1/models?name=bad/name&version=1" --data-binary "@$T/m2.clkey"
expect_error 400 BAD_REQUEST "a bad name"
api POST "/v1/models?version=1" --data-binary "@$T/m2.clkey"
expect_error 400 BAD_REQUEST "no name"
head -c 70000 /dev/urandom > "$T/big"
# Expect: 100-continue, as clients send for large uploads: the 413 comes
# before the body, so curl never races the server's close with its send
api POST "/v1/models?name=big&version=1" -H 'Expect: 100-continue' --data-binary "@$T/big"
expect_error 413 PAYLOAD_TOO_LARGE "a body over max_body (64K)"
# chunked, no Content-Length: the connection is dropped past the cap
api POST "/v1/models?name=big&version=2" -H 'Transfer-Encoding: chunked' --data-binary "@$T/big"
[ "$STATUS" != 201 ] || fail "chunked upload over max_body stored"
# a truncated upload: the client promises more than it sends, then hangs up
"$PY" - "$PORT" "$T/tls.crt" "$TOKEN" "$T/m2.clkey" <<'PYEOF' || fail "truncated upload script"
import socket, ssl, sys
port, ca, token, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
data = open(path, "rb").read()
ctx = ssl.create_default_context(cafile=ca)
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(("POST /v1/models?name=cut&version=1 HTTP/1.1\r\nHost: localhost\r\n"
                   "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n" % (token, len(data))).encode())
        s.sendall(data[: len(data) // 2])
PYEOF
call GET /healthz
expect 200 "serving after hostile uploads"
[ "$(snapshot)" = "$before" ] || fail "a failed upload changed the database: $before -> $(snapshot)"
for _ in $(seq 1 200); do
	ls -A "$T/var" | grep -q '^\.upload-' || break
	sleep 0.05
done
ls -A "$T/var" | grep -q '^\.upload-' && fail "an upload spool file was left behind"
ok "bad keys (safetensors, truncated, corrupted, empty) 400; over max_body 413; truncated upload: nothing stored, still serving"

api POST "/v1/models?name=fashion&version=2" --data-binary "@$T/m2.clkey"
expect 201 "second model"
MID2=$(jget '["id"]')
api GET /v1/models
expect 200 "list models"
[ "$(jget '["models"].__len__()')" = 2 ] || fail "two models listed"
api GET "/v1/models/$MID"
expect 200 "show by id"
[ "$(jget '["version"]')" = 1 ] || fail "show by id"
api GET /v1/models/fashion
expect 200 "show by name"
[ "$(jget '["id"]')" = "$MID2" ] || fail "a name resolves to its newest version"
api GET /v1/models/999
expect_error 404 NOT_FOUND "unknown model"
ok "list, show by id and by name, 404"

# ---- tiers ----
cut_tier basic 0.1
[ "$(jget '["ratio"]')" = 0.1 ] || fail "tier ratio"
U1=$(jget '["units"]')
cut_tier full 0
UF=$(jget '["units"]')
[ "$UF" -gt "$U1" ] || fail "the full tier restores more units ($UF) than basic ($U1)"
[ "$UF" = "$(sql "SELECT units_locked FROM models WHERE id = $MID")" ] || fail "full tier restores every locked unit"
cut_tier top 0.25
[ "$(jget '["units"]')" = 0 ] || fail "tier alpha restores nothing"
for body in '{"ratio":0.3}' '{"ratio":-0.01}' '{"ratio":"0.1"}' '{"ratio":null}' '{}' '{"ratio":0.1,"x":1}' \
	'[0.1]' '{"ratio":0.1' '' '{"ratio":1e400}' '{"ratio":0.1,"ratio":0.2}'; do
	api PUT "/v1/models/$MID/tiers/bad" -d "$body"
	expect 400 "tier body $body"
done
deep=$(printf '{"a":%.0s' $(seq 1 2000))1$(printf '}%.0s' $(seq 1 2000))
api PUT "/v1/models/$MID/tiers/bad" -d "$deep"
expect_error 400 INVALID_JSON "deep JSON"
head -c 70000 /dev/zero | tr '\0' ' ' > "$T/bigjson"
# Expect: 100-continue for the same reason as the upload above
api PUT "/v1/models/$MID/tiers/bad" -H 'Expect: 100-continue' --data-binary "@$T/bigjson"
expect_error 413 PAYLOAD_TOO_LARGE "JSON over max_json"
api PUT "/v1/models/$MID/tiers/bad%20name" -d '{"ratio":0.1}'
expect 400 "bad tier name"
api GET "/v1/models/$MID/tiers/bad"
expect_error 404 NOT_FOUND "no tier was created by bad requests"
ok "tiers: create, ratio bounds [0, alpha], wrong types, malformed, deep and oversized JSON -> 4xx, nothing created"

slice_before=$(sql "SELECT slice_id FROM tiers WHERE model_id = $MID AND name = 'basic'")
api PUT "/v1/models/$MID/tiers/basic" -d '{"ratio":0.05}'
expect 200 "re-cut"
[ "$(jget '["units"]')" -gt "$U1" ] || fail "re-cut at 0.05 restores more"
[ "$(sql "SELECT COUNT(*) FROM slices WHERE id = '$slice_before'")" = 0 ] || fail "old slice left behind"
[ "$(sql "SELECT COUNT(*) FROM slices")" = "$(sql "SELECT COUNT(*) FROM tiers")" ] || fail "one slice per tier"
api GET "/v1/models/$MID/tiers"
expect 200 "list tiers"
[ "$(jget '["tiers"][0]["name"]')" = top ] || fail "tiers listed by ratio"
[ "$(jget '["tiers"].__len__()')" = 3 ] || fail "three tiers"
api GET "/v1/models/$MID/tiers/basic"
expect 200 "show tier"
ok "re-cut replaces the slice in one transaction; list and show"

# ---- at rest ----
sql "SELECT 'k', $(sql_hex sealed) FROM model_keys UNION ALL SELECT 's', $(sql_hex sealed) FROM slices" > "$T/sealed"
# Every file the database keeps too: the SQLite file and its WAL, or the
# PostgreSQL cluster's folder (tables, TOAST, WAL).
if [ "$CL_BACKEND" = sqlite ]; then
	at_rest=("$T/var/corelockerd.db"*)
else
	sql "CHECKPOINT" > /dev/null
	at_rest=("${CL_PG_DATA:?}")
fi
"$PY" - "$T/sealed" "$T/m1.clkey" "${at_rest[@]}" <<'PYEOF' || fail "key material found in clear in the database"
import os, sys
key = open(sys.argv[2], "rb").read()
needle = key[-200:-40]  # record bytes near the end of the key
rows = [line.split("|") for line in open(sys.argv[1]).read().split()]
assert any(kind == "k" for kind, _ in rows) and any(kind == "s" for kind, _ in rows), rows
for kind, hexblob in rows:
    blob = bytes.fromhex(hexblob)
    assert needle not in blob
    if kind == "k":
        assert len(blob) == len(key) + 29  # version, nonce, tag
files = 0
for top in sys.argv[3:]:
    for d, _, names in os.walk(top) if os.path.isdir(top) else [("", None, [top])]:
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files += 1
                assert needle not in open(p, "rb").read(), p
assert files, sys.argv[3:]
PYEOF
ok "keys and slices are sealed at rest"

# ---- delete ----
api DELETE "/v1/models/$MID/tiers/top"
expect 204 "delete tier"
api DELETE "/v1/models/$MID/tiers/top"
expect_error 404 NOT_FOUND "delete tier twice"
api DELETE "/v1/models/$MID2"
expect 204 "delete model"
api GET "/v1/models/$MID2"
expect_error 404 NOT_FOUND "deleted model"
[ "$(sql "SELECT COUNT(*) FROM model_keys WHERE model_id = $MID2")" = 0 ] || fail "key left behind"
ok "delete tier and model"

# ---- survives a restart ----
stop
start
api GET "/v1/models/$MID"
expect 200 "model after restart"
[ "$(jget '["tiers"].__len__()')" = 2 ] || fail "tiers after restart"
ok "data survives a restart"
