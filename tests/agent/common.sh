# common.sh - sourced by tests/agent/*.sh and tests/ctl_remote/*.sh: the real
# daemon (tests/server/common.sh starts it on 127.0.0.1 port 0 with a fresh
# certificate), the real agent and corelockerctl over real TLS.
: "${AGENT:?run through make check}"
. "$top_srcdir/tests/server/common.sh"
MKMODEL="$top_srcdir/tests/agent/mkmodel.py"
# The agent's journal key (client/jkey.c) lives under the test's own folder.
export XDG_STATE_HOME="$T/state"

# Uploads here are bigger than the server tests' 64K.
write_conf() {
	mkdir -p "$T/var"
	{
		printf '[server]\nlisten = 127.0.0.1\nport = 0\ntls_cert = tls.crt\ntls_key = tls.key\nthreads = 4\n'
		storage_conf
		printf '[keys]\nsigning_key = var/signing.key\nmaster_key = var/master.key\n'
		printf '[limits]\nmax_body = 256M\nrate = 0\nactivate_rate = 0\nlicense_rate = 0\n'
		for l in "$@"; do printf '%s\n' "$l"; done
		printf '[log]\nlevel = info\n'
	} > "$T/d.conf"
}

# Start a daemon; the agent finds the server, CA and pinned key in the environment.
agent_setup() {
	setup "$@"
	call GET /v1/pubkey
	expect 200 "pubkey"
	cp "$T/body" "$T/pub.pem"
	export CORELOCKER_SERVER="$URL" CORELOCKER_CACERT="$T/tls.crt" CORELOCKER_SERVER_KEY="$T/pub.pem"
}

# mk NAME RATIO [MIB] [SEED]: $T/NAME.safetensors, NAME.locked.safetensors, NAME.clkey
mk() {
	local extra=()
	[ -n "${3:-}" ] && [ "$3" != 0 ] && extra=(--mib "$3")
	"$PY" "$MKMODEL" "$T/$1.safetensors" --seed "${4:-1}" "${extra[@]}" || fail "mkmodel"
	"$CTL" lock "$T/$1.safetensors" -o "$T/$1.locked.safetensors" -k "$T/$1.clkey" --ratio "$2" > /dev/null ||
		fail "lock $1"
}

# push NAME: store $T/NAME.clkey as model NAME version 1; MID is its id.
push() { push_model "$1" "$1"; }
# tier MODEL NAME RATIO
tier() {
	api PUT "/v1/models/$1/tiers/$2" -d "{\"ratio\":$3}"
	[ "$STATUS" = 201 ] || [ "$STATUS" = 200 ] || fail "tier $2: HTTP $STATUS $(cat "$T/body")"
}
# issue MODEL TIER [extra JSON fields]: LID and KEY of a new license
issue() {
	api POST /v1/licenses -d "{\"model\":\"$1\",\"tier\":\"$2\",\"customer\":\"c-$2\"${3:+,$3}}"
	expect 201 "issue $1/$2"
	LID=$(jget '["id"]')
	KEY=$(jget '["key"]')
}

# run_agent TAG ARGS...: RC, stdout in $T/TAG.out, stderr in $T/TAG.err
run_agent() {
	local tag=$1
	shift
	RC=0
	"$AGENT" "$@" > "$T/$tag.out" 2> "$T/$tag.err" || RC=$?
}
# expect_rc CODE TAG WHAT
expect_rc() {
	[ "$RC" = "$1" ] || fail "$3: expected exit $1, got $RC: $(cat "$T/$2.err" "$T/$2.out" 2>/dev/null | head -c 600)"
}
# refused CODE TAG WHAT: exit CODE with exactly one line on stderr
refused() {
	expect_rc "$@"
	[ "$(wc -l < "$T/$2.err")" = 1 ] || fail "$3: expected one line on stderr, got: $(cat "$T/$2.err")"
}

# ref LOCKED KEY BETA OUT: corelockerctl's offline unlock, the reference
ref() {
	"$CTL" unlock "$1" -k "$2" --tier-ratio "$3" -o "$4" > /dev/null || fail "ctl unlock $3"
}

# transferred TAG: the "N bytes transferred" figure of an unlock
transferred() {
	sed -n 's/.* \([0-9][0-9]*\) bytes transferred.*/\1/p' "$T/$1.out"
}

# kill_after N ARGS...: run the agent with ARGS, pausing after N spans; kill -9 it there.
kill_after() {
	local n=$1 pid
	shift
	CORELOCKER_TEST_PAUSE_AFTER_SPANS=$n "$AGENT" "$@" > "$T/crash.out" 2> "$T/crash.err" &
	pid=$!
	# up to 180 s: a guard against a hang, not a timing (ASan on a loaded machine is slow)
	for _ in $(seq 1 3600); do
		grep -q "test pause after $n spans" "$T/crash.err" && break
		kill -0 "$pid" 2>/dev/null || fail "the agent ended before pausing: $(cat "$T/crash.err")"
		sleep 0.05
	done
	# a hang is reported with where the agent waits, for the next reader of this log
	grep -q "test pause after $n spans" "$T/crash.err" ||
		fail "the agent never paused at span $n: $(cat "$T/crash.err" "$T/crash.out") (wchan $(cat "/proc/$pid/wchan" 2>/dev/null); fds: $(ls -l "/proc/$pid/fd" 2>/dev/null | tail -n +2 | awk '{print $NF}' | tr '\n' ' '))"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
}

# c TAG ARGS...: run corelockerctl; RC, $T/TAG.out, $T/TAG.err
c() {
	local tag=$1
	shift
	RC=0
	"$CTL" "$@" > "$T/$tag.out" 2> "$T/$tag.err" || RC=$?
}

V3='application/vnd.corelocker.volume; version=3'
# volume_version FILE: a key volume's version (the u32 at byte 8)
volume_version() { od -An -tu4 -j8 -N4 "$1" | tr -d ' '; }
# fetch_volume NAME NONCE [ACCEPT]: POST /v1/key for $KEY into $T/NAME.vol, its Content-Type into $T/NAME.ct
fetch_volume() {
	local h=()
	[ -z "${3:-}" ] || h=(-H "Accept: $3")
	call POST /v1/key -H 'Content-Type: application/json' "${h[@]}" \
		--data-binary "{\"license_key\":\"$KEY\",\"fingerprint\":\"fp\",\"nonce\":\"$2\"}"
	expect 200 "key $1"
	cp "$T/body" "$T/$1.vol"
	tr -d '\r' < "$T/headers" | sed -n 's/^[Cc]ontent-[Tt]ype: //p' > "$T/$1.ct"
}
# delivered: the volume version of the daemon's last delivery line
delivered() { grep 'delivered tier' "$T/serve.log" | tail -n 1 | sed -n 's/.*volume v\([0-9]*\)).*/\1/p'; }
IDX=model.safetensors.index.json
# lock_sharded NAME SHARDS MIB [MKMODEL ARGS]: a sharded test model $T/NAME, locked at
# ratio 0.05 into $T/NAMEl with its key in $T/NAME.clkey
lock_sharded() {
	"$PY" "$MKMODEL" "$T/$1" --shards "$2" --mib "$3" "${@:4}" || fail "mkmodel $1"
	"$CTL" lock "$T/$1/$IDX" -o "$T/${1}l" -k "$T/$1.clkey" --ratio 0.05 > /dev/null || fail "lock $1"
}
