#!/usr/bin/env bash
# The Debian package, end to end: build it (scripts/build-package.sh), run
# lintian on it (any error fails), install it with apt into a fresh Debian 12
# root (debootstrap --variant=minbase bookworm), and follow the README's
# operator quick start there: its commands are copied from README.md (the
# lines between the quickstart markers), so the two cannot drift.  Exit 0 on
# success, 1 on a failure, 77 (skip, with the reason) without root, the
# tools or the mirror.  MIRROR overrides the Debian mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MIRROR=${MIRROR:-http://deb.debian.org/debian}
skip() { echo "check-package: SKIP: $*" >&2; exit 77; }
fail() { echo "check-package: FAIL: $*" >&2; exit 1; }
say() { echo "check-package: [${SECONDS}s] $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot and mount)"
tools=(dpkg-dev debhelper lintian fakeroot debootstrap)
missing=()
for p in "${tools[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}"; } > /dev/null 2>&1 || skip "cannot install ${missing[*]}"
fi
curl -sfI --max-time 20 "$MIRROR/dists/bookworm/Release" > /dev/null || skip "the mirror $MIRROR is unreachable"

W=$(mktemp -d /var/tmp/corelocker-pkg.XXXXXX)
R=$W/root
# What the quick start left running in the root (a failed run's daemon):
# the processes whose root folder is $R, by their ids.
stop_root_processes() {
	local p pids=()
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && pids+=("${p#/proc/}")
	done
	[ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null || true
}
cleanup() {
	local m
	stop_root_processes
	for m in sys dev proc; do
		mountpoint -q "$R/$m" 2>/dev/null && umount "$R/$m" 2>/dev/null || umount -l "$R/$m" 2>/dev/null || true
	done
	# Never delete through a mount that is still there (it would be the host's /dev).
	if findmnt -rn -o TARGET | grep -q "^$W/"; then
		echo "check-package: $W still has mounts; left in place" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT

say "building the package"
DEB=$(scripts/build-package.sh "$W/deb" | tail -n 1) || fail "the package did not build"
say "built ${DEB##*/}"

lintian --allow-root -I "$DEB" > "$W/lintian.out" 2>&1 || true
say "lintian: $(grep -c '^E:' "$W/lintian.out" || true) errors, $(grep -c '^W:' "$W/lintian.out" || true) warnings, $(grep -c '^I:' "$W/lintian.out" || true) info"
sed 's/^/  /' "$W/lintian.out"
! grep -q '^E:' "$W/lintian.out" || fail "lintian reports errors"

say "debootstrap --variant=minbase bookworm"
debootstrap --variant=minbase bookworm "$R" "$MIRROR" > "$W/debootstrap.log" 2>&1 ||
	fail "debootstrap: $(tail -n 5 "$W/debootstrap.log")"
for m in proc dev sys; do mount --bind "/$m" "$R/$m"; done
cp /etc/resolv.conf "$R/etc/resolv.conf"
# An installed system has a machine id (systemd writes it at first boot); a
# debootstrap root has none, and the agent's fingerprint is derived from it.
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$R/etc/machine-id"
echo >> "$R/etc/machine-id"

# The quick start runs in a folder holding what it uses from the clone.
Q=/root/quickstart
mkdir -p "$R$Q/tests/utility/models"
cp tests/utility/models/cnn.safetensors "$R$Q/tests/utility/models/"
cp "$DEB" "$R$Q/"

say "apt install ./${DEB##*/}"
chroot "$R" /bin/sh -c "cd $Q && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ./${DEB##*/}" \
	> "$W/apt.log" 2>&1 || fail "apt install: $(tail -n 10 "$W/apt.log")"
chroot "$R" getent passwd corelocker > /dev/null || fail "the package did not create the user corelocker"
for f in /usr/bin/corelockerd /usr/bin/corelockerctl /usr/bin/corelocker-agent /etc/corelocker/corelockerd.conf \
	/lib/systemd/system/corelockerd.service /usr/share/man/man8/corelockerd.8.gz; do
	[ -e "$R$f" ] || fail "the package did not install $f"
done
[ ! -e "$R/etc/systemd/system/multi-user.target.wants/corelockerd.service" ] || fail "the package enabled the unit"

# The README's quick start: the lines between the markers, code fences dropped.
sed -n '/^<!-- quickstart:begin -->$/,/^<!-- quickstart:end -->$/p' "$ROOT/README.md" | grep -v '^<!--\|^```' > "$W/quickstart.sh"
[ -s "$W/quickstart.sh" ] || fail "README.md has no quickstart block"
# Then stop the daemon the quick start started (its only background job).
printf '\nkill -TERM $!\nwait $!\n' >> "$W/quickstart.sh"
cp "$W/quickstart.sh" "$R$Q/quickstart.sh"
say "the README's operator quick start ($(grep -cv '^#\|^$' "$W/quickstart.sh") commands)"
if ! chroot "$R" /bin/bash -c "cd $Q && bash -euo pipefail -x quickstart.sh" > "$W/quickstart.log" 2>&1; then
	tail -n 30 "$W/quickstart.log" >&2
	[ -f "$R$Q/corelockerd.log" ] && tail -n 10 "$R$Q/corelockerd.log" >&2
	fail "the README's quick start failed in the fresh root (above: the end of its log)"
fi
grep -qx "restored bit for bit" "$W/quickstart.log" || fail "the full tier did not restore the original"
grep -qx VALID "$W/quickstart.log" || fail "corelocker-agent validate did not print VALID"
[ "$(chroot "$R" stat -c '%U %a' /var/lib/corelocker)" = "corelocker 700" ] ||
	fail "/var/lib/corelocker is $(chroot "$R" stat -c '%U %a' /var/lib/corelocker), not corelocker 700"
say "PASS: package built, lintian clean of errors, installed in a fresh bookworm root, quick start passed (VALID)"
