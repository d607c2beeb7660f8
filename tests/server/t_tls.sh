#!/bin/bash
# TLS (issue 9, item 10): TLS 1.3, and on TLS 1.2 only forward-secret AEAD
# suites.  openssl s_client offers one suite at a time; the handshake must
# fail for CBC, SHA-1 MAC and static-RSA suites and work for ECDHE + GCM or
# ChaCha20-Poly1305.  Run once with an ECDSA and once with an RSA
# certificate, since static RSA needs an RSA key to be negotiable at all.
. "$(dirname "$0")/common.sh"

# handshake ARGS...: 0 when a TLS session was established with these options.
handshake() {
	echo | openssl s_client -connect "127.0.0.1:$PORT" -servername localhost "$@" > "$T/s_client.out" 2>&1 &&
		grep -q 'Cipher is [A-Z]' "$T/s_client.out"
}
good() {
	handshake "$@" || fail "refused $*: $(tail -n 5 "$T/s_client.out")"
}
bad() {
	if handshake "$@"; then fail "accepted $*: $(grep -m1 'Cipher' "$T/s_client.out")"; fi
}

setup
good -tls1_3
for c in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305; do
	good -tls1_2 -cipher "$c"
done
for c in ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-SHA384; do
	bad -tls1_2 -cipher "$c"
done
bad -tls1_1
ok "ECDSA certificate: TLS 1.3 and ECDHE-ECDSA AEAD on 1.2; CBC and SHA-1 suites refused"
stop

# The same daemon with an RSA key.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" -out "$T/tls.crt" -days 1 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null || fail "openssl req rsa"
start
good -tls1_3
for c in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305; do
	good -tls1_2 -cipher "$c"
done
for c in AES128-GCM-SHA256 AES256-GCM-SHA384 AES128-SHA AES256-SHA AES128-SHA256 ECDHE-RSA-AES128-SHA \
	ECDHE-RSA-AES256-SHA ECDHE-RSA-AES128-SHA256; do
	bad -tls1_2 -cipher "$c"
done
ok "RSA certificate: static-RSA key exchange and CBC refused, ECDHE-RSA AEAD accepted"
call GET /healthz
expect 200 "curl with its default suites"
ok "curl still connects"

# The TLS key is a secret: check-config and the daemon refuse one that group
# or others may read, as for the signing and master keys.
stop
chmod 0640 "$T/tls.key"
"$CORELOCKERD" check-config -c "$T/d.conf" > /dev/null 2> "$T/err" && fail "check-config accepts a tls_key of mode 0640"
grep -q 'tls_key.*readable by group or others' "$T/err" || fail "check-config: $(cat "$T/err")"
"$CORELOCKERD" -c "$T/d.conf" 2> "$T/err" && fail "the daemon serves with a tls_key of mode 0640"
grep -q 'tls_key.*readable by group or others' "$T/err" || fail "serve: $(cat "$T/err")"
chmod 0600 "$T/tls.key"
"$CORELOCKERD" check-config -c "$T/d.conf" > /dev/null || fail "check-config refuses a tls_key of mode 0600"
ok "a tls_key readable by group or others is refused by check-config and at start"
