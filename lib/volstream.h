/*
 * volstream.h - a key volume written piece by piece, for streaming it.
 *
 * The bytes are exactly those of cl_volume_build() (volume.h) for the same
 * header, entries and key, but only the prefix and the JSON header are held
 * in memory: entries are read from their source (entries.h: a table, or a
 * tier slice's packed entries, read in place) as the reader asks for them,
 * hashed on the way, and the signature over the digest is appended at the
 * end.  The stream copies the source but borrows what it points to (the
 * table or the packed bytes, and the entry bytes) and the signing key until
 * cl_volstream_free().
 */
#ifndef CL_VOLSTREAM_H
#define CL_VOLSTREAM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "entries.h"
#include "volume.h"

struct cl_volstream;

/*
 * Like cl_volume_build(), over the entries of SRC (checked when it was made):
 * VERSION 2 or 3; HEADER (borrowed) gets "entries" and "bytes" set.
 */
int cl_volstream_new(json_t *header, const struct cl_entries *src, unsigned version, const struct cl_signkey *sk,
		     struct cl_volstream **out);
/* The volume's total size in bytes. */
uint64_t cl_volstream_size(const struct cl_volstream *s);
/* Copy the next bytes to BUF (at most MAX): the count, 0 at the end, or a negative CL_E* code. */
ssize_t cl_volstream_read(struct cl_volstream *s, uint8_t *buf, size_t max);
void cl_volstream_free(struct cl_volstream *s);

#endif
