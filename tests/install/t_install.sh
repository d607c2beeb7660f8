#!/usr/bin/env bash
# make install DESTDIR=...: the three binaries, the man pages, the sample
# configuration at the path corelockerd --help names (never over an edited
# one), and, when configured, the units with the installed paths, sysusers.d
# and tmpfiles.d.
set -euo pipefail
: "${top_builddir:?run through make check}"
T=$(mktemp -d "${TMPDIR:-/tmp}/corelocker-install.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
D=$T/dest

install_tree() {
	${MAKE:-make} -s -C "$top_builddir" install DESTDIR="$D" > "$T/install.log" 2>&1 ||
		fail "make install: $(tail -n 5 "$T/install.log")"
}
install_tree

# The binaries, found under DESTDIR wherever bindir is.
DAEMON=$(find "$D" -path '*/bin/corelockerd' -type f)
[ -n "$DAEMON" ] || fail "no bin/corelockerd under DESTDIR"
BINDIR=${DAEMON%/corelockerd}
for b in corelockerd corelockerctl corelocker-agent; do
	[ -x "$BINDIR/$b" ] || fail "$BINDIR/$b is not installed"
done
ok "the three binaries are in ${BINDIR#"$D"}"

for m in man1/corelockerctl.1 man1/corelocker-agent.1 man5/corelockerd.conf.5 man8/corelockerd.8; do
	[ -n "$(find "$D" -path "*/man/$m" -type f)" ] || fail "man page $m is not installed"
done
ok "the four man pages are installed"

# The default configuration path: what --help says, where the sample went.
CONF=$("$DAEMON" --help | sed -n 's/^default CONF: //p')
[ -n "$CONF" ] || fail "corelockerd --help names no default CONF"
case $CONF in */corelocker/corelockerd.conf) ;; *) fail "default CONF $CONF is not SYSCONFDIR/corelocker/corelockerd.conf" ;; esac
[ -f "$D$CONF" ] || fail "the sample configuration is not at $CONF (corelockerd --help's default)"
cmp -s "$D$CONF" "$top_srcdir/etc/corelockerd.conf" || fail "$CONF is not etc/corelockerd.conf"
"$DAEMON" dump-config | cmp -s - "$D$CONF" || fail "the installed sample differs from dump-config"
ok "the sample configuration is at $CONF, the path corelockerd --help names"

# A second install keeps the operator's file.
echo "# edited by the operator" >> "$D$CONF"
cp "$D$CONF" "$T/edited"
install_tree
cmp -s "$D$CONF" "$T/edited" || fail "a second make install overwrote the edited $CONF"
grep -q "keeping $D$CONF" "$T/install.log" || fail "make install did not say it kept $CONF"
ok "make install does not overwrite an existing configuration"

# The units, when configure found (or was given) a unit folder.
UNITDIR=$(sed -n 's/^systemdsystemunitdir = //p' "$top_builddir/Makefile")
if [ "$UNITDIR" = no ]; then
	[ -z "$(find "$D" -name 'corelockerd*.service')" ] || fail "units installed with --without-systemdsystemunitdir"
	ok "# SKIP configured without a systemd unit folder: no unit installed"
else
	for u in corelockerd.service corelockerd@.service; do
		f=$D$UNITDIR/$u
		[ -f "$f" ] || fail "$u is not in $UNITDIR"
		! grep -n '@[a-z]*@' "$f" || fail "$u has an unsubstituted @variable@"
	done
	grep -qxF "ExecStart=${BINDIR#"$D"}/corelockerd -c $CONF" "$D$UNITDIR/corelockerd.service" ||
		fail "corelockerd.service: ExecStart is not ${BINDIR#"$D"}/corelockerd -c $CONF: $(grep ExecStart= "$D$UNITDIR/corelockerd.service")"
	grep -qxF "ExecStart=${BINDIR#"$D"}/corelockerd -c ${CONF%/*}/%i.conf" "$D$UNITDIR/corelockerd@.service" ||
		fail "corelockerd@.service: ExecStart does not use the installed paths"
	ok "the units start ${BINDIR#"$D"}/corelockerd with $CONF"
fi
# sysusers.d makes the user the units run as; tmpfiles.d the configured folders.
declare -A want=([sysusers]='^u corelocker ' [tmpfiles]="^d ${CONF%/*} ")
for kind in sysusers tmpfiles; do
	dir=$(sed -n "s/^${kind}dir = //p" "$top_builddir/Makefile")
	if [ "$dir" = no ]; then
		ok "# SKIP configured without a $kind.d folder"
		continue
	fi
	[ -f "$D$dir/corelocker.conf" ] || fail "$kind.d: $dir/corelocker.conf is not installed"
	grep -q "${want[$kind]}" "$D$dir/corelocker.conf" || fail "$kind.d: no line ${want[$kind]}"
	ok "$kind.d: $dir/corelocker.conf"
done
