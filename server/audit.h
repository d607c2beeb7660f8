/*
 * audit.h - the append-only, keyed, hash-chained audit log.
 *
 * Entry n's text is prev_hash "\n" seq "\n" ts "\n" actor "\n" action "\n"
 * target "\n" detail (hex digests; the first prev_hash is 64 zeros).  Its
 * hash is SHA-256 over the text (the chain of version 1), and its mac is
 * HMAC-SHA256(audit key, text), the audit key being derived from the master
 * key: whoever rewrites an entry and recomputes the hashes still cannot make
 * the macs.  Entries written before the keyed chain (schema 003) have no mac;
 * the daemon's first start after the migration appends an "audit.keyed"
 * transition entry, and from the first keyed entry on every entry must carry
 * a valid mac.  audit_append() runs inside the caller's write transaction,
 * so an action and its entry commit together or not at all.  Triggers in the
 * schema refuse UPDATE and DELETE on the table.
 */
#ifndef SRV_AUDIT_H
#define SRV_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* Derive the audit key from the master key (before any append or verify). */
int audit_key_init(const uint8_t master[32]);
void audit_key_wipe(void);

/* DETAIL is borrowed (may be NULL). */
int audit_append(struct db *db, const char *actor, const char *action, const char *target, json_t *detail);

/* Append the "audit.keyed" transition entry when the chain holds entries
 * and none is keyed yet (a database written before schema 003); 0 or -1. */
int audit_key_chain(struct db *db);

struct audit_status {
	int64_t entries; /* entries verified */
	int64_t keyed;   /* of which keyed */
	int64_t bad;     /* the first bad seq, 0 when the chain verifies */
	char why[160];   /* what is wrong with entry BAD */
};

/* Walk the chain: 0 when it verifies, 1 when entry st->bad breaks it, -1 on a
 * database error. */
int audit_verify(struct db *db, struct audit_status *st);

#endif
