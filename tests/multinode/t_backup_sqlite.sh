#!/bin/bash
# Backup and restore on sqlite, as docs/deploy.md section 5 says (tests/multinode/backup.sh).
BACKUP_BACKEND=sqlite
. "$top_srcdir/tests/multinode/backup.sh"
