#!/bin/bash
# corelockerd basics: init, check-config, dump-config, TLS, health, pubkey,
# metrics, clean shutdown.
. "$(dirname "$0")/common.sh"

make_cert
write_conf

# ---- check-config on bad files ----
printf '[server]\nport = 70000\n' > "$T/bad1.conf"
"$CORELOCKERD" check-config -c "$T/bad1.conf" 2> "$T/err" && fail "port 70000 accepted"
grep -q 'bad1.conf:2: server.port must be an integer in \[0, 65535\]' "$T/err" || fail "port error: $(cat "$T/err")"
printf '[server]\nbogus = 1\n' > "$T/bad2.conf"
"$CORELOCKERD" check-config -c "$T/bad2.conf" 2> "$T/err" && fail "unknown key accepted"
grep -q "unknown key 'bogus'" "$T/err" || fail "unknown key error: $(cat "$T/err")"
printf '[limits]\nmax_body = 12X\n' > "$T/bad3.conf"
"$CORELOCKERD" check-config -c "$T/bad3.conf" 2> /dev/null && fail "bad size accepted"
printf '[nowhere]\n' > "$T/bad4.conf"
"$CORELOCKERD" check-config -c "$T/bad4.conf" 2> /dev/null && fail "unknown section accepted"
printf '[server]\nport = 1\nport = 2\n' > "$T/bad5.conf"
"$CORELOCKERD" check-config -c "$T/bad5.conf" 2> /dev/null && fail "duplicate key accepted"
# before init the keys and database are missing
"$CORELOCKERD" check-config -c "$T/d.conf" 2> "$T/err" && fail "check-config passed before init"
ok "check-config refuses bad values, unknown keys and sections, missing files"

# ---- the sample config is the table's dump, and parses ----
"$CORELOCKERD" dump-config > "$T/dump.conf"
cmp -s "$T/dump.conf" "$top_srcdir/etc/corelockerd.conf" || fail "etc/corelockerd.conf differs from 'corelockerd dump-config'"
sed 's/^#\([a-z_]* = \)/\1/' "$T/dump.conf" > "$T/defaults.conf"
"$CORELOCKERD" check-config -c "$T/defaults.conf" 2> "$T/err" || true
grep -q 'line\|must\|unknown' "$T/err" && fail "defaults do not parse: $(cat "$T/err")"
for k in $(sed -n 's/^#\([a-z_]*\) = .*/\1/p' "$T/dump.conf"); do
	grep -q "^\.B $k\$" "$top_srcdir/docs/man/corelockerd.conf.5" || fail "key $k missing from corelockerd.conf(5)"
done
ok "etc/corelockerd.conf is generated from the key table; every default parses; every key is in the man page"

# ---- init ----
init_db
case "$TOKEN" in clt_????????????????????????????????????????????????????????????????) ;; *) fail "token '$TOKEN'" ;; esac
for f in signing.key master.key; do
	[ "$(stat -c %a "$T/var/$f")" = 600 ] || fail "$f mode $(stat -c %a "$T/var/$f")"
done
[ "$(stat -c %s "$T/var/master.key")" = 32 ] || fail "master key size"
if [ "$CL_BACKEND" = sqlite ]; then
	[ "$(sql 'PRAGMA journal_mode')" = wal ] || fail "not in WAL mode"
	[ "$(sql 'PRAGMA user_version')" -ge 1 ] || fail "no migration recorded"
else
	n=$(ls "$top_srcdir"/schema/pg/[0-9]*.sql | wc -l)
	[ "$(sql 'SELECT count(*) FROM schema_version')" = "$n" ] || fail "not all $n migrations recorded"
fi
[ "$(sql 'SELECT COUNT(*) FROM tokens')" = 1 ] || fail "token rows"
sql "SELECT $(sql_hex hash) FROM tokens" | grep -qi "${TOKEN#clt_}" && fail "token stored in clear"
"$CORELOCKERD" init -c "$T/d.conf" > /dev/null 2>&1 && fail "a second init overwrote the keys"
"$CORELOCKERD" check-config -c "$T/d.conf" > /dev/null || fail "check-config after init"
ok "init: keys 0600, WAL database (on SQLite), token printed last and stored hashed; no second init"

# ---- serve ----
start
[ "$PORT" -gt 0 ] || fail "port"
call GET /healthz
expect 200 healthz
[ "$(jget '["status"]')" = ok ] || fail "healthz body"
call GET /v1/pubkey
expect 200 pubkey
cp "$T/body" "$T/pub.pem"
openssl pkey -pubin -in "$T/pub.pem" -noout -text 2>/dev/null | grep -q ED25519 || fail "pubkey is not Ed25519 PEM"
ok "serves on port 0 ($PORT): healthz, Ed25519 pubkey"

# ---- TLS ----
curl -sS "$URL/healthz" > /dev/null 2>&1 && fail "curl without --cacert trusted a self-signed certificate"
curl -sS --max-time 20 "http://127.0.0.1:$PORT/healthz" > /dev/null 2>&1 && fail "plain HTTP answered on the TLS port"
curl -sS --cacert "$T/tls.crt" --tlsv1.0 --tls-max 1.1 "$URL/healthz" > /dev/null 2>&1 && fail "TLS 1.1 accepted"
curl -sS --cacert "$T/tls.crt" --tlsv1.2 --tls-max 1.2 "$URL/healthz" > /dev/null || fail "TLS 1.2 refused"
curl -sS --cacert "$T/tls.crt" --tlsv1.3 "$URL/healthz" > /dev/null || fail "TLS 1.3 refused"
# another certificate authority is not trusted
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other.key" -out "$T/other.crt" \
	-days 1 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
curl -sS --cacert "$T/other.crt" "$URL/healthz" > /dev/null 2>&1 && fail "a foreign CA was accepted"
call GET /healthz
expect 200 "still serving after bad handshakes"
ok "TLS: untrusted and foreign certificates fail, plain HTTP and TLS 1.1 refused, 1.2 and 1.3 work"

# ---- routing ----
call GET /nowhere
expect_error 404 NOT_FOUND "unknown path"
call DELETE /v1/pubkey
expect_error 405 METHOD_NOT_ALLOWED "wrong method"
grep -qi '^Allow: GET' "$T/headers" || fail "405 without Allow"
ok "unknown paths 404, wrong methods 405 with Allow"

# ---- metrics ----
call GET /metrics
expect 200 metrics
grep -q '^corelockerd_requests_total{method="GET",route="/healthz",status="200"} [1-9]' "$T/body" || fail "requests counter"
grep -q '^corelockerd_request_duration_seconds_bucket{le="+Inf"} [1-9]' "$T/body" || fail "latency histogram"
grep -q '^corelockerd_key_deliveries_total 0' "$T/body" || fail "deliveries counter"
grep -q 'route="unmatched",status="404"' "$T/body" || fail "unmatched counter"
ok "metrics in Prometheus text format"

# ---- shutdown ----
stop
grep -q 'stopping on signal 15' "$T/serve.log" || fail "no stop message"
start
kill -INT "$DPID"
wait "$DPID" || fail "SIGINT exit status"
DPID=
ok "SIGTERM and SIGINT stop the daemon cleanly (exit 0)"
