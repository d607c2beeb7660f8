#!/bin/bash
# Slow clients (issue 9, item 7): one address cannot take more than
# max_connections_per_ip connections, so it cannot starve another address
# even when its cap of slow connections is open; a request head that is not
# complete within header_timeout, and a body slower than min_upload_rate,
# get their connection closed.  Loopback addresses 127.0.0.2 and 127.0.0.3
# play the attackers, 127.0.0.1 the honest client.
. "$(dirname "$0")/common.sh"

HT=4 # header_timeout
make_cert
write_conf "max_connections_per_ip = 4" "header_timeout = $HT" "min_upload_rate = 1K"
# one worker thread and 8 connections in all: the per-address cap is all
# that keeps a slot free for 127.0.0.1
sed -i 's/^threads = 4$/threads = 1\nmax_connections = 8/' "$T/d.conf"
init_db
start
RAW="$PY $HERE/rawhttp.py"

# ---- one address's cap does not delay another's /healthz ----
mkfifo "$T/hold.in"
$RAW hold "$PORT" --bind 127.0.0.2 --count 8 < "$T/hold.in" > "$T/hold.out" &
HOLD=$!
exec 7> "$T/hold.in"
for _ in $(seq 1 200); do
	[ -s "$T/hold.out" ] && break
	sleep 0.05
done
HELD=$(cat "$T/hold.out")
[ "$HELD" = 4 ] || fail "127.0.0.2 holds $HELD connections, not its cap of 4"
t=$(curl -sS --cacert "$T/tls.crt" -o "$T/body" -w '%{http_code} %{time_total}' "$URL/healthz") || fail "curl /healthz"
[ "${t%% *}" = 200 ] || fail "/healthz from 127.0.0.1: HTTP ${t%% *}"
"$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)' "${t#* }" ||
	fail "/healthz from 127.0.0.1 took ${t#* } s while 127.0.0.2 held its cap"
exec 7>&-
wait "$HOLD" || true
ok "127.0.0.2 gets 4 of 8 connections; 127.0.0.1's /healthz answers in ${t#* } s"

# ---- slow loris: one header line every 0.5 s, far within [server] timeout ----
$RAW slow "$PORT" --bind 127.0.0.3 --count 3 --every 0.5 --max $((HT + 10)) > "$T/slow.out"
while read -r s; do
	[ "$s" != open ] || fail "a slow-loris connection is still open after $((HT + 10)) s"
	"$PY" -c 'import sys; s,h=map(float,sys.argv[1:]); sys.exit(0 if h - 0.5 <= s <= h + 5 else 1)' "$s" "$HT" ||
		fail "a slow-loris connection was closed after $s s, header_timeout is $HT s"
done < "$T/slow.out"
grep -q 'request head not complete within header_timeout' "$T/serve.log" || fail "the cut is not logged"
ok "slow-loris connections are closed after header_timeout ($(tr '\n' ' ' < "$T/slow.out")s)"

# ---- a body at 2 bytes per second, under min_upload_rate ----
$RAW slow "$PORT" --bind 127.0.0.3 --body --count 1 --every 0.5 --max $((HT + 10)) > "$T/body.out"
s=$(cat "$T/body.out")
[ "$s" != open ] || fail "a slow body is still open after $((HT + 10)) s"
"$PY" -c 'import sys; s,h=map(float,sys.argv[1:]); sys.exit(0 if h - 0.5 <= s <= h + 5 else 1)' "$s" "$HT" ||
	fail "a slow body was cut after $s s"
grep -q 'request body slower than min_upload_rate' "$T/serve.log" || fail "the slow body cut is not logged"
ok "a body under min_upload_rate is cut (after $s s)"

call GET /healthz
expect 200 "the daemon still serves"
