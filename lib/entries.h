/*
 * entries.h - where a key volume's entries come from when it is written:
 * a table of struct cl_volume_entry, or packed entries read in place.
 *
 * Packed entries are what a tier's slice holds (the daemon seals them,
 * server/r_tiers.c): each a version 2 head (u32 shard, u64 file offset,
 * u32 length, little-endian) and its bytes, back to back: the entry section
 * of a version 2 volume, which is therefore copied verbatim.  Read in place they need no table:
 * a table costs 24 bytes an entry, four times a BF16 element's 6 bytes.
 *
 * cl_entries_table() and cl_entries_packed() check the entries once (sorted
 * by (shard, offset), no overlap; packed: every head and its bytes inside
 * the buffer, none empty) and count what a volume's header and size need.  A source
 * borrows the table or the buffer (and the bytes they point to).
 */
#ifndef CL_ENTRIES_H
#define CL_ENTRIES_H

#include <stddef.h>
#include <stdint.h>

#include "volume.h"

struct cl_entries {
	const struct cl_volume_entry *e; /* the table, or NULL for packed entries */
	const uint8_t *packed;
	size_t packed_len;
	size_t n;	 /* entries */
	uint64_t bytes;	 /* the sum of their lengths */
	uint64_t heads3; /* the sum of their heads in version 3 (version 2: 16 each) */
};

/* Reads a source's entries in order. */
struct cl_entries_iter {
	const struct cl_entries *src;
	size_t i;
	const uint8_t *p; /* packed: the next entry's head */
};

/* A source over table E of N entries: 0, or CL_EINVAL when unsorted or overlapping. */
int cl_entries_table(struct cl_entries *src, const struct cl_volume_entry *e, size_t n);
/* A source over the LEN packed bytes at P: 0, or CL_EFORMAT (the first bad entry named). */
int cl_entries_packed(struct cl_entries *src, const uint8_t *p, size_t len);

void cl_entries_begin(const struct cl_entries *src, struct cl_entries_iter *it);
/* The next entry in *E (its bytes borrowed from the source): 1, or 0 after the last. */
int cl_entries_next(struct cl_entries_iter *it, struct cl_volume_entry *e);
/* Every entry of SRC in one malloc'd table (an upgrade's subtraction, a marked copy). */
int cl_entries_to_table(const struct cl_entries *src, struct cl_volume_entry **out);

#endif
