#!/bin/bash
# corelockerctl's remote commands against the real daemon over TLS: tables by
# default, JSON with --json, and exit statuses that follow the HTTP result
# (0 ok, 3 not found, 4 conflict, 5 auth, 6 no answer, 7 refused input).
. "$top_srcdir/tests/agent/common.sh"

agent_setup
mk m 0.05 1
export CORELOCKER_TOKEN="$TOKEN"

# cj TAG ARGS...: the same with --json, the answer also in $T/body for jget
cj() {
	c "$@" --json
	cp "$T/$1.out" "$T/body"
}

# ---- models ----
c push model push "$T/m.clkey" --name fashion --version 1
expect_rc 0 push "model push"
grep -q "^name  *fashion" "$T/push.out" || fail "push output: $(cat "$T/push.out")"
cj push2 model push "$T/m.clkey" --name fashion --version 1
refused 4 push2 "push the same name and version"
grep -q "ALREADY_EXISTS" "$T/push2.err" || fail "push twice: $(cat "$T/push2.err")"
c push3 model push "$T/m.safetensors" --name junk
refused 7 push3 "push a file that is not a key"
c push4 model push "$T/nope.clkey" --name x
expect_rc 1 push4 "push a missing file"
c push5 model push "$T/m.clkey"
expect_rc 2 push5 "push without --name"
if script -qec true /dev/null >/dev/null 2>&1; then
	script -qec "$CTL model push $T/m.clkey --name fashion --version 2" /dev/null > "$T/tty.out" 2>&1 || fail "push on a TTY: $(cat "$T/tty.out")"
	grep -q "push *\[#*" "$T/tty.out" || fail "no progress bar on a TTY: $(cat -v "$T/tty.out" | head -c 300)"
else # no pseudo-terminal here (e.g. a chroot without /dev/pts): push without one
	echo "note: no pseudo-terminal, the progress bar is not checked"
	"$CTL" model push "$T/m.clkey" --name fashion --version 2 > "$T/tty.out" 2>&1 || fail "push: $(cat "$T/tty.out")"
fi
cj list model list
expect_rc 0 list "model list --json"
[ "$(jget '["models"].__len__()')" = 2 ] && [ "$(jget '["models"][0]["name"]')" = fashion ] || fail "model list: $(cat "$T/body")"
c list2 model list
head -n 1 "$T/list2.out" | grep -q "^ID *NAME *VERSION" || fail "model list table: $(cat "$T/list2.out")"
[ "$(grep -c fashion "$T/list2.out")" = 2 ] || fail "model list rows: $(cat "$T/list2.out")"
cj show model show fashion
[ "$(jget '["version"]')" = 2 ] || fail "show by name gives the newest version: $(cat "$T/body")"
c rm2 model rm 2
expect_rc 0 rm2 "model rm"
c show2 model show 2
refused 3 show2 "show a deleted model"
c show3 model show nosuch
refused 3 show3 "show an unknown model"
ok "model push (progress bar on a TTY) / list / show / rm; exits 4, 7, 3, 2"

# ---- tiers ----
for t in basic:0.02 pro:0.005 full:0; do
	c "tier-${t%%:*}" tier set fashion "${t%%:*}" --ratio "${t#*:}"
	expect_rc 0 "tier-${t%%:*}" "tier set ${t%%:*}"
done
cj tiers tier list fashion
[ "$(jget '["tiers"].__len__()')" = 3 ] && [ "$(jget '["tiers"][0]["name"]')" = basic ] || fail "tier list: $(cat "$T/body")"
cj recut tier set fashion pro --ratio 0.004
expect_rc 0 recut "re-cut a tier"
[ "$(jget '["ratio"]')" = 0.004 ] || fail "re-cut: $(cat "$T/body")"
c badratio tier set fashion x --ratio 0.9
refused 7 badratio "a ratio above alpha"
c badratio2 tier set fashion x --ratio lots
expect_rc 2 badratio2 "a ratio that is not a number"
c tiers2 tier list fashion
grep -q "^basic *0.02 " "$T/tiers2.out" || fail "tier table: $(cat "$T/tiers2.out")"
ok "tier set / list / re-cut; a bad ratio is 7 (server) or 2 (usage)"

# ---- licenses ----
cj issue license issue --model fashion --tier basic --customer acme --max-machines 2
expect_rc 0 issue "license issue"
LID=$(jget '["id"]')
KEY=$(jget '["key"]')
case "$KEY" in clk_*) ;; *) fail "no key: $(cat "$T/body")" ;; esac
c issue2 license issue --model fashion --tier pro --customer globex
expect_rc 0 issue2 "license issue (table)"
grep -q "^key  *clk_" "$T/issue2.out" || fail "issue table has no key: $(cat "$T/issue2.out")"
grep -q "shown only this once" "$T/issue2.err" || fail "no once-only note"
LID2=$(sed -n 's/^id  *//p' "$T/issue2.out")
c issue3 license issue --model fashion --tier nosuch --customer x
refused 3 issue3 "issue for an unknown tier"
c issue4 license issue --model fashion --tier basic
expect_rc 2 issue4 "issue without --customer"
cj l1 license list --customer acme
[ "$(jget '["licenses"].__len__()')" = 1 ] && [ "$(jget '["licenses"][0]["id"]')" = "$LID" ] || fail "list --customer: $(cat "$T/body")"
c l2 license list --status bogus
refused 7 l2 "a bad status filter"
c l3 license list
[ "$(grep -c active "$T/l3.out")" = 2 ] || fail "license table: $(cat "$T/l3.out")"
c s1 license show "$LID"
expect_rc 0 s1 "license show"
grep -q "clk_" "$T/s1.out" && fail "show prints a key"
c s2 license show 999
refused 3 s2 "show an unknown license"
cj u1 license update "$LID" --tier pro --expires-at 2099-01-01T00:00:00Z --max-machines 3
[ "$(jget '["tier"]')" = pro ] && [ "$(jget '["expires_at"]')" = 2099-01-01T00:00:00Z ] && [ "$(jget '["max_machines"]')" = 3 ] ||
	fail "update: $(cat "$T/body")"
