/*
 * reference.h - an independent, deliberately naive implementation of the
 * locking rules of DESIGN.md section 2 (full sort of every unit), used to
 * compute the expected locked bytes that the library must reproduce.
 */
#ifndef REFERENCE_H
#define REFERENCE_H

#include "testutil.h"

/* Expected locked file bytes of M (written at PATH by tm_write) for the
 * given unit/scope/ratio; *count receives the number of extracted units. */
uint8_t *ref_lock(const struct tmodel *m, const char *path, int unit, int scope, double ratio,
		  const char *include, uint64_t *count);

/* Bytes of a unit index in a .clkey version 3 group of UNITS units. */
unsigned ref_index_bytes(uint64_t units);

/* Reads KEY (a lock of M by UNIT) the slow way: framing, version 3, SHA-256
 * trailer, each group's index width and unit count, and every record: index
 * in range, bytes equal to the original unit's.  NULL, or what is wrong. */
const char *ref_check_key(const struct tmodel *m, int unit, const char *key);

#endif
