#!/bin/bash
# Three corelockerd nodes on one PostgreSQL database behind HAProxy (issue
# 10): a private cluster (tests/pg/cluster.sh), `corelockerd init` once, three
# daemons sharing the key files and one certificate, HAProxy on loopback
# running etc/haproxy.cfg (TCP passthrough, TLS health checks on /healthz).
# Every invariant is computed from the answers and the audit log:
#   seats      24 parallel activations, limit 5: exactly 5 seats, 19 x 403
#              TOO_MANY_MACHINES (through HAProxy, then straight at the nodes)
#   revoke     a revoke on node 1 amid key fetches on nodes 2 and 3: no
#              key.deliver after license.revoke; refused on every node after
#   times      a node whose clock is 2 days ahead (libfaketime) stamps and
#              judges expiry with the database's time
#   slices     a tier re-cut on node 1 after node 2 served it: node 2's next
#              volume is the new cut (the agent's file == corelockerctl unlock)
#   kill -9    of a node during issuing and delivery: every 201 license and
#              every 200 volume is in the database; HAProxy routes around it
#   restart    of PostgreSQL during load: 503 UNAVAILABLE with Retry-After in
#              the window (no 500, no hang), then 200 on every node, no restart
#   audit      one chain, appended by every node: audit-verify passes
# Skipped (77) with the reason when PostgreSQL, haproxy or faketime is missing.
. "$top_srcdir/tests/server/common.sh"
: "${AGENT:?run through make check}"

command -v haproxy > /dev/null || { echo "SKIP: haproxy is not installed (scripts/setup.sh)"; exit 77; }
# libfaketime preloaded straight into the daemon (the faketime wrapper forks,
# so its pid would not be the daemon's); MT: the daemon is threaded.
FAKELIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2> /dev/null | head -n 1)
[ -n "$FAKELIB" ] || { echo "SKIP: libfaketime is not installed (faketime, scripts/setup.sh)"; exit 77; }
. "$top_srcdir/tests/multinode/nodes.sh"
pg_cluster_check || exit 77

die() { fail "$@"; }
LOADPID=
cleanup() {
	[ -z "$LOADPID" ] || { kill "$LOADPID" 2> /dev/null || true; wait "$LOADPID" 2> /dev/null || true; }
	mn_stop_all 2> /dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	local i
	echo "FAIL: $*" >&2
	for i in "${!NPID[@]}"; do
		[ -f "$T/n$i.log" ] && { echo "--- node $i log (tail) ---" >&2; tail -n 15 "$T/n$i.log" >&2; }
	done
	[ -f "$T/haproxy.log" ] && { echo "--- haproxy log (tail) ---" >&2; tail -n 10 "$T/haproxy.log" >&2; }
	[ -f "$T/pg/server.log" ] && { echo "--- postgresql log (tail) ---" >&2; tail -n 10 "$T/pg/server.log" >&2; }
	exit 1
}

mn_cert
if ! mn_pg_start; then
	echo "SKIP: the PostgreSQL cluster did not start: $(tail -n 5 "$T/pg.start.log")"
	exit 77
fi
for i in 1 2 3; do mn_conf "$i"; done
mn_init
for i in 1 2 3; do mn_start "$i"; done
mn_haproxy_start 1 2 3
URL=$HURL
ok "PostgreSQL, 3 nodes and HAProxy (3 servers passed their TLS /healthz check)"

"$PY" "$top_srcdir/tests/server/mkmodel.py" "$T/m.safetensors" 1 || fail "mkmodel"
"$CTL" lock "$T/m.safetensors" -o "$T/m.locked.safetensors" -k "$T/m.clkey" --ratio 0.25 --scope layer \
	> /dev/null || fail "lock"
push_model m cluster
cut_tier basic 0.1
cut_tier cut 0.2
call GET /v1/pubkey
expect 200 "pubkey"
cp "$T/body" "$T/pub.pem"

