/* select16.c - exact top selection of 16-bit float elements by a magnitude histogram. */
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "error.h"
#include "select16.h"
#include "threads.h"

#define MAGS 32768               /* 15 magnitude bits */
#define SLICE (2u << 20)         /* units of one parallel task: 4 MiB */
#define BLOCK 32                 /* cl_cut_next skips units this many at a time */

static const uint8_t *gdata(const struct cl_model *m, const struct cl_group *g)
{
	return m->t[g->m[0].tensor].data;
}

static uint32_t ginf(const struct cl_model *m, const struct cl_group *g)
{
	uint32_t mask, inf;
	cl_dtype_magnitude(m->t[g->m[0].tensor].dtype, &mask, &inf);
	return inf;
}

static uint32_t mag(const uint8_t *p, uint64_t u)
{
	uint16_t h;
	memcpy(&h, p + 2 * u, 2); /* the tensors are little-endian, like the host (dtype.c) */
	return h & 0x7fff;
}

int cl_select16_applies(const struct cl_pool *pool)
{
	int dt = pool->ng ? pool->m->t[pool->g[0].m[0].tensor].dtype : -1;
	uint32_t mask, inf;

	if (pool->unit != CL_UNIT_ELEMENT || pool->ng == 0 || cl_dtype_magnitude(dt, &mask, &inf) != 2)
		return 0;
	for (size_t i = 0; i < pool->ng; i++) /* one dtype: BF16 and F16 magnitudes do not order alike */
		if (pool->m->t[pool->g[i].m[0].tensor].dtype != dt || pool->g[i].scale != 1)
			return 0;
	return 1;
}

/* A run of units of one group: the parallel task; its counts are merged in slice order. */
struct slice16 {
	size_t gi;
	uint64_t u0, n;
	uint64_t finite, above, eq;
};

struct pass16 {
	struct cl_pool *pool;
	struct slice16 *s;
	uint64_t *hist; /* MAGS per worker; NULL: the counting pass */
	uint32_t inf, thr;
};

static int hist_slice(void *arg, size_t i, unsigned worker)
{
	struct pass16 *x = arg;
	struct slice16 *sl = &x->s[i];
	const uint8_t *p = gdata(x->pool->m, &x->pool->g[sl->gi]);
	uint64_t *h = x->hist + (size_t)worker * MAGS, bad = 0;

	for (uint64_t u = sl->u0; u < sl->u0 + sl->n; u++) {
		uint32_t m = mag(p, u);
		h[m]++;
		bad += m >= x->inf; /* Inf and NaN: no score, never taken */
	}
	sl->finite = sl->n - bad;
	return 0;
}

static int count_slice(void *arg, size_t i, unsigned worker)
{
	struct pass16 *x = arg;
	struct slice16 *sl = &x->s[i];
	const uint8_t *p = gdata(x->pool->m, &x->pool->g[sl->gi]);
	uint64_t above = 0, eq = 0;

	(void)worker;
	for (uint64_t u = sl->u0; u < sl->u0 + sl->n; u++) {
		uint32_t m = mag(p, u);
		above += m > x->thr && m < x->inf;
		eq += m == x->thr;
	}
	sl->above = above;
	sl->eq = eq;
	return 0;
}

static int slices(const struct cl_pool *pool, struct slice16 **out, size_t *ns)
{
	size_t n = 0;

	for (size_t gi = 0; gi < pool->ng; gi++)
		n += (size_t)((pool->g[gi].units + SLICE - 1) / SLICE);
	if (!(*out = calloc(n + 1, sizeof(**out))))
		return cl_fail(CL_ENOMEM, "out of memory selecting units");
	*ns = 0;
	for (size_t gi = 0; gi < pool->ng; gi++)
		for (uint64_t u = 0; u < pool->g[gi].units; u += SLICE) {
			uint64_t left = pool->g[gi].units - u;
			(*out)[(*ns)++] = (struct slice16){gi, u, left < SLICE ? left : SLICE, 0, 0, 0};
		}
	return 0;
}

/*
 * Pass 1: the histogram (per worker, added up) and each group's finite count
 * give K, the threshold and the ties the pool takes at it.  Pass 2, only for
 * a pool of several groups: each group's units above and at the threshold,
 * so that the ties go to the groups in file order, as the rank has it.
 */
