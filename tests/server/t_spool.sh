#!/bin/bash
# Upload spool (issue 9, item 12): a .clkey upload in progress is spooled to
# a file without a name, so no named file ever holds the plaintext key, and
# kill -9 mid-upload leaves nothing behind; ".upload-*" files a crash left
# (where O_TMPFILE is missing) are removed at start.
. "$(dirname "$0")/common.sh"

make_cert
write_conf
init_db
start
RAW="$PY $HERE/rawhttp.py"
make_model m 0.25
SPOOL="$T/var" # [storage] spool is empty: the database's folder

# holds_key DIR|FILE...: print the named files that hold a piece of the key
# that has already been sent (from its first half).
holds_key() {
	"$PY" - "$T/m.clkey" "$@" <<'PYEOF'
import os, sys
key = open(sys.argv[1], "rb").read()
piece = key[len(key) // 4:len(key) // 4 + 64]
for top in sys.argv[2:]:
    paths = [top] if not os.path.isdir(top) else [os.path.join(top, n) for n in os.listdir(top)]
    for p in paths:
        try:
            if not os.path.isfile(p):  # never open a pipe or socket of the daemon
                continue
            if piece in open(p, "rb").read():
                print(p)
        except OSError:
            pass
PYEOF
}

mkfifo "$T/up.in"
$RAW upload "$PORT" --file "$T/m.clkey" --target "/v1/models?name=m&version=1" --token "$TOKEN" \
	< "$T/up.in" > "$T/up.out" &
UP=$!
exec 7> "$T/up.in"
for _ in $(seq 1 200); do
	grep -q half "$T/up.out" && break
	sleep 0.05
done
grep -q half "$T/up.out" || fail "the upload did not start"
# the daemon has the first half once its spool file holds it
for _ in $(seq 1 200); do
	[ -n "$(holds_key /proc/"$DPID"/fd/* 2>/dev/null)" ] && break
	sleep 0.05
done
spooled=$(holds_key /proc/"$DPID"/fd/* 2>/dev/null | head -n 1)
[ -n "$spooled" ] || fail "no open file of the daemon holds the upload"
link=$(readlink "$spooled")
case "$link" in *"(deleted)") ;; *) fail "the upload is spooled to a named file: $link" ;; esac
named=$(holds_key "$SPOOL")
[ -z "$named" ] || fail "named files hold key bytes during the upload: $named"
ls -a "$SPOOL" | grep -q '^\.upload-' && fail "a named .upload- file exists: $(ls -a "$SPOOL")"
ok "during an upload the key bytes are only in an unnamed file ($link)"

kill -9 "$DPID"
wait "$DPID" 2>/dev/null || true
DPID=
exec 7>&-
wait "$UP" || true
# what a crash in the fallback's moment (a named spool file) would leave
head -c 4096 "$T/m.clkey" > "$SPOOL/.upload-Ab12Cd"
cp "$T/m.clkey" "$SPOOL/.upload-XyZ789"
echo keep > "$SPOOL/not-an-upload"
start
ls -a "$SPOOL" | grep -q '^\.upload-' && fail "spool files survive a restart: $(ls -a "$SPOOL")"
[ -f "$SPOOL/not-an-upload" ] || fail "the sweep removed a file that is not an upload"
named=$(holds_key "$SPOOL")
[ -z "$named" ] || fail "after kill -9 and a restart, files hold key bytes: $named"
grep -q 'removed 2 upload files left by a crash' "$T/serve.log" || fail "the sweep is not logged"
ok "after kill -9 mid-upload and a restart no spool file is left"

api POST "/v1/models?name=m&version=1" --data-binary "@$T/m.clkey"
expect 201 "an upload after the restart"
named=$(holds_key "$SPOOL")
[ -z "$named" ] || fail "files hold key bytes after an upload: $named"
ok "uploads still work and leave nothing"