# ---- helpers: curl --parallel runs, as in tests/server/t_revoke_race.sh ----
# req METHOD URL BODY OUT [admin]: one request of a curl config (headers in OUT.h)
req() {
	printf 'request = "%s"\nurl = "%s"\noutput = "%s"\ndump-header = "%s.h"\n' "$1" "$2" "$4" "$4"
	printf 'header = "Content-Type: application/json"\nmax-time = 60\n'
	[ -z "$3" ] || printf 'data = "%s"\n' "${3//\"/\\\"}"
	printf 'cacert = "%s"\nsilent\nwrite-out = "%%{http_code} %s\\n"\n' "$T/tls.crt" "${4##*/}"
	[ -z "${5:-}" ] || printf 'header = "Authorization: Bearer %s"\n' "$TOKEN"
	printf 'next\n'
}
# par NAME [MAX]: run $T/NAME.cfg; "CODE FILE" lines in $T/NAME.codes
par() {
	sed -i '$d' "$T/$1.cfg" # the last 'next'
	curl --parallel --parallel-max "${2:-8}" -K "$T/$1.cfg" > "$T/$1.codes" 2> "$T/$1.err"
}
# issue TIER CUSTOMER [extra JSON]: LID, KEY of a new license (through $URL)
issue() {
	api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"$1\",\"customer\":\"$2\"${3:+,$3}}"
	expect 201 "issue $2"
	LID=$(jget '["id"]')
	KEY=$(jget '["key"]')
}
# at URL: the next call goes to that node (or HAProxy)
at() { URL=$1; }
audit_dump() {
	at "$HURL"
	api GET "/v1/audit?since=0&limit=10000"
	expect 200 "audit"
	cp "$T/body" "$T/audit.json"
}
# activate_count URL: the node's /v1/activate answers counted by /metrics
activate_count() {
	curl -sS --cacert "$T/tls.crt" "$1/metrics" | awk 'index($0, "corelockerd_requests_total{") == 1 &&
		index($0, "route=\"/v1/activate\"") { n += $NF } END { print n + 0 }'
}

