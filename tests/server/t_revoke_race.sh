#!/bin/bash
# Revocation races (issue 9, item 1): many parallel POST /v1/key while an
# admin revokes, suspends, expires, shrinks, unseats or re-tiers the license.
# The license is re-checked inside the transaction that records key.deliver,
# so in the audit sequence no delivery for the license (machine) follows the
# change, and every 200 volume a client got is backed by a key.deliver that
# committed before it (matched by its nonce).  A re-tier may deliver after
# the change, but only the new tier.  Real daemon, real TLS, real curl
# (--parallel), >= 20 revoke trials.
. "$(dirname "$0")/common.sh"

REVOKE_TRIALS=${REVOKE_TRIALS:-20}
OTHER_TRIALS=${OTHER_TRIALS:-3}
FETCHES=12

make_cert
write_conf
sed -i 's/^max_body = .*/max_body = 64M/' "$T/d.conf"
init_db
start
# A model with some weight, so that a delivery takes a while to prepare.
"$PY" "$top_srcdir/bench/gen_model.py" "$T/m.safetensors" --size-gib 0.002 > /dev/null 2>&1 || fail "gen_model"
"$CTL" lock "$T/m.safetensors" -o "$T/m.locked" -k "$T/m.clkey" --ratio 0.25 --unit neuron --scope layer \
	> /dev/null || fail "lock"
push_model m race
for t in full:0 basic:0.2; do
	api PUT "/v1/models/$MID/tiers/${t%%:*}" -d "{\"ratio\":${t#*:}}"
	expect 201 "tier $t"
done
mkdir -p "$T/r"
: > "$T/trials"

# par NAME: run the requests in $T/NAME.cfg (curl config) with curl --parallel.
par() {
	sed -i '$d' "$T/$1.cfg" # the last 'next'
	curl --parallel --parallel-max "${2:-8}" -K "$T/$1.cfg" > "$T/$1.codes" 2> "$T/$1.err"
}
# req METHOD URL BODY OUT [admin]: one request of a curl config.
req() {
	printf 'request = "%s"\nurl = "%s"\noutput = "%s"\nheader = "Content-Type: application/json"\n' "$1" "$2" "$4"
	[ -z "$3" ] || printf 'data = "%s"\n' "${3//\"/\\\"}"
	printf 'cacert = "%s"\nsilent\nshow-error\nwrite-out = "%%{http_code} %s\\n"\n' "$T/tls.crt" "${4##*/}"
	[ -z "${5:-}" ] || printf 'header = "Authorization: Bearer %s"\n' "$TOKEN"
	printf 'next\n'
}
# fields DIR KEY: "N value" for every JSON file DIR/N.
fields() {
	"$PY" -c 'import json,os,sys
for n in sorted(os.listdir(sys.argv[1]), key=lambda x: int(x.split("-")[0])):
    print(n.split("-")[0], json.load(open(os.path.join(sys.argv[1], n)))[sys.argv[2]])' "$1" "$2"
}

# Every trial's license (two seats: fp-N-a, fp-N-b) up front, in parallel batches.
KINDS=$(for _ in $(seq 1 "$REVOKE_TRIALS"); do echo revoke; done
	for k in suspend expire shrink retier unseat; do for _ in $(seq 1 "$OTHER_TRIALS"); do echo $k; done; done)
NT=$(echo "$KINDS" | wc -l)
mkdir -p "$T/lic" "$T/act-a" "$T/act-b"
for n in $(seq 1 "$NT"); do
	req POST "$URL/v1/licenses" "{\"model\":$MID,\"tier\":\"full\",\"customer\":\"c$n\",\"max_machines\":2}" "$T/lic/$n" admin
done > "$T/issue.cfg"
par issue
fields "$T/lic" id > "$T/lids"
fields "$T/lic" key > "$T/keys"
for s in a b; do
	while read -r n key; do
		req POST "$URL/v1/activate" "{\"license_key\":\"$key\",\"fingerprint\":\"fp-$n-$s\"}" "$T/act-$s/$n"
	done < "$T/keys" > "$T/act-$s.cfg"
	par act-$s
done
fields "$T/act-b" machine > "$T/mids"
[ "$(grep -c '^201 ' "$T/issue.codes")" = "$NT" ] && [ "$(cat "$T"/act-?.codes | grep -c '^200 ')" = $((2 * NT)) ] ||
	fail "issue or activate failed: $(cat "$T"/issue.codes "$T"/act-?.codes | grep -v '^20[01] ' | head -n 3)"

# trial N KIND: one curl --parallel run, 4 at a time, of FETCHES fetches as
# fp-N-b with the change KIND in the middle of the list: it starts while
# fetches are in flight, and the fetches after it start while it runs.
trial() {
	local n=$1 kind=$2 lid key mid_b half=$((FETCHES / 2))
	lid=$(awk -v n="$n" '$1 == n { print $2 }' "$T/lids")
	key=$(awk -v n="$n" '$1 == n { print $2 }' "$T/keys")
	mid_b=$(awk -v n="$n" '$1 == n { print $2 }' "$T/mids")
	for j in $(seq 1 $FETCHES); do
		req POST "$URL/v1/key" "{\"license_key\":\"$key\",\"fingerprint\":\"fp-$n-b\",\"nonce\":\"n-$n-$j\"}" "$T/r/$n-$j"
		[ "$j" = $half ] || continue
		case $kind in
		revoke) req POST "$URL/v1/licenses/$lid/revoke" "" "$T/change$n" admin ;;
		suspend) req POST "$URL/v1/licenses/$lid/suspend" "" "$T/change$n" admin ;;
		expire) req PATCH "$URL/v1/licenses/$lid" '{"expires_at":"2001-01-01T00:00:00Z"}' "$T/change$n" admin ;;
		shrink) req PATCH "$URL/v1/licenses/$lid" '{"max_machines":1}' "$T/change$n" admin ;;
		retier) req PATCH "$URL/v1/licenses/$lid" '{"tier":"basic"}' "$T/change$n" admin ;;
		unseat) req DELETE "$URL/v1/licenses/$lid/machines/$mid_b" "" "$T/change$n" admin ;;
		esac
	done > "$T/fetch$n.cfg"
	par fetch$n 4 || fail "trial $n: curl failed: $(cat "$T/fetch$n.err")"
	grep -Eq "^20[04] change$n\$" "$T/fetch$n.codes" || fail "trial $n: $kind failed: $(cat "$T/change$n")"
	grep -v " change$n\$" "$T/fetch$n.codes" > "$T/codes.$n"
	echo "$n $kind $lid" >> "$T/trials"
}

