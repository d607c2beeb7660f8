#!/bin/bash
# examples/serve_model.py under corelocker-agent run: the bundled CNN, locked,
# served from the memfd the agent fills; its answers over HTTP are the
# original model's own predictions for the full tier, and a revoke stops it.
. "$top_srcdir/tests/agent/common.sh"
SERVE="$top_srcdir/examples/serve_model.py"
ORIG="$top_srcdir/tests/utility/models/cnn.safetensors"
"$PY" -c 'import torch, numpy' 2>/dev/null || { echo "SKIP: python3-torch or numpy missing"; exit 77; }
"$PY" -c "import sys; sys.path.insert(0, '$top_srcdir/tests/utility'); import data; data.find_dir()" 2>/dev/null ||
	{ echo "SKIP: dataset-fashion-mnist missing"; exit 77; }

agent_setup "lease_grace = 1"
"$CTL" lock "$ORIG" -o "$T/cnn.locked.safetensors" -k "$T/cnn.clkey" --ratio 0.1 --exclude '^conv1\.' > /dev/null ||
	fail "lock"
push cnn
tier cnn full 0
issue cnn full '"lease_seconds":6'

"$AGENT" run "$T/cnn.locked.safetensors" --license "$KEY" --fingerprint fp-s -- \
	"$PY" "$SERVE" --arch cnn --port 0 > "$T/s.out" 2> "$T/s.err" &
APID=$!
for _ in $(seq 1 1200); do
	grep -q "^serving cnn on http://127.0.0.1:" "$T/s.out" && break
	kill -0 "$APID" 2>/dev/null || fail "run ended: $(cat "$T/s.err")"
	sleep 0.1
done
SURL=$(sed -n 's/^serving cnn on \(http:.*\)$/\1/p' "$T/s.out")
[ -n "$SURL" ] || fail "the example never served: $(cat "$T/s.out" "$T/s.err")"
"$PY" "$top_srcdir/tests/agent/serve_check.py" "$SURL" cnn "$ORIG" 500 > "$T/check" || fail "serve_check: $(cat "$T/check")"
grep -q "^same=500 of 500 " "$T/check" || fail "served classes differ from the original's: $(cat "$T/check")"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'short' "$SURL/predict")
[ "$STATUS" = 400 ] || fail "a short image: HTTP $STATUS"
ok "serve_model.py under run: 500 predictions equal the original model's ($(cat "$T/check"))"

api POST "/v1/licenses/$LID/revoke"
expect 200 "revoke"
for _ in $(seq 1 600); do kill -0 "$APID" 2>/dev/null || break; sleep 0.1; done
RC=0
wait "$APID" || RC=$?
[ "$RC" = 6 ] || fail "after the revoke: exit $RC: $(cat "$T/s.err")"
curl -s -o /dev/null "$SURL/healthz" && fail "the example still answers after the revoke"
ok "a revoke stops the example server (exit 6)"
