#!/bin/sh
# make check: the position detector (detect.py) on the MLP, with its
# sanity controls (zero and negation must be found); see test_detect.py.
exec "$(dirname "$0")/runpy.sh" test_detect.py "$@"