int cl_select16(struct cl_pool *pool, double ratio, struct cl_cut *cut, uint64_t *kout)
{
	unsigned nw = cl_threads();
	struct pass16 x = {pool, NULL, calloc((size_t)nw * MAGS, sizeof(uint64_t)), ginf(pool->m, &pool->g[0]), 0};
	uint64_t total = 0, k, need;
	size_t ns = 0;
	int r;

	if (!x.hist)
		return cl_fail(CL_ENOMEM, "out of memory selecting units");
	if ((r = slices(pool, &x.s, &ns)) < 0 || (r = cl_parallel(ns, hist_slice, &x)) < 0)
		goto out;
	for (unsigned w = 1; w < nw; w++)
		for (size_t b = 0; b < MAGS; b++)
			x.hist[b] += x.hist[(size_t)w * MAGS + b];
	for (size_t gi = 0; gi < pool->ng; gi++)
		pool->g[gi].finite = pool->g[gi].count = 0;
	for (size_t i = 0; i < ns; i++)
		pool->g[x.s[i].gi].finite += x.s[i].finite;
	for (size_t gi = 0; gi < pool->ng; gi++)
		total += pool->g[gi].finite;
	k = cl_count(ratio, total);
	for (size_t gi = 0; gi < pool->ng; gi++)
		cut[gi] = (struct cl_cut){1, x.inf, 0}; /* k = 0: nothing is above Inf */
	if (k == 0)
		goto done;
	x.thr = x.inf - 1, need = k; /* k <= total: the walk down stops at a bucket */
	while (x.hist[x.thr] < need)
		need -= x.hist[x.thr--];
	if (pool->ng == 1) {
		cut[0] = (struct cl_cut){1, x.thr, need};
		pool->g[0].count = k;
		goto done;
	}
	if ((r = cl_parallel(ns, count_slice, &x)) < 0)
		goto out;
	for (size_t gi = 0; gi < pool->ng; gi++)
		cut[gi].thr = x.thr;
	for (size_t i = 0; i < ns; i++) { /* slices are in group order, groups in file order */
		struct slice16 *sl = &x.s[i];
		uint64_t t = sl->eq < need ? sl->eq : need;
		cut[sl->gi].ties += t;
		pool->g[sl->gi].count += sl->above + t;
		need -= t;
	}
done:
	*kout = k;
out:
	free(x.s);
	free(x.hist);
	return r;
}

/* 1 when a unit of [u, u+BLOCK) has magnitude in [lo, inf). */
static int block_hit(const uint8_t *p, uint64_t u, uint32_t lo, uint32_t inf)
{
	uint16_t span = (uint16_t)(inf - lo);
	unsigned hit = 0;

	for (unsigned i = 0; i < BLOCK; i++) /* branch-free: the compiler vectorises it */
		hit |= (uint16_t)(mag(p, u + i) - lo) < span;
	return hit != 0;
}

uint64_t cl_cut_next(const struct cl_model *m, const struct cl_group *g, const struct cl_cut *c, uint64_t u,
		     uint64_t *ties)
{
	const uint8_t *p = gdata(m, g);
	uint32_t inf = ginf(m, g);

	if (c->thr >= inf)
		return g->units;
	while (u < g->units) {
		uint32_t lo = *ties ? c->thr : c->thr + 1;
		if (u % BLOCK == 0 && u + BLOCK <= g->units && (lo >= inf || !block_hit(p, u, lo, inf))) {
			u += BLOCK;
			continue;
		}
		uint32_t v = mag(p, u);
		if (v < inf && (v > c->thr || (v == c->thr && *ties))) {
			if (v == c->thr)
				(*ties)--;
			return u;
		}
		u++;
	}
	return g->units;
}

/* Two scans of the group: counts per magnitude, then each unit to its place (stable: unit order). */
int cl_cut_ranked(const struct cl_model *m, const struct cl_group *g, const struct cl_cut *c, uint64_t *out)
{
	uint64_t *at = calloc(MAGS, sizeof(*at)), ties, sum = 0;
	const uint8_t *p = gdata(m, g);

	if (!at)
		return cl_fail(CL_ENOMEM, "out of memory writing the key");
	ties = c->ties;
	for (uint64_t u = cl_cut_next(m, g, c, 0, &ties); u < g->units; u = cl_cut_next(m, g, c, u + 1, &ties))
		at[mag(p, u)]++;
	for (size_t b = MAGS; b-- > 0;) { /* higher magnitude ranks first */
		uint64_t n = at[b];
		at[b] = sum;
		sum += n;
	}
	ties = c->ties;
	for (uint64_t u = cl_cut_next(m, g, c, 0, &ties); u < g->units && sum == g->count;
	     u = cl_cut_next(m, g, c, u + 1, &ties))
		if (at[mag(p, u)] < g->count) /* bounded even if the file changes under its mapping */
			out[at[mag(p, u)]++] = u;
	free(at);
	if (sum != g->count)
		return cl_fail(CL_EINTEGRITY, "%s changed while it was being locked", m->t[g->m[0].tensor].name);
	return 0;
}
