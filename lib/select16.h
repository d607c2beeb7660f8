/*
 * select16.h - the top selection of BF16/F16 element units as a cut.
 *
 * A 16-bit float has 2^15 magnitudes and |w| orders like them, so one pass
 * filling a 32768-bucket histogram gives the exact threshold of the top
 * count(ratio, finite) units.  The choice is then a rule per group rather
 * than a list: every finite unit whose magnitude is above THR, and the first
 * TIES units at THR in unit order.  It is exactly cl_select_top's set and
 * rank (score, then group, then unit), and lets the locked copy and the key
 * be regenerated group by group from the mapped model: memory is one
 * group's picks, not the whole ranking and a bit mask of the model.
 */
#ifndef CL_SELECT16_H
#define CL_SELECT16_H

#include "select.h"

struct cl_cut {
	int on;        /* the group's choice is this cut (else a pick list) */
	uint32_t thr;  /* magnitude bits (bits & 0x7fff) */
	uint64_t ties; /* units at THR taken: the first ones in unit order */
};

/* 1 when every group of POOL is element units at scale 1 of one dtype, BF16 or F16. */
int cl_select16_applies(const struct cl_pool *pool);

/*
 * cl_select_top's choice for POOL as one cut per group (CUT[i] for
 * pool->g[i]); sets each group's finite and count and *K, their sum.  Uses
 * cl_threads() cores; the result does not depend on the thread count.
 */
int cl_select16(struct cl_pool *pool, double ratio, struct cl_cut *cut, uint64_t *k);

/* A walk over a cut group's taken units, in unit order. */
struct cl_cut_walk {
	const uint8_t *p;
	uint64_t units, base, bits; /* bits: the candidates of units [base, base+64) not yet seen */
	uint64_t ties;              /* ties at thr still to take */
	uint32_t thr, inf;
};

void cl_cut_walk_init(struct cl_cut_walk *w, const struct cl_model *m, const struct cl_group *g,
		      const struct cl_cut *c);
/* The next taken unit, or g->units at the end. */
uint64_t cl_cut_walk_next(struct cl_cut_walk *w);

/* G's g->count taken units in rank order (better first) into OUT: an O(n) counting sort. */
int cl_cut_ranked(const struct cl_model *m, const struct cl_group *g, const struct cl_cut *c, uint64_t *out);

#endif
