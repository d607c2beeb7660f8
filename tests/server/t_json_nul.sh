#!/bin/bash
# JSON bodies: a raw NUL byte anywhere is refused (it used to end jansson's
# view of the text, so '{"model":1<NUL>,...}' was issued), and so are C0 and
# C1 control characters (U+0080..U+009F included) in text fields.  Every
# refusal is one 400 with a message, and nothing is stored.
. "$(dirname "$0")/common.sh"

setup
make_model m 0.25
push_model m nul
cut_tier basic 0.1
before=$(sql 'SELECT COUNT(*) FROM licenses')

# post_raw NAME: the bytes of $T/NAME as the body of POST /v1/licenses
post_raw() {
	api POST /v1/licenses -H 'Content-Type: application/json' --data-binary "@$T/$1"
}
# body NAME JSON: JSON with each @ replaced by a raw NUL byte, in $T/NAME
body() { printf '%s' "$2" | tr '@' '\000' > "$T/$1"; }

body nul_after_number "{\"model\":$MID@,\"tier\":\"basic\",\"customer\":\"c\"}"
body nul_at_end "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"c\"}@"
body nul_in_string "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"a@b\"}"
body nul_after_object "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"c\"}@{\"x\":1}"
for f in nul_after_number nul_at_end nul_in_string nul_after_object; do
	[ "$(od -An -tx1 "$T/$f" | grep -c ' 00')" -ge 1 ] || fail "$f: the body holds no NUL byte"
	post_raw $f
	expect_error 400 INVALID_JSON "raw NUL ($f)"
	grep -q 'a raw NUL byte' "$T/body" || fail "$f: message $(cat "$T/body")"
done
# the same body without the NUL is fine: the NUL alone makes the difference
tr -d '\000' < "$T/nul_after_number" > "$T/clean"
post_raw clean
expect 201 "the same body without the NUL"
n_ok=1
ok "a raw NUL byte anywhere in a JSON body: 400 INVALID_JSON 'a raw NUL byte'"

# control characters in a text field: C0, DEL, and C1 (raw UTF-8 or escaped)
for c in '\u0007' '\u001b' '\u007f' '\u0085' '\u009f' $'\xc2\x80' $'\xc2\x9b'; do
	api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"a${c}b\"}"
	expect_error 400 INVALID_FIELD "control character $(printf '%s' "$c" | od -An -tx1) in customer"
	grep -q "'customer' must be a string" "$T/body" || fail "message: $(cat "$T/body")"
done
# printable non-ASCII just past the C1 block is text
api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"Z\\u00a0rich \\u00e9\"}"
expect 201 "U+00A0 and U+00E9 are text"
[ "$(jget '["customer"]')" = "Z$(printf '\302\240')rich é" ] || fail "customer round trip: $(jget '["customer"]')"
n_ok=$((n_ok + 1))
ok "C0, DEL and C1 controls in a text field: 400 INVALID_FIELD; U+00A0 and above pass"

after=$(sql 'SELECT COUNT(*) FROM licenses')
[ "$after" = $((before + n_ok)) ] || fail "licenses stored: $before -> $after, want +$n_ok"
ok "only the valid bodies stored a license ($before -> $after)"
stop
