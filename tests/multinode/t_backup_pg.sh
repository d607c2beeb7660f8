#!/bin/bash
# Backup and restore on postgresql, as docs/deploy.md section 5 says (tests/multinode/backup.sh).
BACKUP_BACKEND=postgresql
. "$top_srcdir/tests/multinode/backup.sh"
