#!/bin/bash
# corelocker-agent run: the model reaches CMD only through sealed memfds
# (/proc/self/fd/N), byte-identical to `unlock` of the same tier, and never
# as a named file; CMD is stopped when the license is revoked, its tier
# changes or the lease cannot be renewed (server killed); signals reach CMD;
# CMD's exit status is the agent's; a killed agent takes CMD with it.
. "$top_srcdir/tests/agent/common.sh"
PROBE="$top_srcdir/tests/agent/probe.py"

agent_setup "lease_grace = 1"
mk m 0.05 1
push m
tier m basic 0.02
tier m full 0
L=$T/m.locked.safetensors
issue m basic '"lease_seconds":3'

# The reference: `unlock` of the same tier to a file; only its digest is kept.
run_agent ref unlock "$L" -o "$T/ref.safetensors" --license "$KEY" --fingerprint fp-a
expect_rc 0 ref "unlock (reference)"
WANT=$(sha256sum < "$T/ref.safetensors" | cut -d' ' -f1)
SIZE=$(stat -c %s "$T/ref.safetensors")
rm -f "$T/ref.safetensors" "$T/ref.safetensors.clstate"

# bg TAG ARGS...: the agent in the background (APID); wait_line TAG PATTERN: poll its stdout.
bg() {
	local tag=$1
	shift
	"$AGENT" "$@" > "$T/$tag.out" 2> "$T/$tag.err" &
	APID=$!
}
wait_line() {
	for _ in $(seq 1 600); do
		grep -q "$2" "$T/$1.out" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "$1: no line '$2': $(cat "$T/$1.out" "$T/$1.err")"
}
# wait_exit PID TAG: its exit status in RC (generous bound: 60 s)
wait_exit() {
	for _ in $(seq 1 600); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && fail "$2: still running: $(cat "$T/$2.err")"
	RC=0
	wait "$1" || RC=$?
}
field() { sed -n "s/.*$2=\([^ ]*\).*/\1/p" "$T/$1.out" | head -n 1; }
# No regular file (outside /proc) holds the unlocked bytes: find over the test folder, /tmp and /dev/shm.
# The other tests' folders (make check runs them in parallel, and they unlock
# the same small model to files on purpose) are left out of the /tmp scan.
no_named_copy() {
	local f
	while IFS= read -r f; do
		[ "$(sha256sum < "$f" | cut -d' ' -f1)" != "$WANT" ] || fail "$1: $f holds the unlocked model"
	done < <({ find "$T" /dev/shm -xdev -type f -size "${SIZE}c"
		find /tmp -xdev \( -path '/tmp/corelockerd-test.*' -prune \) -o -type f -size "${SIZE}c" -print; } 2>/dev/null)
}

# ---- the model CMD sees ----
bg r1 run "$L" --license "$KEY" --fingerprint fp-a -- "$PY" "$PROBE" '{model}'
wait_line r1 "sha256="
P1=$(field r1 pid)
MP=$(field r1 model)
[ "$(field r1 sha256)" = "$WANT" ] || fail "CMD's model is not the tier's bytes: $(cat "$T/r1.out")"
[[ $MP =~ ^/proc/self/fd/[0-9]+$ ]] || fail "CORELOCKER_MODEL is $MP, not /proc/self/fd/N"
[ "$(field r1 arg)" = "$MP" ] || fail "{model} became $(field r1 arg), not $MP"
[ "$(field r1 seals)" = 15 ] || fail "the memfd's seals are $(field r1 seals), not WRITE|GROW|SHRINK|SEAL (15)"
LINK=$(readlink "/proc/$P1/fd/${MP##*/}")
case $LINK in /memfd:*) ;; *) fail "CMD's model descriptor is $LINK, not a memfd" ;; esac
ok "run: CMD gets /proc/self/fd/N (also for {model}), a sealed memfd with the tier's SHA-256"

grep -q "/memfd:" "/proc/$P1/maps" || fail "CMD's mapping of the model is not in its maps"
awk '$6 ~ /^\// {print $6}' "/proc/$P1/maps" | sort -u | while IFS= read -r f; do
	[ -f "$f" ] || continue
	[ "$(sha256sum < "$f" | cut -d' ' -f1)" != "$WANT" ] || fail "CMD maps the named file $f with the unlocked bytes"
done
no_named_copy "while CMD runs"
ok "run: /proc/PID/maps shows the model only as a memfd; no named file holds it"

# ---- signals are forwarded; CMD's exit status is the agent's ----
kill -USR1 "$APID"
wait_line r1 "signal SIGUSR1"
kill -HUP "$APID"
wait_line r1 "signal SIGHUP"
kill -TERM "$APID"
wait_exit "$APID" r1
[ "$RC" = 0 ] || fail "the agent exited $RC after CMD ended 0 on SIGTERM: $(cat "$T/r1.err")"
grep -q "signal SIGTERM" "$T/r1.out" || fail "SIGTERM not forwarded: $(cat "$T/r1.out")"
run_agent x1 run "$L" --license "$KEY" --fingerprint fp-a -- "$PY" "$PROBE" --exit 7
expect_rc 7 x1 "CMD exits 7"
bg r2 run "$L" --license "$KEY" --fingerprint fp-a -- "$PY" "$PROBE" --term-exit 42
wait_line r2 "sha256="
kill -INT "$APID"
wait_line r2 "signal SIGINT"
kill -TERM "$APID"
wait_exit "$APID" r2
[ "$RC" = 42 ] || fail "the agent exited $RC, CMD 42"
ok "run: SIGUSR1/SIGHUP/SIGINT/SIGTERM reach CMD; the agent exits with CMD's status (0, 7, 42)"

