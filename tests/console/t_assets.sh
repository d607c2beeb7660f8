#!/bin/bash
# The console's files as corelockerd serves them (curl, no browser): the
# bytes of server/console/ as they are or gzip'd by Accept-Encoding, the
# Content-Security-Policy and the other headers on every answer, ETag
# revalidation, /console redirected, unknown files 404, and a page with no
# inline script or style and nothing from another origin.
. "$top_srcdir/tests/server/common.sh"
SRC=$top_srcdir/server/console
CSP="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

setup
# hdr NAME: the value of header NAME in $T/headers
hdr() {
	grep -i "^$1:" "$T/headers" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r'
}

# ---- each file, as it is and gzip'd ----
for f in index.html app.js app.css icon.svg; do
	[ "$f" = index.html ] && p=/console/ || p=/console/$f
	call GET "$p"
	expect 200 "GET $p"
	cmp -s "$T/body" "$SRC/$f" || fail "$p is not server/console/$f"
	[ "$(hdr Content-Security-Policy)" = "$CSP" ] || fail "$p: CSP '$(hdr Content-Security-Policy)'"
	[ "$(hdr X-Content-Type-Options)" = nosniff ] && [ "$(hdr X-Frame-Options)" = DENY ] &&
		[ "$(hdr Cache-Control)" = no-cache ] && [ "$(hdr Referrer-Policy)" = no-referrer ] ||
		fail "$p headers: $(cat "$T/headers")"
	[ -z "$(hdr Content-Encoding)" ] || fail "$p: encoded without Accept-Encoding"
	case "$f:$(hdr Content-Type)" in
	*.html:"text/html; charset=utf-8" | *.js:"text/javascript; charset=utf-8" | *.css:"text/css; charset=utf-8" | \
		*.svg:image/svg+xml) ;;
	*) fail "$p: Content-Type '$(hdr Content-Type)'" ;;
	esac
	ETAG=$(hdr ETag)
	call GET "$p" -H 'Accept-Encoding: gzip'
	[ "$(hdr Content-Encoding)" = gzip ] && [ "$(hdr Vary)" = Accept-Encoding ] || fail "$p: no gzip: $(cat "$T/headers")"
	[ "$(hdr Content-Security-Policy)" = "$CSP" ] || fail "$p gzip: no CSP"
	[ "$(stat -c %s "$T/body")" -lt "$(stat -c %s "$SRC/$f")" ] || fail "$p: the gzip copy is not smaller"
	gzip -dc < "$T/body" | cmp -s - "$SRC/$f" || fail "$p: the gzip copy does not unpack to server/console/$f"
	[ "$(hdr ETag)" != "$ETAG" ] || fail "$p: both encodings share ETag $ETAG"
	rm -f "$T/body" # curl writes no file for an empty body
	call GET "$p" -H "If-None-Match: $ETAG"
	expect 304 "$p revalidated with its ETag"
	[ ! -s "$T/body" ] && [ "$(hdr ETag)" = "$ETAG" ] && [ "$(hdr Content-Security-Policy)" = "$CSP" ] ||
		fail "$p 304: $(cat "$T/headers")"
	call GET "$p" -H 'If-None-Match: "0000000000000000"'
	expect 200 "$p with a stale ETag"
done
ok "every console file: byte-identical, gzip'd on request (and smaller), CSP, nosniff, DENY, no-cache, ETag/304"

# ---- Accept-Encoding, read as RFC 9110 says ----
for ae in 'gzip' 'GZIP' 'deflate, gzip;q=0.5' 'br;q=1, *' 'gzip ; q=1.0' 'identity, gzip'; do
	call GET /console/app.js -H "Accept-Encoding: $ae"
	[ "$(hdr Content-Encoding)" = gzip ] || fail "Accept-Encoding '$ae': not gzip'd"
done
for ae in 'gzip;q=0' 'gzip; q=0.000' 'br' 'deflate, identity' 'gzipx' 'x-gzip2' '*;q=0'; do
	call GET /console/app.js -H "Accept-Encoding: $ae"
	[ -z "$(hdr Content-Encoding)" ] && cmp -s "$T/body" "$SRC/app.js" || fail "Accept-Encoding '$ae': gzip'd"
done
ok "Accept-Encoding: gzip, *, weights and q=0 refusals"

# ---- paths ----
call GET /console
expect 308 "GET /console"
[ "$(hdr Location)" = /console/ ] || fail "/console redirects to '$(hdr Location)'"
call GET /console/index.html
cmp -s "$T/body" "$SRC/index.html" || fail "/console/index.html"
for p in /console/nope.js /console/app.js.bak /console/%2e%2e%2fv1%2fpubkey /console/../v1/pubkey /console/.; do
	call GET "$p" --path-as-is
	# 404 here; a strict HTTP layer may refuse an escaped '/' first (400)
	case "$STATUS" in 404 | 400) ;; *) fail "GET $p: HTTP $STATUS" ;; esac
	grep -q '"error"' "$T/body" || fail "GET $p served $(head -c 100 "$T/body")"
done
call GET /console/app.js/x
expect_error 404 NOT_FOUND "a path below a file"
call POST /console/ -d x
expect 405 "POST /console/"
ok "/console -> /console/ (308); unknown files and paths 404; POST 405"

# ---- the page itself: nothing inline, nothing from elsewhere ----
call GET /console/
grep -Eqi '<script[^>]*>[^<]' "$T/body" && fail "an inline script"
grep -Eqi '<script' "$T/body" && ! grep -Eqi '<script src="app.js"' "$T/body" && fail "a script without src"
grep -Eqi '<style|style=|[[:space:]]on[a-z]+=' "$T/body" && fail "inline style or an event handler attribute"
grep -Eqi '(src|href)="(https?:)?//' "$T/body" && fail "a file from another origin"
grep -Eq 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function' "$SRC/app.js" &&
	fail "app.js builds HTML from text or evaluates code"
grep -Eq "fetch\(['\`\"]https?:" "$SRC/app.js" && fail "app.js fetches another origin"
ok "index.html: no inline script, style or handler, no other origin; app.js: no HTML from text, no eval"

# ---- the API answers the console reads are never cached ----
api GET /v1/licenses
[ "$(hdr Cache-Control)" = no-store ] && [ "$(hdr X-Content-Type-Options)" = nosniff ] || fail "API headers: $(cat "$T/headers")"
ok "API answers: Cache-Control no-store"
