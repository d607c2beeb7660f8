#!/usr/bin/env bash
# Build the Debian package (debian/) from this tree with dpkg-buildpackage
# -us -uc -b, in a copy (the build's clean step would otherwise remove this
# tree's own build), without network.  Prints the .deb's path; the packages
# land in OUTDIR (default build/deb).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "${1:-build/deb}" && cd "${1:-build/deb}" && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/corelocker-deb.XXXXXX")
trap 'rm -rf "$W"' EXIT

# The tracked and new files, as they are now (not the build products).
mkdir "$W/src"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$W/src"
(cd "$W/src" && dpkg-checkbuilddeps) || { echo "build-package: install the build dependencies above (scripts/setup.sh does)" >&2; exit 1; }
(cd "$W/src" && dpkg-buildpackage -us -uc -b -j"$(nproc)") > "$W/build.log" 2>&1 || {
	tail -n 30 "$W/build.log" >&2
	echo "build-package: dpkg-buildpackage failed (above: the end of its log)" >&2
	exit 1
}
cp "$W"/*.deb "$W"/*.buildinfo "$W"/*.changes "$OUT/"
ls "$OUT"/corelocker_*_"$(dpkg --print-architecture)".deb
