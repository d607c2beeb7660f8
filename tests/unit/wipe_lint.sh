#!/bin/sh
# tests/unit/wipe_lint.sh - secrets are wiped with OPENSSL_cleanse, never with
# a memset the compiler may drop as a dead store before free or return
# (memset(buf, 0, sizeof(buf)) on a local array), nor with explicit_bzero or
# bzero: one convention across lib/, server/, net/, client/ and ctl/.
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
hits=$(cd "$src" && grep -nE 'memset\(([A-Za-z_][A-Za-z0-9_]*), 0, sizeof\(\1\)\)|explicit_bzero\(|[^_]bzero\(' \
	lib/*.c server/*.c net/*.c client/*.c ctl/*.c)
if [ -n "$hits" ]; then
	echo "FAIL - secrets wiped without OPENSSL_cleanse:"
	echo "$hits"
	exit 1
fi
n=$(cd "$src" && cat lib/*.c server/*.c net/*.c client/*.c ctl/*.c | grep -c 'OPENSSL_cleanse(')
[ "$n" -gt 0 ] || { echo "FAIL - no OPENSSL_cleanse at all"; exit 1; }
echo "ok - $n wipes, all with OPENSSL_cleanse"
