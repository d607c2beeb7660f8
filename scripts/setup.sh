#!/usr/bin/env bash
# Install every Debian package corelocker needs, then build it in the tree.
# Safe to run again: installed packages are skipped, the build is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libjansson-dev libssl-dev
	libmicrohttpd-dev libgnutls28-dev libsqlite3-dev libsystemd-dev curl openssl
	libcurl4-openssl-dev git sqlite3
	postgresql haproxy libpq-dev
	python3 python3-numpy python3-torch libopenblas0-pthread dataset-fashion-mnist
	chromium
)
# The console's browser tests run on node; Debian's nodejs and npm only when
# no node is installed (an image may bring its own).
command -v node > /dev/null || PACKAGES+=(nodejs npm)
# tests/multinode/t_cluster.sh runs one node with a skewed clock (libfaketime).
PACKAGES+=(faketime)
# The language model's corpus (tests/utility/lmdata.py): Jane Austen's novels.
PACKAGES+=(r-cran-janeaustenr)
# The utility plots (tests/utility/plot.py, attack_plot.py; not make check).
PACKAGES+=(python3-matplotlib)
# The Debian package: scripts/build-package.sh and scripts/check-package.sh.
PACKAGES+=(debhelper dpkg-dev fakeroot lintian debootstrap)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "setup: installing ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The PostgreSQL pass of make check (tests/pg/) starts private clusters, and
# initdb refuses root: as root, the clusters run as a system user of their own,
# corelocker-test (no home, no login), rather than nobody, whose files other
# services may share.  Debian's postgresql package also starts its own cluster
# on port 5432; the tests never use it.
if [ "$(id -u)" -eq 0 ] && ! getent passwd corelocker-test > /dev/null; then
	echo "setup: creating the system user corelocker-test for the test clusters"
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin corelocker-test
fi

# playwright-core for tests/console (locked in package-lock.json); again only
# when the lock file changed since the last install.
if [ ! -f tests/console/node_modules/.package-lock.json ] ||
	[ tests/console/package-lock.json -nt tests/console/node_modules/.package-lock.json ]; then
	echo "setup: npm ci in tests/console"
	# Without the registry the browser tests skip (exit 77) instead of the whole setup failing.
	npm ci --prefix tests/console --no-audit --no-fund --loglevel=error >/dev/null ||
		echo "setup: npm ci failed: the console's browser tests will be skipped" >&2
fi

[ -x configure ] || ./autogen.sh >/dev/null
[ -f Makefile ] || ./configure -q ${CONFIGURE_FLAGS:-}
make -j"$(nproc)" >/dev/null
echo "setup: built ctl/corelockerctl"
