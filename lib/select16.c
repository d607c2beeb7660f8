/* select16.c - exact top selection of 16-bit float elements by a magnitude histogram. */
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "dtype.h"
#include "error.h"
#include "select16.h"
#include "threads.h"

#define MAGS 32768               /* 15 magnitude bits */
#define SLICE (2u << 20)         /* units of one parallel task: 4 MiB */
#define BLOCK 64                 /* a cut walk looks at units this many at a time: one bit each */

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
	uint64_t *hist; /* MAGS per worker */
	uint32_t *sub;  /* 2 x MAGS per worker: one slice's counts */
	uint32_t inf, thr;
};

static int hist_slice(void *arg, size_t i, unsigned worker)
{
	struct pass16 *x = arg;
	struct slice16 *sl = &x->s[i];
	const uint8_t *p = gdata(x->pool->m, &x->pool->g[sl->gi]);
	uint64_t *h = x->hist + (size_t)worker * MAGS, bad = 0, u = sl->u0, end = sl->u0 + sl->n;
	uint32_t *h0 = x->sub + (size_t)worker * 2 * MAGS, *h1 = h0 + MAGS; /* a slice counts < 2^32 */

	memset(h0, 0, 2 * MAGS * sizeof(*h0));
	for (; end - u >= 2; u += 2) { /* two tables: neighbours in one bucket do not wait on each other */
		uint32_t a = mag(p, u), b = mag(p, u + 1);
		h0[a]++;
		h1[b]++;
	}
	if (u < end)
		h0[mag(p, u)]++;
	for (size_t m = 0; m < MAGS; m++)
		h[m] += (uint64_t)h0[m] + h1[m];
	for (size_t m = x->inf; m < MAGS; m++) /* Inf and NaN: no score, never taken */
		bad += (uint64_t)h0[m] + h1[m];
	sl->finite = sl->n - bad;
	return 0;
}

static int count_slice(void *arg, size_t i, unsigned worker)
{
	struct pass16 *x = arg;
	struct slice16 *sl = &x->s[i];
	const uint8_t *p = gdata(x->pool->m, &x->pool->g[sl->gi]);
	uint64_t above = 0, eq = 0, u = sl->u0;

	(void)worker;
#ifdef __SSE2__
	/* 8 units a step in 16-bit lanes (magnitudes are 15 bits: signed compares are exact) */
	const __m128i mask = _mm_set1_epi16(0x7fff), thr = _mm_set1_epi16((short)x->thr),
		      top = _mm_set1_epi16((short)x->inf);
	while (sl->u0 + sl->n - u >= 8) {
		__m128i ca = _mm_setzero_si128(), ce = _mm_setzero_si128();
		uint16_t la[8], le[8];
		for (unsigned j = 0; j < 4096 && sl->u0 + sl->n - u >= 8; j++, u += 8) { /* lanes count < 2^16 */
			__m128i v = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(p + 2 * u)), mask);
			ca = _mm_sub_epi16(ca, _mm_and_si128(_mm_cmpgt_epi16(v, thr), _mm_cmpgt_epi16(top, v)));
			ce = _mm_sub_epi16(ce, _mm_cmpeq_epi16(v, thr));
		}
		_mm_storeu_si128((__m128i *)(void *)la, ca);
		_mm_storeu_si128((__m128i *)(void *)le, ce);
		for (unsigned j = 0; j < 8; j++)
			above += la[j], eq += le[j];
	}
#endif
	for (; u < sl->u0 + sl->n; u++) {
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
	struct pass16 x = {pool, NULL, calloc((size_t)nw * MAGS, sizeof(uint64_t)),
			   malloc((size_t)nw * 2 * MAGS * sizeof(uint32_t)), ginf(pool->m, &pool->g[0]), 0};
	uint64_t total = 0, k, need;
	size_t ns = 0;
	int r;

	if (!x.hist || !x.sub) {
		r = cl_fail(CL_ENOMEM, "out of memory selecting units");
		goto out;
	}
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
	free(x.sub);
	free(x.hist);
	return r;
}

