/*
 * patch.h - one streaming pass that copies a mapped file to an output while
 * overwriting byte spans: zeros when locking, original bytes when restoring.
 */
#ifndef CL_PATCH_H
#define CL_PATCH_H

#include "mapfile.h"
#include "outfile.h"

struct cl_span {
	uint64_t off;       /* in the file */
	uint64_t len;
	const uint8_t *src; /* NULL: zero fill */
};

/* Next span in increasing offset order: 1, or 0 at the end. */
typedef int (*cl_span_next)(void *ctx, struct cl_span *s);

/* Write the patched stream of IN to O (untouched chunks copied in-kernel). */
int cl_patch_stream(const struct cl_map *in, cl_span_next next, void *ctx, struct cl_out *o);

/* SHA-256 of the patched stream of IN, without writing it. */
int cl_patch_digest(const struct cl_map *in, cl_span_next next, void *ctx, uint8_t out[CL_SHA256_LEN]);

/*
 * Both at once on two threads: the writer walks WCTX, the hasher HCTX (two
 * independent iterators over the same spans).  O should be opened with
 * CL_OUT_NOHASH.
 */
int cl_patch_copy(const struct cl_map *in, cl_span_next next, void *wctx, void *hctx, struct cl_out *o,
		  uint8_t digest[CL_SHA256_LEN]);

/*
 * Both at once on one thread, for dense spans: each piece is patched once in
 * a small buffer, hashed while hot and written (untouched pieces are copied
 * in-kernel).  Callers run files side by side instead (one per core).
 */
int cl_patch_write_digest(const struct cl_map *in, cl_span_next next, void *ctx, struct cl_out *o,
			  uint8_t digest[CL_SHA256_LEN]);

#endif