# ---- seats: 24 parallel activations, limit 5 ----
SEATS=5 N=24
# seat_round NAME URLS...: N activations of one new license, spread over URLS
seat_round() {
	local name=$1 j=0 u
	shift
	issue basic "seat-$name" "\"max_machines\":$SEATS"
	mkdir -p "$T/$name"
	for j in $(seq 1 $N); do
		u=$(($# > 1 ? (j % $#) + 1 : 1))
		req POST "${!u}/v1/activate" "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-$name-$j\"}" "$T/$name/$j"
	done > "$T/$name.cfg"
	par "$name" $N || true
	"$PY" - "$T/$name" "$T/$name.codes" "$SEATS" "$N" > "$T/$name.won" << 'PYEOF' || fail "$name: seat limit (above)"
import json, sys
d, codes, k, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
won, bad = [], []
lines = [l.split() for l in open(codes)]
if len(lines) != n:
    bad.append("%d answers for %d activations" % (len(lines), n))
for code, name in lines:
    body = json.load(open("%s/%s" % (d, name)))
    if code == "200":
        won.append(body["machine"])
    elif code != "403" or body["error"]["code"] != "TOO_MANY_MACHINES":
        bad.append("activation %s: %s %s" % (name, code, body))
if len(won) != k:
    bad.append("%d activations succeeded, the limit is %d" % (len(won), k))
for b in bad:
    print("FAIL:", b, file=sys.stderr)
print(" ".join(str(m) for m in sorted(won)))
sys.exit(1 if bad else 0)
PYEOF
	at "$HURL"
	api GET "/v1/licenses/$LID/machines"
	expect 200 "machines of $name"
	[ "$("$PY" -c 'import json,sys; print(" ".join(str(m["id"]) for m in sorted(json.load(open(sys.argv[1]))["machines"], key=lambda m: m["id"])))' "$T/body")" = "$(cat "$T/$name.won")" ] ||
		fail "$name: machines list $(cat "$T/body") != the seats won ($(cat "$T/$name.won"))"
}
for i in 1 2 3; do A0[$i]=$(activate_count "${NURL[$i]}"); done
seat_round via-haproxy "$HURL"
for i in 1 2 3; do
	[ "$(activate_count "${NURL[$i]}")" -gt "${A0[$i]}" ] || fail "HAProxy sent no activation to node $i"
done
ok "$N parallel activations through HAProxy (every node served some), limit $SEATS: $SEATS seats, the rest 403 TOO_MANY_MACHINES"
seat_round direct "${NURL[1]}" "${NURL[2]}" "${NURL[3]}"
ok "$N parallel activations straight at the 3 nodes, limit $SEATS: $SEATS seats, the rest 403 TOO_MANY_MACHINES"

# ---- revoke on node 1 amid key fetches on nodes 2 and 3 ----
FETCHES=24
for t in 1 2 3; do
	at "$HURL"
	issue basic "revoke-$t" '"max_machines":2'
	post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-rev\"}"
	expect 200 "activate for revoke trial $t"
	mkdir -p "$T/rev$t"
	for j in $(seq 1 $FETCHES); do
		req POST "${NURL[$((2 + j % 2))]}/v1/key" "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-rev\",\"nonce\":\"rev-$t-$j\"}" "$T/rev$t/$j"
		[ "$j" != $((FETCHES / 2)) ] || req POST "${NURL[1]}/v1/licenses/$LID/revoke" "" "$T/rev$t/revoke" admin
	done > "$T/rev$t.cfg"
	par "rev$t" 6 || true
	grep -q '^200 revoke$' "$T/rev$t.codes" || fail "trial $t: the revoke on node 1: $(cat "$T/rev$t/revoke")"
	echo "$t $LID" >> "$T/rev.trials"
	# From the revoke's answer on, every node refuses the license.
	for u in "${NURL[@]}" "$HURL"; do
		at "$u"
		post_json /v1/key "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-rev\",\"nonce\":\"after\"}"
		expect_error 403 REVOKED "key after the revoke at $u"
		post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-new\"}"
		expect_error 403 REVOKED "activate after the revoke at $u"
		post_json /v1/validate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-rev\",\"nonce\":\"after\"}"
		expect 200 "validate after the revoke at $u"
		[ "$(jget '["code"]')" = REVOKED ] && [ "$(jget '["valid"]')" = false ] || fail "validate at $u: $(cat "$T/body")"
	done
done
audit_dump
"$PY" - "$T" << 'PYEOF' || fail "revoke across nodes (above)"
import json, struct, sys
T = sys.argv[1]
audit = json.load(open(T + "/audit.json"))["entries"]
bad, spread, raced = [], [], 0
for line in open(T + "/rev.trials"):
    t, lid = line.split()
    mine = [e for e in audit if e["target"] == "license:" + lid or e["target"].startswith("license:%s/" % lid)]
    rev = [e["seq"] for e in mine if e["action"] == "license.revoke"]
    if len(rev) != 1:
        bad.append("trial %s: %d license.revoke entries" % (t, len(rev)))
        continue
    delivered = {e["detail"].get("nonce"): e["seq"] for e in mine if e["action"] == "key.deliver"}
    late = [s for s in delivered.values() if s > rev[0]]
    if late:
        bad.append("trial %s: key.deliver seq %s after license.revoke seq %d" % (t, late, rev[0]))
    ok = ref = 0
    for l in open("%s/rev%s.codes" % (T, t)):
        code, name = l.split()
        if name == "revoke":
            continue
        body = open("%s/rev%s/%s" % (T, t, name), "rb").read()
        if code == "200":
            ok += 1
            h = json.loads(body[16:16 + struct.unpack("<I", body[12:16])[0]])
            if h["nonce"] not in delivered:
                bad.append("trial %s: volume %s (200) has no key.deliver" % (t, h["nonce"]))
        elif code == "403" and json.loads(body)["error"]["code"] == "REVOKED":
            ref += 1
        else:
            bad.append("trial %s: fetch %s answered %s %s" % (t, name, code, body[:200]))
    if ok != len(delivered):
        bad.append("trial %s: %d volumes answered 200, %d key.deliver entries" % (t, ok, len(delivered)))
    spread.append("%d/%d" % (ok, ref))
    raced += ok > 0 and ref > 0
for b in bad:
    print("FAIL:", b)
print("volumes/refusals per trial: " + " ".join(spread))
if not raced:
    print("FAIL: no trial had volumes both before and after the revoke: the race was not exercised")
sys.exit(1 if bad or not raced else 0)
PYEOF
ok "revoke on node 1 amid fetches on nodes 2 and 3: no key.deliver after license.revoke; key, activate and validate refuse it on every node"

# ---- slice cache: a re-cut on node 1 after node 2 served the tier ----
export CORELOCKER_CACERT="$T/tls.crt" CORELOCKER_SERVER_KEY="$T/pub.pem"
at "$HURL"
issue cut slices '"max_machines":1'
# unlock_at TAG NODE RATIO: the agent's file from NODE == corelockerctl unlock at RATIO
unlock_at() {
	"$CTL" unlock "$T/m.locked.safetensors" -k "$T/m.clkey" --tier-ratio "$3" -o "$T/ref-$1" > /dev/null ||
		fail "corelockerctl unlock --tier-ratio $3"
	"$AGENT" unlock "$T/m.locked.safetensors" -o "$T/out-$1" --server "${NURL[$2]}" --license "$KEY" \
		--fingerprint fp-slices > "$T/$1.out" 2> "$T/$1.err" || fail "agent unlock at node $2: $(cat "$T/$1.err")"
	cmp -s "$T/out-$1" "$T/ref-$1" || fail "$1: node $2's volume != the tier cut at $3"
}
unlock_at before 2 0.2
at "${NURL[1]}"
api PUT "/v1/models/$MID/tiers/cut" -d '{"ratio":0.05}'
expect 200 "re-cut on node 1"
unlock_at after2 2 0.05
unlock_at after3 3 0.05
ok "a re-cut on node 1 (0.2 -> 0.05): nodes 2 (which had served 0.2) and 3 deliver the new cut"

# ---- times from the database: node 4 runs 2 days ahead ----
mn_conf 4
mn_start 4 env LD_PRELOAD="$FAKELIB" FAKETIME=+2d FAKETIME_DONT_FAKE_MONOTONIC=1
now() { date +%s; }
httpdate() { "$PY" -c 'import email.utils,sys; print(int(email.utils.parsedate_to_datetime(sys.argv[1]).timestamp()))' "$1"; }
unix() { "$PY" -c 'import datetime,sys; print(int(datetime.datetime.fromisoformat(sys.argv[1].replace("Z","+00:00")).timestamp()))' "$1"; }
rfc() { date -u -d "@$1" +%FT%TZ; }
# within T LO HI: LO - 60 <= T <= HI + 60 (the database runs on this machine's clock)
within() { [ "$1" -ge $(($2 - 60)) ] && [ "$1" -le $(($3 + 60)) ]; }
at "${NURL[4]}"
t0=$(now)
issue basic times
t1=$(now)
skew=$(($(httpdate "$(sed -n 's/^Date: //Ip' "$T/headers" | tr -d '\r')") - t1))
[ "$skew" -ge $((2 * 86400 - 3600)) ] || fail "node 4's clock is not skewed (HTTP Date is ${skew}s ahead)"
created=$(unix "$(jget '["created_at"]')")
within "$created" "$t0" "$t1" || fail "node 4 stamped created_at $(jget '["created_at"]'), the database's time is $(rfc "$t1")"
TLID=$LID
audit_dump
ts=$("$PY" -c 'import json,sys
print([e["ts_unix"] for e in json.load(open(sys.argv[1]))["entries"] if e["action"] == "license.issue" and e["target"] == "license:" + sys.argv[2]][0])' "$T/audit.json" "$TLID")
within "$ts" "$t0" "$t1" || fail "node 4 wrote audit ts $(rfc "$ts"), the database's time is $(rfc "$t1")"
# Expires in one day by the database's clock, a day ago by node 4's.
at "$HURL"
issue basic expiry "\"expires_at\":\"$(rfc $(($(now) + 86400)))\",\"max_machines\":2"
at "${NURL[4]}"
post_json /v1/activate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-time\"}"
expect 200 "activate on node 4 of a license valid for a day"
post_json /v1/validate "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-time\",\"nonce\":\"time\"}"
[ "$STATUS" = 200 ] && [ "$(jget '["code"]')" = VALID ] || fail "validate on node 4: $STATUS $(cat "$T/body")"
post_json /v1/key "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp-time\",\"nonce\":\"time\"}"
expect 200 "key on node 4 of a license valid for a day"
mn_kill 4
ok "node 4, ${skew}s ahead: created_at, the audit ts and expiry follow the database's clock"

# ---- background load through HAProxy: issue, key, validate ----
at "$HURL"
issue basic load '"max_machines":2'
LKEY=$KEY
post_json /v1/activate "{\"license_key\":\"$LKEY\",\"fingerprint\":\"fp-load\"}"
expect 200 "activate the load license"
# load NAME: batches of 12 until $T/NAME.run is gone; batch B answers in $T/NAME.B.codes
load() {
	local name=$1 b=0 j
	mkdir -p "$T/$name"
	while [ -f "$T/$name.run" ] && [ $b -lt 500 ]; do
		b=$((b + 1))
		for j in 1 2 3 4; do
			req POST "$HURL/v1/licenses" "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"$name-$b-$j\"}" "$T/$name/issue-$b-$j" admin
			req POST "$HURL/v1/key" "{\"license_key\":\"$LKEY\",\"fingerprint\":\"fp-load\",\"nonce\":\"$name-$b-$j\"}" "$T/$name/key-$b-$j"
			req POST "$HURL/v1/validate" "{\"license_key\":\"$LKEY\",\"fingerprint\":\"fp-load\",\"nonce\":\"$name-$b-$j\"}" "$T/$name/validate-$b-$j"
		done > "$T/$name.$b.cfg"
		par "$name.$b" 6 || true
	done
}
# load_start NAME: start it and wait for its first 2 batches
load_start() {
	touch "$T/$1.run"
	load "$1" &
	LOADPID=$!
	load_wait "$1" 2
}
# load_wait NAME B: until batch B has answered
load_wait() {
	for _ in $(seq 1 1200); do
		[ -s "$T/$1.$2.codes" ] && return 0
		kill -0 "$LOADPID" 2> /dev/null || fail "the load $1 ended before batch $2"
		sleep 0.1
	done
	fail "load $1: batch $2 did not answer"
}
load_stop() {
	rm -f "$T/$1.run"
	wait "$LOADPID" || true
	LOADPID=
	cat "$T/$1".*.codes > "$T/$1.codes"
}
# acknowledged NAME: every 201 license exists and every 200 volume has its key.deliver
acknowledged() {
	at "$HURL"
	api GET "/v1/licenses?limit=10000"
	expect 200 "list licenses"
	cp "$T/body" "$T/licenses.json"
	audit_dump
	"$PY" - "$T" "$1" << 'PYEOF' || fail "$1: an acknowledged write is missing (above)"
import json, struct, sys
T, name = sys.argv[1], sys.argv[2]
have = {l["id"]: l["customer"] for l in json.load(open(T + "/licenses.json"))["licenses"]}
delivered = {e["detail"].get("nonce") for e in json.load(open(T + "/audit.json"))["entries"] if e["action"] == "key.deliver"}
bad, n = [], {}
for l in open("%s/%s.codes" % (T, name)):
    code, f = l.split()
    kind = f.split("-")[0]
    n[kind + " " + code] = n.get(kind + " " + code, 0) + 1
    if kind == "issue" and code == "201":
        lic = json.load(open("%s/%s/%s" % (T, name, f)))
        if have.get(lic["id"]) != lic["customer"]:
            bad.append("license %s (%s) answered 201 but is not stored" % (lic["id"], lic["customer"]))
    if kind == "key" and code == "200":
        body = open("%s/%s/%s" % (T, name, f), "rb").read()
        h = json.loads(body[16:16 + struct.unpack("<I", body[12:16])[0]])
        if h["nonce"] not in delivered:
            bad.append("volume %s answered 200 without a key.deliver" % h["nonce"])
for b in bad:
    print("FAIL:", b)
print("answers: " + ", ".join("%s: %d" % kv for kv in sorted(n.items())))
sys.exit(1 if bad or not n.get("issue 201") or not n.get("key 200") else 0)
PYEOF
}

# ---- kill -9 of node 2 during the load ----
load_start kill
mn_kill 2 KILL
b=$(ls "$T"/kill.*.codes | wc -l)
load_wait kill $((b + 3))
load_stop kill
acknowledged kill > "$T/kill.summary"
mn_wait_ha node2 DOWN
at "$HURL"
for j in $(seq 1 9); do
	post_json /v1/validate "{\"license_key\":\"$LKEY\",\"fingerprint\":\"fp-load\",\"nonce\":\"down-$j\"}"
	expect 200 "validate $j through HAProxy with node 2 down"
done
mn_start 2
mn_wait_ha node2 UP
ok "kill -9 of node 2 mid-load: $(tail -n 1 "$T/kill.summary"); all stored; HAProxy marked it DOWN and routed around it; back UP after a restart"

# ---- PostgreSQL restart during the load ----
for i in 1 2 3; do PID0[$i]=${NPID[$i]}; done
load_start pg
mn_pg_stop || fail "pg_ctl stop"
# down: each node, and HAProxy, answers 503 UNAVAILABLE with Retry-After
unavailable() {
	local what=$1
	[ "$STATUS" = 503 ] && [ "$(jget '["error"]["code"]')" = UNAVAILABLE ] ||
		fail "$what with PostgreSQL down: $STATUS $(head -c 300 "$T/body")"
	grep -qi '^Retry-After: [0-9]' "$T/headers" || fail "$what with PostgreSQL down: no Retry-After"
}
down_round() {
	local u
	for u in "$@"; do
		at "$u"
		post_json /v1/validate "{\"license_key\":\"$LKEY\",\"fingerprint\":\"fp-load\",\"nonce\":\"pgdown\"}"
		unavailable "validate at $u"
		post_json /v1/key "{\"license_key\":\"$LKEY\",\"fingerprint\":\"fp-load\",\"nonce\":\"pgdown\"}"
		unavailable "key at $u"
		api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"pgdown\"}"
		unavailable "issue at $u"
	done
}
down_round "${NURL[1]}" "${NURL[2]}" "${NURL[3]}" "$HURL"
for i in 1 2 3; do mn_wait_ha "node$i" DOWN; done
down_round "$HURL"
b=$(ls "$T"/pg.*.codes | wc -l)
load_wait pg $((b + 2))
mn_pg_start || fail "pg_ctl start: $(cat "$T/pg.start.log")"
for i in 1 2 3; do mn_wait_ha "node$i" UP; done
b=$(ls "$T"/pg.*.codes | wc -l)
load_wait pg $((b + 2))
load_stop pg
"$PY" - "$T" << 'PYEOF' || fail "answers while PostgreSQL restarted (above)"
import json, sys
T = sys.argv[1]
bad, n = [], {}
for l in open(T + "/pg.codes"):
    code, f = l.split()
    n[code] = n.get(code, 0) + 1
    if code in ("200", "201"):
        continue
    if code == "000":
        bad.append("%s: no answer (curl: connection error or timeout)" % f)
        continue
    if code != "503":
        bad.append("%s answered %s: %s" % (f, code, open("%s/pg/%s" % (T, f), "rb").read()[:200]))
        continue
    if json.load(open("%s/pg/%s" % (T, f)))["error"]["code"] != "UNAVAILABLE":
        bad.append("%s: 503 without UNAVAILABLE" % f)
    if not any(h.lower().startswith("retry-after:") for h in open("%s/pg/%s.h" % (T, f))):
        bad.append("%s: 503 without Retry-After" % f)
for b in bad[:10]:
    print("FAIL:", b)
print("answers: " + ", ".join("%s: %d" % kv for kv in sorted(n.items())))
sys.exit(1 if bad or not n.get("503") else 0)
PYEOF
for i in 1 2 3; do
	[ "${NPID[$i]}" = "${PID0[$i]}" ] && kill -0 "${NPID[$i]}" || fail "node $i did not survive the PostgreSQL restart"
	at "${NURL[$i]}"
	call GET /healthz
	expect 200 "node $i healthz after the PostgreSQL restart"
	post_json /v1/validate "{\"license_key\":\"$LKEY\",\"fingerprint\":\"fp-load\",\"nonce\":\"back\"}"
	[ "$STATUS" = 200 ] && [ "$(jget '["code"]')" = VALID ] || fail "node $i validate after the restart: $STATUS $(cat "$T/body")"
	post_json /v1/key "{\"license_key\":\"$LKEY\",\"fingerprint\":\"fp-load\",\"nonce\":\"back\"}"
	expect 200 "node $i key after the restart"
	api POST /v1/licenses -d "{\"model\":$MID,\"tier\":\"basic\",\"customer\":\"back-$i\"}"
	expect 201 "node $i issue after the restart"
done
acknowledged pg > /dev/null
ok "PostgreSQL restarted mid-load: 503 UNAVAILABLE with Retry-After in the window (no other error), every node serves again without a restart"

# ---- one audit chain, appended by every node ----
for i in 1 2 3; do
	"$CORELOCKERD" audit-verify -c "$T/n$i.conf" > "$T/verify$i.out" 2>&1 || fail "audit-verify (node $i's config): $(cat "$T/verify$i.out")"
done
audit_dump
[ "$(jget '["chain"]["ok"]' "$T/audit.json")" = true ] || fail "GET /v1/audit: chain $(jget '["chain"]' "$T/audit.json")"
ok "one audit chain of $(jget '["chain"]["entries"]' "$T/audit.json") entries from 4 nodes: audit-verify passes"

for i in 1 2 3; do
	kill -TERM "${NPID[$i]}"
	rc=0
	wait "${NPID[$i]}" || rc=$?
	NPID[$i]=
	[ "$rc" = 0 ] || fail "node $i exited $rc on SIGTERM"
done
ok "the nodes stop cleanly"