n=0
for kind in $KINDS; do
	n=$((n + 1))
	trial $n "$kind"
done

api GET "/v1/audit?since=0&limit=10000"
expect 200 "audit"
cp "$T/body" "$T/audit.json"
"$PY" - "$T" <<'PYEOF' || fail "delivery after a change (see above)"
import json, os, struct, sys
T = sys.argv[1]
audit = json.load(open(T + "/audit.json"))["entries"]
CHANGE = {"revoke": "license.revoke", "suspend": "license.suspend", "expire": "license.update",
          "shrink": "license.update", "retier": "license.update", "unseat": "machine.delete"}
REFUSAL = {"revoke": "REVOKED", "suspend": "SUSPENDED", "expire": "EXPIRED", "shrink": "TOO_MANY_MACHINES",
           "unseat": "NOT_ACTIVATED"}
bad, raced, spread = [], 0, []
for line in open(T + "/trials"):
    n, kind, lid = line.split()
    mine = [e for e in audit if e["target"].startswith("license:%s/" % lid) or e["target"] == "license:%s" % lid]
    change = [e["seq"] for e in mine if e["action"] == CHANGE[kind]]
    if len(change) != 1:
        bad.append("trial %s: %d %s entries" % (n, len(change), CHANGE[kind]))
        continue
    cseq = change[0]
    deliveries, by_nonce = [], {}
    for e in mine:
        if e["action"] == "key.deliver":
            d = e["detail"]
            deliveries.append(e["seq"])
            by_nonce[d.get("nonce")] = (e["seq"], d["tier"])
            if kind == "retier":
                if e["seq"] > cseq and d["tier"] != "basic":
                    bad.append("trial %s: tier %s delivered (seq %d) after the re-tier (seq %d)" % (n, d["tier"], e["seq"], cseq))
            elif e["seq"] > cseq:
                bad.append("trial %s: key.deliver seq %d follows %s seq %d" % (n, e["seq"], CHANGE[kind], cseq))
    ok200 = refused = 0
    for l in open("%s/codes.%s" % (T, n)):
        code, name = l.split()
        body = open("%s/r/%s" % (T, name), "rb").read()
        if code == "200":
            ok200 += 1
            hlen = struct.unpack("<I", body[12:16])[0]
            h = json.loads(body[16:16 + hlen])
            got = by_nonce.get(h["nonce"])
            if got is None:
                bad.append("trial %s: a 200 volume (nonce %s) has no key.deliver" % (n, h["nonce"]))
            elif got[1] != h["tier"]:
                bad.append("trial %s: volume tier %s, audit tier %s" % (n, h["tier"], got[1]))
            elif kind != "retier" and got[0] > cseq:
                bad.append("trial %s: a client got a volume committed (seq %d) after the change (seq %d)" % (n, got[0], cseq))
        else:
            refused += 1
            err = json.loads(body)["error"]["code"]
            if kind != "retier" and (code != "403" or err != REFUSAL[kind]):
                bad.append("trial %s: refusal %s %s, expected 403 %s" % (n, code, err, REFUSAL[kind]))
    if ok200 != len(deliveries):
        bad.append("trial %s: %d volumes answered 200, %d deliveries recorded" % (n, ok200, len(deliveries)))
    if kind != "retier" and ok200 and refused:
        raced += 1
    spread.append("%s/%s" % (ok200, refused))
for b in bad:
    print("FAIL:", b)
print("volumes/refusals per trial: " + " ".join(spread))
print("trials where the change landed between deliveries: %d" % raced)
if not raced:
    print("FAIL: no trial had deliveries both before and after the change: the race was not exercised")
sys.exit(1 if bad or not raced else 0)
PYEOF
ok "no key.deliver follows a revoke, suspend, expiry, shrink or unseat; re-tiers deliver only the new tier ($n trials)"

# One volume of each kind, rebuilt with cl_volume_build, must be byte-identical.
for f in $(awk '$1 == 200 { print $2 }' "$T/fetch1.codes" | head -n 1) $(awk '$1 == 200 { print $2 }' "$T/fetch$n.codes" | head -n 1); do
	"$VOLCHECK" "$T/r/$f" <(curl -sS --cacert "$T/tls.crt" "$URL/v1/pubkey") --rebuild "$T/var/signing.key" \
		> /dev/null || fail "streamed volume $f is not what cl_volume_build writes"
done
ok "streamed volumes verify and equal cl_volume_build's bytes"

# A clean exit: under the sanitizers, no leak and no runtime error.
stop
grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$T/serve.log" && fail "sanitizer report in the daemon log"
ok "the daemon stops cleanly"
