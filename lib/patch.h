/*
 * patch.h - one streaming pass that copies a mapped file to an output while
 * overwriting byte spans: zeros when locking, original bytes when restoring.
 */
#ifndef CL_PATCH_H
#define CL_PATCH_H

#include "outfile.h"

struct cl_span {
	uint64_t off;       /* in the file */
	uint64_t len;
	const uint8_t *src; /* NULL: zero fill */
};

/* Next span in increasing offset order: 1, or 0 at the end. */
typedef int (*cl_span_next)(void *ctx, struct cl_span *s);

int cl_patch_stream(const uint8_t *src, uint64_t size, cl_span_next next, void *ctx,
		    struct cl_out *o);

#endif
