/*
 * spans.h - the byte spans of key units in a model's files, gathered from
 * key records and walked in file order: what unlock writes and what
 * inspect -k hashes.
 */
#ifndef CL_SPANS_H
#define CL_SPANS_H

#include "clkey.h"
#include "patch.h"

struct cl_unit_span {
	uint32_t shard;
	uint64_t off, len;
	const uint8_t *src;
};

struct cl_spans {
	const struct cl_key *k;
	struct cl_unit_span *s;
	size_t n, cap, next;
	uint64_t units;
	uint32_t shard; /* the shard cl_spans_next walks */
};

/* A cl_key_restore_fn: adds the spans of one unit, its bytes taken from BYTES. */
int cl_spans_add(void *ctx, uint32_t group, uint64_t unit, const uint8_t *bytes);
/* Order by (shard, offset), as cl_spans_next needs. */
void cl_spans_sort(struct cl_spans *sp);
/* A cl_span_next over shard sp->shard, from sp->next on. */
int cl_spans_next(void *ctx, struct cl_span *s);
void cl_spans_free(struct cl_spans *sp);

#endif
