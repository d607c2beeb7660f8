#!/usr/bin/env bash
# Set everything up and run the whole test suite (make check).
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1
make -j"$(nproc)" check
status=$?
# One closing line for CI: totals over every test log.
pass=$(grep -h '^:test-result: PASS' $(find tests -name '*.trs') 2>/dev/null | wc -l)
fail=$(grep -h '^:test-result: \(FAIL\|ERROR\|XPASS\)' $(find tests -name '*.trs') 2>/dev/null | wc -l)
skip=$(grep -h '^:test-result: SKIP' $(find tests -name '*.trs') 2>/dev/null | wc -l)
[ $status -eq 0 ] || find tests -name '*.log' ! -name test-suite.log -exec grep -l '^FAIL\|ERROR' {} + 2>/dev/null | head -5 | xargs -r tail -n 30
echo "$pass passed, $fail failed, $skip skipped"
exit $status