cj u2 license update "$LID" --expires-at never
[ "$(jget '["expires_at"]')" = None ] || [ "$(jget '["expires_at"]')" = null ] || fail "renew forever: $(cat "$T/body")"
c u3 license update "$LID"
expect_rc 2 u3 "update with nothing to change"
c u4 license update "$LID" --expires-at tomorrow
refused 7 u4 "update with a bad time"
ok "license issue (key shown once) / list with filters / show / update"

# ---- machines, through the real agent ----
run_agent act unlock "$T/m.locked.safetensors" -o "$T/pro.safetensors" --license "$KEY" --fingerprint fp-1
expect_rc 0 act "agent unlock"
cj m1 machine list "$LID"
[ "$(jget '["machines"].__len__()')" = 1 ] && [ "$(jget '["machines"][0]["fingerprint"]')" = fp-1 ] || fail "machines: $(cat "$T/body")"
MACH=$(jget '["machines"][0]["id"]')
c m2 machine list "$LID"
grep -q "fp-1" "$T/m2.out" || fail "machine table: $(cat "$T/m2.out")"
c m3 machine rm "$LID" "$MACH"
expect_rc 0 m3 "machine rm"
c m4 machine rm "$LID" "$MACH"
refused 3 m4 "machine rm twice"
ok "machine list / rm, after a real activation"

# ---- status changes and conflicts ----
cj st1 license suspend "$LID"
[ "$(jget '["status"]')" = suspended ] || fail "suspend: $(cat "$T/body")"
run_agent sus validate --license "$KEY" --fingerprint fp-1
refused 8 sus "the agent sees the suspension"
cj st2 license reinstate "$LID"
[ "$(jget '["status"]')" = active ] || fail "reinstate: $(cat "$T/body")"
c t1 tier rm fashion pro
refused 4 t1 "delete a tier in use"
c mr model rm fashion
refused 4 mr "delete a model in use"
cj st3 license revoke "$LID"
[ "$(jget '["status"]')" = revoked ] || fail "revoke: $(cat "$T/body")"
c st4 license reinstate "$LID"
refused 4 st4 "reinstate a revoked license"
grep -q "INVALID_STATE" "$T/st4.err" || fail "reinstate message: $(cat "$T/st4.err")"
c t2 tier rm fashion full
expect_rc 0 t2 "delete a tier nobody uses"
ok "suspend / reinstate / revoke; in-use and revoked conflicts exit 4"

# ---- audit ----
cj a1 audit
n=$(jget '["entries"].__len__()')
[ "$n" -gt 10 ] || fail "audit: $(head -c 300 "$T/body")"
cj a2 audit --since $((n - 3))
[ "$(jget '["entries"].__len__()')" = 3 ] || fail "audit --since"
c a3 audit --limit 5
[ "$(wc -l < "$T/a3.out")" = 6 ] || fail "audit table: $(cat "$T/a3.out")"
c a4 audit
grep -q "license.revoke" "$T/a4.out" && grep -q "key.deliver" "$T/a4.out" || fail "audit table rows"
c a5 audit --since x
expect_rc 2 a5 "audit --since x"
ok "audit, --since, --limit"

# ---- settings and failures ----
CORELOCKER_TOKEN=clt_wrong c auth1 model list
refused 5 auth1 "a wrong token"
(unset CORELOCKER_TOKEN; c auth2 model list; expect_rc 2 auth2 "no token") || exit 1
c un model list --server https://127.0.0.1:1
refused 6 un "an unreachable server"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/o.key" -out "$T/o.crt" -days 1 \
	-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
c cert model list --cacert "$T/o.crt"
refused 6 cert "an untrusted certificate"
printf '[agent]\nlicense = x\n[ctl]\nserver = %s\ntoken = %s\ncacert = %s\n' "$URL" "$TOKEN" "$T/tls.crt" > "$T/ctl.conf"
(unset CORELOCKER_SERVER CORELOCKER_TOKEN CORELOCKER_CACERT; c cf model list --config "$T/ctl.conf"; expect_rc 0 cf "config file") ||
	exit 1
c sub model frob
expect_rc 2 sub "an unknown subcommand"
c help license issue --help
expect_rc 0 help "license issue --help"
grep -q -- "--max-machines N" "$T/help.out" || fail "help: $(cat "$T/help.out")"
ok "wrong token 5, no token 2, unreachable 6, untrusted certificate 6, [ctl] config file, --help"
stop
