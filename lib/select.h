/*
 * select.h - choosing which units to extract, in rank order.
 *
 * A pool is a run of groups ranked together: one group for --scope layer,
 * all of them for --scope global.  The top selection ranks by higher score,
 * then by group (file order), then by lower unit index, and skips units whose
 * score is NaN or Inf.  It runs in O(n) passes over the mapped model: a
 * strided sample bounds the threshold, one pass collects the candidates
 * above it, and an exact radix search on the score bits takes over whenever
 * the sample misjudges.  Only the chosen units are ever held in memory.
 * Element units of BF16/F16 pools take lib/select16.c instead: an exact
 * histogram, and a cut per group rather than a list of picks.
 */
#ifndef CL_SELECT_H
#define CL_SELECT_H

#include "groups.h"

/* A chosen unit: group index (within the pool's array) and unit index. */
struct cl_pick {
	double score;
	uint64_t key; /* group << 40 | unit: ascending key is the tie order */
};
#define CL_PICK_UNIT_BITS 40
#define CL_PICK_GROUP(p) ((uint32_t)((p).key >> CL_PICK_UNIT_BITS))
#define CL_PICK_UNIT(p) ((p).key & ((1ull << CL_PICK_UNIT_BITS) - 1))

struct cl_pool {
	const struct cl_model *m;
	struct cl_group *g; /* finite and count are filled in */
	size_t ng;
	uint32_t gbase;     /* index of g[0] in the model's group array */
	int unit;
};

/*
 * The top count(ratio, finite) units of POOL, grouped by group in file order
 * and in rank order within each group (what the key stores); sets each
 * group's finite and count.  Uses cl_threads() cores; the result does not
 * depend on the thread count.
 */
int cl_select_top(struct cl_pool *pool, double ratio, struct cl_pick **out, uint64_t *k);
/* The same count of units chosen uniformly at random (grouped likewise, rank order random). */
int cl_select_random(struct cl_pool *pool, double ratio, uint64_t seed, struct cl_pick **out,
		     uint64_t *k);

#endif
