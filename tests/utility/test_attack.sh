#!/bin/sh
# make check: the attack harness (attack.py) on the MLP.
# One Python process (torch imported once) runs every check; see
# tests/utility/test_attack.py.
exec "$(dirname "$0")/runpy.sh" test_attack.py "$@"
