#!/bin/bash
# The utility a tier was calibrated to (schema 004): corelockerctl tier set
# --utility U [--label L] stores them, the tier JSON (show, list, the model)
# carries them, a PUT without them clears them (they described the old cut),
# bad values are refused and change nothing, and a database from before
# schema 004 migrates with its tiers kept and no utility recorded.
. "$top_srcdir/tests/agent/common.sh"

agent_setup
mk m 0.05 1
push m
export CORELOCKER_TOKEN="$TOKEN"

# ---- set with corelockerctl ----
U=$("$PY" -c 'print(71.25 + 0.5)')
c set tier set m basic --ratio 0.02 --utility "$U" --label "top-1 accuracy %" --json
expect_rc 0 set "tier set --utility --label"
cp "$T/set.out" "$T/body"
[ "$(jget '["utility"]')" = "$U" ] && [ "$(jget '["label"]')" = "top-1 accuracy %" ] || fail "set answer: $(cat "$T/body")"
api GET "/v1/models/$MID/tiers/basic"
[ "$(jget '["utility"]')" = "$U" ] && [ "$(jget '["label"]')" = "top-1 accuracy %" ] || fail "tier show: $(cat "$T/body")"
api GET "/v1/models/$MID"
[ "$(jget '["tiers"][0]["utility"]')" = "$U" ] || fail "model show: $(cat "$T/body")"
c list tier list m
expect_rc 0 list "tier list"
grep -q "^basic .* $U " "$T/list.out" || fail "tier list shows no utility: $(cat "$T/list.out")"
c nolabel tier set m low --ratio 0.04 --utility 0.12 --json
expect_rc 0 nolabel "--utility without --label"
cp "$T/nolabel.out" "$T/body"
[ "$(jget '["utility"]')" = 0.12 ] && [ "$(jget '["label"]')" = null ] || fail "no label: $(cat "$T/body")"
ok "tier set --utility/--label: stored, shown by tier show, model show and tier list"

# ---- refused, and nothing changed ----
# usage errors: exit 2, the reason, then the usage line
c badu tier set m basic --ratio 0.02 --utility high
expect_rc 2 badu "--utility not a number"
head -n 1 "$T/badu.err" | grep -q -- "--utility needs a number" || fail "--utility high: $(cat "$T/badu.err")"
c badl tier set m basic --ratio 0.02 --label "accuracy"
expect_rc 2 badl "--label without --utility"
head -n 1 "$T/badl.err" | grep -q -- "give --utility too" || fail "--label alone: $(cat "$T/badl.err")"
for bad in '{"ratio":0.02,"label":"acc"}' '{"ratio":0.02,"utility":"71"}' '{"ratio":0.02,"utility":true}' \
	'{"ratio":0.02,"utility":1,"label":""}' '{"ratio":0.02,"utility":1,"label":"a\u0007b"}' \
	"{\"ratio\":0.02,\"utility\":1,\"label\":\"$(printf 'x%.0s' $(seq 65))\"}" '{"ratio":0.02,"utility":1e999}'; do
	api PUT "/v1/models/$MID/tiers/basic" -d "$bad"
	[ "$STATUS" = 400 ] || fail "PUT $bad: HTTP $STATUS $(cat "$T/body")"
	case "$(jget '["error"]["code"]')" in INVALID_FIELD | INVALID_JSON) ;; *) fail "PUT $bad: $(cat "$T/body")" ;; esac
done
api GET "/v1/models/$MID/tiers/basic"
[ "$(jget '["utility"]')" = "$U" ] && [ "$(jget '["label"]')" = "top-1 accuracy %" ] || fail "a refused PUT changed the tier: $(cat "$T/body")"
ok "bad utility or label, a label without a utility: 400 or usage errors, nothing changed"

# ---- a re-cut without them clears them ----
api PUT "/v1/models/$MID/tiers/basic" -d '{"ratio":0.03}'
expect 200 "re-cut"
[ "$(jget '["utility"]')" = null ] && [ "$(jget '["label"]')" = null ] && [ "$(jget '["ratio"]')" = 0.03 ] ||
	fail "re-cut kept the old utility: $(cat "$T/body")"
api PUT "/v1/models/$MID/tiers/basic" -d '{"ratio":0.03,"utility":-2.5,"label":null}'
[ "$(jget '["utility"]')" = -2.5 ] && [ "$(jget '["label"]')" = null ] || fail "negative utility: $(cat "$T/body")"
ok "a PUT without utility clears it; any finite number (a loss, a negative score) is kept"

# ---- a database from before schema 004 ----
stop
schema_downgrade 3 "ALTER TABLE tiers DROP COLUMN utility; ALTER TABLE tiers DROP COLUMN label;
	ALTER TABLE licenses DROP COLUMN lease_seconds; ALTER TABLE licenses DROP COLUMN floating;
	ALTER TABLE licenses DROP COLUMN max_checkout; ALTER TABLE machines DROP COLUMN lease_expires;
	ALTER TABLE machines DROP COLUMN checkout_until;"
start
grep -q "applied migration 004_tier_utility.sql" "$T/serve.log" || fail "migration 004 not applied: $(cat "$T/serve.log")"
api GET "/v1/models/$MID/tiers"
[ "$(jget '["tiers"].__len__()')" = 2 ] && [ "$(jget '["tiers"][0]["utility"]')" = null ] &&
	[ "$(jget '["tiers"][1]["label"]')" = null ] || fail "migrated tiers: $(cat "$T/body")"
ok "a schema-3 database migrates: tiers kept, no utility recorded"
