/*
 * audit.h - the append-only, hash-chained audit log.
 *
 * Entry n's hash is SHA-256 over prev_hash "\n" seq "\n" ts "\n" actor "\n"
 * action "\n" target "\n" detail (hex digests; the first prev_hash is 64
 * zeros).  audit_append() runs inside the caller's write transaction, so an
 * action and its entry commit together or not at all.  Triggers in the
 * schema refuse UPDATE and DELETE on the table.
 */
#ifndef SRV_AUDIT_H
#define SRV_AUDIT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

/* DETAIL is borrowed (may be NULL). */
int audit_append(sqlite3 *db, const char *actor, const char *action, const char *target, json_t *detail);
/* Walk the chain: 0 if it verifies (*n = entries), else -1 with *bad = first bad seq. */
int audit_verify(sqlite3 *db, int64_t *n, int64_t *bad);

#endif
