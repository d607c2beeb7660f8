#!/bin/bash
# Log injection (issue 9, item 9): nothing a client sends can forge a log
# line or a journal priority.  The daemon runs with JOURNAL_STREAM set, so
# each line starts with its syslog priority "<N>"; an emergency line "<0>"
# or a raw control byte in the log is a forgery.
. "$(dirname "$0")/common.sh"

export JOURNAL_STREAM=8:1
make_cert
write_conf
init_db
# start() looks for "listening on" with the plain prefix; under journald the
# line is "<6>listening on ...", which it still finds.
start
RAW="$PY $HERE/rawhttp.py"

# The issue's request: an unauthenticated path with an encoded newline and "<0>".
call GET "/v1/models/x%0A%3C0%3Eforged-by-path"
[ "${STATUS:0:1}" = 4 ] || fail "expected a 4xx, got $STATUS"
call GET "/v1/licenses?customer=x%0A%3C0%3Eforged-by-query"
[ "${STATUS:0:1}" = 4 ] || fail "expected a 4xx, got $STATUS"
# Raw control bytes (ESC, DEL, CR) in the request target and a header name,
# which the daemon logs when it refuses them.
printf 'GET /v1/models/x\033[2J\177<0>forged-by-esc HTTP/1.1\r\nHost: x\r\n\r\n' | $RAW send "$PORT" > /dev/null
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX\001<0>forged-by-header: 1\r\n\r\n' | $RAW send "$PORT" > /dev/null
# wait for the refusals to be logged
for _ in $(seq 1 100); do
	[ "$(grep -ac 'forged' "$T/serve.log")" -ge 3 ] && break
	sleep 0.05
done
stop

grep -a 'forged' "$T/serve.log" >&2 || fail "the refusals were not logged"
bad=$(grep -av '^<[3-7]>' "$T/serve.log" || true)
[ -z "$bad" ] || fail "a log line without a daemon priority prefix: $bad"
grep -aq '^<[012]>' "$T/serve.log" && fail "a forged emergency/alert/critical line"
LC_ALL=C grep -aq $'[\x01-\x08\x0b-\x1f\x7f]' "$T/serve.log" && fail "a raw control byte in the log"
grep -aq 'x\\x1b\[2J\\x7f<0>forged-by-esc' "$T/serve.log" || fail "ESC and DEL are not shown escaped"
ok "client data in log lines is escaped: no forged line, priority or control byte"