# ---- refusals before CMD starts: one line, no CMD ----
run_agent e1 run "$L" --license "$KEY" --fingerprint fp-a -- "$T/no-such-command"
refused 2 e1 "a command that does not exist"
run_agent e2 run "$L" --license "$KEY" --fingerprint fp-a
refused 2 e2 "no command"
run_agent e3 run "$T/none.safetensors" --license "$KEY" --fingerprint fp-a -- "$PY" "$PROBE"
refused 2 e3 "no locked model"
run_agent e4 run "$L" --license "$KEY" --fingerprint fp-a --grace x -- "$PY" "$PROBE"
refused 2 e4 "a bad --grace"
grep -q "sha256=" "$T/e1.out" "$T/e3.out" "$T/e4.out" && fail "CMD started after a refusal"
ok "run: a missing command, model or '--', or a bad --grace: exit 2, one line, CMD never started"

# ---- the agent killed with SIGKILL: CMD goes too, nothing on disk ----
bg k run "$L" --license "$KEY" --fingerprint fp-a -- "$PY" "$PROBE"
wait_line k "sha256="
PK=$(field k pid)
kill -9 "$APID"
wait "$APID" 2>/dev/null || true
for _ in $(seq 1 600); do kill -0 "$PK" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PK" 2>/dev/null && fail "CMD outlived the killed agent"
no_named_copy "after the agent was killed"
ok "run: the agent killed with SIGKILL takes CMD with it; no unlocked bytes on disk"

# ---- the tier changes: CMD is stopped (exit 15) ----
issue m basic '"lease_seconds":3'
bg t run "$L" --license "$KEY" --fingerprint fp-t -- "$PY" "$PROBE"
wait_line t "sha256="
api PATCH "/v1/licenses/$LID" -d '{"tier":"full"}'
expect 200 "upgrade"
wait_exit "$APID" t
[ "$RC" = 15 ] || fail "tier change: exit $RC: $(cat "$T/t.err")"
grep -q "tier is now 'full'; the running model was unlocked to tier 'basic'" "$T/t.err" || fail "tier message: $(cat "$T/t.err")"
grep -q "signal SIGTERM" "$T/t.out" || fail "CMD was not sent SIGTERM"
ok "run: a tier change stops CMD with SIGTERM (exit 15, the reason on stderr)"

# ---- revoked: SIGTERM ignored, SIGKILL after --grace; exit 6 ----
issue m basic '"lease_seconds":3'
bg v run "$L" --license "$KEY" --fingerprint fp-v --grace 1 -- "$PY" "$PROBE" --ignore-term
wait_line v "sha256="
PV=$(field v pid)
api POST "/v1/licenses/$LID/revoke"
expect 200 "revoke"
wait_exit "$APID" v
[ "$RC" = 6 ] || fail "revoked: exit $RC: $(cat "$T/v.err")"
grep -q "stopping .*: the license is no longer valid: REVOKED" "$T/v.err" || fail "revoke message: $(cat "$T/v.err")"
grep -q "did not end within 1 s of SIGTERM: SIGKILL" "$T/v.err" || fail "no SIGKILL line: $(cat "$T/v.err")"
kill -0 "$PV" 2>/dev/null && fail "CMD survived"
ok "run: a revoke stops CMD (SIGTERM ignored: SIGKILL after --grace); exit 6"

# ---- a sharded model: a memfd per shard and a generated index ----
lock_sharded sh 3 1
push sh
tier sh basic 0.02
issue sh basic
run_agent sref unlock "$T/shl/$IDX" -o "$T/shref" --license "$KEY" --fingerprint fp-s
expect_rc 0 sref "unlock sharded (reference)"
(cd "$T/shref" && sha256sum model-*.safetensors | cut -d' ' -f1 | sort) > "$T/want-shards"
rm -rf "$T/shref" "$T/shref.clstate"
run_agent s run "$T/shl/$IDX" --license "$KEY" --fingerprint fp-s -- "$PY" "$PROBE" --exit 0
expect_rc 0 s "run a sharded model"
sed -n 's/^shard=.* sha256=\([0-9a-f]*\).*/\1/p' "$T/s.out" | sort > "$T/got-shards"
[ "$(wc -l < "$T/got-shards")" = 3 ] || fail "the index does not point at 3 shards: $(cat "$T/s.out")"
cmp -s "$T/got-shards" "$T/want-shards" || fail "the shards CMD sees are not unlock's: $(cat "$T/s.out")"
grep '^shard=' "$T/s.out" | grep -vq '^shard=/proc/self/fd/[0-9]* .* seals=15$' && fail "a shard is not a sealed /proc/self/fd/N: $(cat "$T/s.out")"
ok "run: a sharded model is an index memfd pointing at one sealed memfd per shard, each unlock's bytes"

# ---- the server killed: CMD is stopped once the lease lapses (exit 16) ----
issue m basic '"lease_seconds":3'
bg d run "$L" --license "$KEY" --fingerprint fp-d -- "$PY" "$PROBE"
wait_line d "sha256="
kill -9 "$DPID"
wait "$DPID" 2>/dev/null || true
DPID=
wait_exit "$APID" d
[ "$RC" = 16 ] || fail "server gone: exit $RC: $(cat "$T/d.err")"
grep -q "stopping .*: the lease lapsed: no heartbeat got through in time" "$T/d.err" || fail "lapse message: $(cat "$T/d.err")"
grep -q "signal SIGTERM" "$T/d.out" || fail "CMD was not sent SIGTERM"
no_named_copy "after the lapse"
ok "run: with the server killed, CMD is stopped when the lease lapses (exit 16)"
