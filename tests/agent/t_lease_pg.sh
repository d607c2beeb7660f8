#!/bin/bash
# t_lease.sh with the daemon on PostgreSQL (a private cluster): leases,
# floating seats and checkouts behave the same on both storage backends.
CL_TEST_BACKEND=postgresql
. "$top_srcdir/tests/agent/t_lease.sh"
