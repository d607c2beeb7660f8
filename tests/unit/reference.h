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

#endif
