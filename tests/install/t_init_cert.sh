#!/usr/bin/env bash
# corelockerd init on a missing state folder creates it (0700) and names a
# missing parent; corelockerd cert --self-signed writes a key (0600) and a
# certificate that curl and corelockerctl accept with --cacert against the
# real daemon, and refuses to overwrite them without --force.
set -euo pipefail
. "$(dirname "$0")/../server/common.sh"

cat > "$T/d.conf" <<CONF
[server]
listen = 127.0.0.1
port = 0
tls_cert = tls/cert.pem
tls_key = tls/key.pem
[storage]
database = state/corelockerd.db
[keys]
signing_key = state/signing.key
master_key = state/master.key
CONF

# A missing parent: one line that names it, nothing created.
sed 's|state/|gone/state/|' "$T/d.conf" > "$T/gone.conf"
rc=0
"$CORELOCKERD" init -c "$T/gone.conf" > /dev/null 2> "$T/gone.err" || rc=$?
[ "$rc" = 1 ] || fail "init under a missing parent exited $rc, not 1"
[ "$(wc -l < "$T/gone.err")" = 1 ] || fail "init under a missing parent: not one line: $(cat "$T/gone.err")"
grep -qF "its parent $T/gone does not exist" "$T/gone.err" || fail "the message does not name $T/gone: $(cat "$T/gone.err")"
[ ! -e "$T/gone" ] || fail "init created $T/gone"
ok "init under a missing parent says which folder is missing"

[ ! -e "$T/state" ] || fail "state exists before init"
"$CORELOCKERD" init -c "$T/d.conf" > "$T/init.out" 2> "$T/init.err" || fail "init: $(cat "$T/init.err")"
TOKEN=$(tail -n 1 "$T/init.out")
[ "$(stat -c %a "$T/state")" = 700 ] || fail "state folder mode $(stat -c %a "$T/state"), not 700"
for f in corelockerd.db signing.key master.key; do
	[ -f "$T/state/$f" ] || fail "init did not create state/$f"
done
ok "init creates the missing state folder with mode 0700 and its files in it"

# cert: the usage error, then the files.
rc=0
"$CORELOCKERD" cert -c "$T/d.conf" > /dev/null 2> "$T/usage.err" || rc=$?
[ "$rc" = 2 ] || fail "cert without --self-signed exited $rc, not 2"
"$CORELOCKERD" cert -c "$T/d.conf" --self-signed 127.0.0.1 > "$T/cert.out" 2> "$T/cert.err" ||
	fail "cert: $(cat "$T/cert.err")"
[ "$(stat -c %a "$T/tls/key.pem")" = 600 ] || fail "TLS key mode $(stat -c %a "$T/tls/key.pem"), not 600"
grep -qF -- "--cacert $T/tls/cert.pem" "$T/cert.out" || fail "cert does not say where the CA file is: $(cat "$T/cert.out")"
openssl x509 -in "$T/tls/cert.pem" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' ||
	fail "the certificate has no IP SAN 127.0.0.1"
grep -q -- '-----BEGIN CERTIFICATE-----' "$T/tls/cert.pem" || fail "tls/cert.pem is not a PEM certificate"
ok "cert writes a 0600 key and a certificate with an IP SAN, and names the CA file"

# The real daemon serves it; curl and corelockerctl trust it as their CA file.
: > "$T/serve.log"
"$CORELOCKERD" -c "$T/d.conf" 2>> "$T/serve.log" &
DPID=$!
for _ in $(seq 1 600); do
	grep -q 'listening on https://' "$T/serve.log" && break
	kill -0 "$DPID" 2>/dev/null || fail "the daemon exited before listening"
	sleep 0.05
done
URL=$(grep -o 'https://127.0.0.1:[0-9]*' "$T/serve.log" | head -n 1)
[ -n "$URL" ] || fail "the daemon did not start listening"
curl -sS --cacert "$T/tls/cert.pem" -o "$T/server.pub" "$URL/v1/pubkey" || fail "curl --cacert refused the certificate"
grep -q 'BEGIN PUBLIC KEY' "$T/server.pub" || fail "GET /v1/pubkey: $(head -c 200 "$T/server.pub")"
"$CTL" license list --server "$URL" --token "$TOKEN" --cacert "$T/tls/cert.pem" > "$T/list.out" 2>&1 ||
	fail "corelockerctl --cacert refused the certificate: $(cat "$T/list.out")"
ok "curl and corelockerctl accept the certificate with --cacert against the daemon"

# A DNS name gets a DNS SAN, but only with --force over the existing files.
cp "$T/tls/cert.pem" "$T/cert.before"
rc=0
"$CORELOCKERD" cert -c "$T/d.conf" --self-signed corelocker.test > /dev/null 2> "$T/again.err" || rc=$?
[ "$rc" = 1 ] || fail "cert over existing files exited $rc, not 1"
grep -qF "refusing to overwrite" "$T/again.err" || fail "cert over existing files: $(cat "$T/again.err")"
cmp -s "$T/tls/cert.pem" "$T/cert.before" || fail "cert without --force changed tls/cert.pem"
"$CORELOCKERD" cert -c "$T/d.conf" --self-signed corelocker.test --force > /dev/null 2>&1 || fail "cert --force"
openssl x509 -in "$T/tls/cert.pem" -noout -ext subjectAltName | grep -q 'DNS:corelocker.test' ||
	fail "the replaced certificate has no DNS SAN corelocker.test"
[ "$(stat -c %a "$T/tls/key.pem")" = 600 ] || fail "the replaced TLS key is not 0600"
ok "cert refuses to overwrite without --force; --force replaces both (DNS SAN)"

# As root, what init and cert create belongs to the user the daemon runs as
# ([server] user; scripts/setup.sh makes corelocker-test).
if [ "$(id -u)" = 0 ] && getent passwd corelocker-test > /dev/null; then
	sed -e 's|state/|own/state/|' -e 's|tls/|own/tls/|' -e 's|^\[server\]$|[server]\nuser = corelocker-test|' \
		"$T/d.conf" > "$T/own.conf"
	mkdir "$T/own"
	"$CORELOCKERD" init -c "$T/own.conf" > /dev/null 2>&1 || fail "init as root with [server] user"
	"$CORELOCKERD" cert -c "$T/own.conf" --self-signed 127.0.0.1 > /dev/null 2>&1 || fail "cert as root with [server] user"
	for f in state state/corelockerd.db state/signing.key state/master.key tls tls/key.pem tls/cert.pem; do
		[ "$(stat -c %U "$T/own/$f")" = corelocker-test ] || fail "$f is owned by $(stat -c %U "$T/own/$f"), not corelocker-test"
	done
	ok "as root, the state and TLS folders and files belong to [server] user"
else
	ok "# SKIP not root, or no user corelocker-test: ownership not checked"
fi
