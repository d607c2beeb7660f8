#!/usr/bin/env bash
# Set everything up and run the whole test suite: make check on the normal
# build, then the C tests again on an ASan + UBSan build of a copy of the tree,
# then the Debian package built, installed into a fresh bookworm root and put
# through the README's operator quick start (scripts/check-package.sh; a skip,
# with its reason, without root or the Debian mirror).
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1

make -j"$(nproc)" check
status=$?

san=$(mktemp -d /tmp/corelocker-san.XXXXXX)
trap 'rm -rf "$san"' EXIT
echo "== sanitizer build (ASan + UBSan) in $san"
git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$san"
(
	cd "$san" && ./autogen.sh >/dev/null 2>&1 && ./configure -q --enable-sanitizers &&
		make -j"$(nproc)" >/dev/null &&
		make -j"$(nproc)" check-c
) || status=1

echo "== Debian package (scripts/check-package.sh)"
./scripts/check-package.sh
package=$?
[ $package -eq 0 ] || [ $package -eq 77 ] || status=1

# One closing line over every test result of both builds and the package.
trs=$(find tests "$san/tests" -name '*.trs' 2>/dev/null)
count() {
	local n=0
	[ -z "$trs" ] || n=$(cat $trs | grep -c "^:test-result: $1")
	echo "${n:-0}"
}
pass=$(count PASS)
fail=$(($(count FAIL) + $(count ERROR) + $(count XPASS)))
skip=$(count SKIP)
case $package in
0) pass=$((pass + 1)) ;;
77) skip=$((skip + 1)) ;;
*) fail=$((fail + 1)) ;;
esac
if [ $status -ne 0 ]; then
	for log in $(grep -l '^:test-result: \(FAIL\|ERROR\)' $trs 2>/dev/null); do
		echo "== ${log%.trs}.log"
		tail -n 40 "${log%.trs}.log"
	done
fi
echo "$pass passed, $fail failed, $skip skipped"
exit $status
