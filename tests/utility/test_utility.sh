#!/bin/sh
# make check: utility of CoreLocker on the five reference models.
# One Python process (torch imported once) runs every check; see
# tests/utility/test_utility.py.
exec "$(dirname "$0")/runpy.sh" test_utility.py "$@"