/* Bit i set when unit u+i (i < n <= BLOCK) has magnitude in [lo, inf); lo <= inf. */
static uint64_t block_bits(const uint8_t *p, uint64_t u, unsigned n, uint32_t lo, uint32_t inf)
{
	uint64_t bits = 0;
	unsigned i = 0;

#ifdef __SSE2__
	const __m128i mask = _mm_set1_epi16(0x7fff), below = _mm_set1_epi16((short)(lo - 1)),
		      top = _mm_set1_epi16((short)inf);
	for (; n == BLOCK && i < BLOCK; i += 16) { /* 15-bit magnitudes: signed compares are exact */
		__m128i a = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(p + 2 * (u + i))), mask);
		__m128i b = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(p + 2 * (u + i + 8))), mask);
		a = _mm_and_si128(_mm_cmpgt_epi16(a, below), _mm_cmpgt_epi16(top, a));
		b = _mm_and_si128(_mm_cmpgt_epi16(b, below), _mm_cmpgt_epi16(top, b));
		bits |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_packs_epi16(a, b)) << i;
	}
#endif
	for (; i < n; i++) {
		uint32_t v = mag(p, u + i);
		bits |= (uint64_t)(v >= lo && v < inf) << i;
	}
	return bits;
}

void cl_cut_walk_init(struct cl_cut_walk *w, const struct cl_model *m, const struct cl_group *g, const struct cl_cut *c)
{
	*w = (struct cl_cut_walk){gdata(m, g), g->units, 0, 0, c->ties, c->thr, ginf(m, g)};
	if (c->thr >= w->inf) /* nothing taken */
		w->base = w->units;
	else
		w->bits = block_bits(w->p, 0, w->units < BLOCK ? (unsigned)w->units : BLOCK, w->ties ? w->thr : w->thr + 1, w->inf);
}

/* The block's candidate bits, block after block; a tie found after the last one taken is passed over. */
uint64_t cl_cut_walk_next(struct cl_cut_walk *w)
{
	while (w->base < w->units) {
		while (w->bits) {
			uint64_t v = w->base + (uint64_t)__builtin_ctzll(w->bits);
			w->bits &= w->bits - 1;
			if (mag(w->p, v) != w->thr)
				return v;
			if (w->ties) {
				w->ties--;
				return v;
			}
		}
		w->base += BLOCK;
		if (w->base < w->units) {
			uint64_t left = w->units - w->base;
			w->bits = block_bits(w->p, w->base, left < BLOCK ? (unsigned)left : BLOCK,
					     w->ties ? w->thr : w->thr + 1, w->inf); /* ties: only while some are left */
		}
	}
	return w->units;
}

/* Two scans of the group: counts per magnitude, then each unit to its place (stable: unit order). */
int cl_cut_ranked(const struct cl_model *m, const struct cl_group *g, const struct cl_cut *c, uint64_t *out)
{
	uint64_t *at = calloc(MAGS, sizeof(*at)), sum = 0;
	const uint8_t *p = gdata(m, g);
	struct cl_cut_walk w;

	if (!at)
		return cl_fail(CL_ENOMEM, "out of memory writing the key");
	cl_cut_walk_init(&w, m, g, c);
	for (uint64_t u = cl_cut_walk_next(&w); u < g->units; u = cl_cut_walk_next(&w))
		at[mag(p, u)]++;
	for (size_t b = MAGS; b-- > 0;) { /* higher magnitude ranks first */
		uint64_t n = at[b];
		at[b] = sum;
		sum += n;
	}
	cl_cut_walk_init(&w, m, g, c);
	for (uint64_t u = cl_cut_walk_next(&w); u < g->units && sum == g->count; u = cl_cut_walk_next(&w))
		if (at[mag(p, u)] < g->count) /* bounded even if the file changes under its mapping */
			out[at[mag(p, u)]++] = u;
	free(at);
	if (sum != g->count)
		return cl_fail(CL_EINTEGRITY, "%s changed while it was being locked", m->t[g->m[0].tensor].name);
	return 0;
}
