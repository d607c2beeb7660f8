/* select.c - O(n) top-k selection with deterministic ties; random baseline. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "select.h"

#define CHUNK 4096
#define SMALL_POOL (1u << 20) /* below this, hold every finite unit */
#define SAMPLES 65536

static uint64_t score_bits(double s)
{
	uint64_t b;
	memcpy(&b, &s, 8); /* scores are >= 0, so the bits order like the values */
	return b;
}

/* Better rank first: higher score, then lower key. */
static int rank_before(const struct cl_pick *a, const struct cl_pick *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	return a->key < b->key;
}

static void swap(struct cl_pick *a, struct cl_pick *b)
{
	struct cl_pick t = *a;
	*a = *b;
	*b = t;
}

/*
 * Sort A by rank.  An inlined quicksort: qsort's indirect comparisons were a
 * seventh of a lock's time with millions of picks.
 */
static void sort_rank(struct cl_pick *a, size_t n)
{
	while (n > 16) {
		size_t store = 0;
		swap(&a[n / 2], &a[n - 1]); /* middle pivot: ranked input stays O(n log n) */
		for (size_t i = 0; i + 1 < n; i++)
			if (rank_before(&a[i], &a[n - 1]))
				swap(&a[i], &a[store++]);
		swap(&a[store], &a[n - 1]); /* keys are unique: the pivot splits [0, store) | (store, n) */
		if (store < n - store - 1) { /* recurse into the smaller side: O(log n) stack */
			sort_rank(a, store);
			a += store + 1;
			n -= store + 1;
		} else {
			sort_rank(a + store + 1, n - store - 1);
			n = store;
		}
	}
	for (size_t i = 1; i < n; i++) /* insertion sort for the short runs */
		for (size_t j = i; j > 0 && rank_before(&a[j], &a[j - 1]); j--)
			swap(&a[j], &a[j - 1]);
}

/* Reorder A so that its first K entries are the K best by rank. */
static void select_k(struct cl_pick *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n;
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	while (hi - lo > 1 && k > lo && k < hi) {
		size_t store = lo;
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		swap(&a[lo + rng % (hi - lo)], &a[hi - 1]);
		for (size_t i = lo; i < hi - 1; i++)
			if (rank_before(&a[i], &a[hi - 1]))
				swap(&a[i], &a[store++]);
		swap(&a[store], &a[hi - 1]);
		if (store < k)
			lo = store + 1;
		else
			hi = store;
	}
}

struct vec {
	struct cl_pick *p;
	size_t n, cap, limit;
};

static int vec_push(struct vec *v, double s, uint64_t key)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 4096;
		struct cl_pick *p;
		if (v->limit && cap > v->limit)
			cap = v->limit;
		if (cap <= v->n)
			return CL_ELIMIT;
		p = realloc(v->p, cap * sizeof(*p));
		if (!p)
			return cl_fail(CL_ENOMEM, "out of memory selecting units");
		v->p = p;
		v->cap = cap;
	}
	v->p[v->n++] = (struct cl_pick){s, key};
	return 0;
}

static uint64_t pool_units(const struct cl_pool *pool)
{
	uint64_t n = 0;
	for (size_t i = 0; i < pool->ng; i++)
		n += pool->g[i].units;
	return n;
}

static uint64_t pick_key(const struct cl_pool *pool, size_t gi, uint64_t u)
{
	return (uint64_t)(pool->gbase + gi) << CL_PICK_UNIT_BITS | u;
}

/* Called with the scores of units [u, u+n) of group GI; non-zero stops the walk. */
typedef int (*chunk_fn)(void *arg, size_t gi, uint64_t u, const double *s, size_t n);

/* One streaming pass over the pool, file order, CHUNK units at a time. */
static int walk_pool(const struct cl_pool *pool, chunk_fn fn, void *arg)
{
	double s[CHUNK];
	int r;

	for (size_t gi = 0; gi < pool->ng; gi++) {
		const struct cl_group *g = &pool->g[gi];
		for (uint64_t u = 0; u < g->units; u += CHUNK) {
			size_t n = g->units - u < CHUNK ? (size_t)(g->units - u) : CHUNK;
			cl_group_scores(pool->m, g, pool->unit, u, n, s);
			if ((r = fn(arg, gi, u, s, n)) != 0)
				return r;
		}
	}
	return 0;
}

struct collect {
	struct cl_pool *pool;
	double lo;
	struct vec *v;
};

static int collect_chunk(void *arg, size_t gi, uint64_t u, const double *s, size_t n)
{
	struct collect *c = arg;
	struct cl_group *g = &c->pool->g[gi];

	if (u == 0)
		g->finite = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(s[i]))
			continue;
		g->finite++;
		if (s[i] >= c->lo) {
			int r = vec_push(c->v, s[i], pick_key(c->pool, gi, u + i));
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/*
 * One pass over the pool: count finite units per group and collect those with
 * score >= LO into V.  Returns CL_ELIMIT when V would outgrow its limit.
 */
static int collect_above(struct cl_pool *pool, double lo, struct vec *v)
{
	struct collect c = {pool, lo, v};
	return walk_pool(pool, collect_chunk, &c);
}

/* The IDX-th largest of A[0..n) (quickselect; reorders A). */
static double nth_largest(double *a, size_t n, size_t idx)
{
	size_t lo = 0, hi = n;

	for (;;) { /* three-way partition: [lo,lt) > pivot, [lt,gt) == pivot, [gt,hi) < pivot */
		double pivot = a[lo + (hi - lo) / 2], t;
		size_t lt = lo, i = lo, gt = hi;
		while (i < gt) {
			if (a[i] > pivot) {
				t = a[lt], a[lt++] = a[i], a[i++] = t;
			} else if (a[i] < pivot) {
				gt--;
				t = a[gt], a[gt] = a[i], a[i] = t;
			} else {
				i++;
			}
		}
		if (idx < lt)
			hi = lt;
		else if (idx >= gt)
			lo = gt;
		else
			return pivot;
	}
}

/* A score bound below which the k-th best very likely does not fall. */
static double sample_bound(const struct cl_pool *pool, uint64_t total, double ratio, size_t *cap)
{
	double *sample = malloc(SAMPLES * sizeof(*sample)), bound;
	size_t ns = 0, gi = 0;
	uint64_t base = 0;

	if (!sample)
		return -1; /* no bound: the exact search needs no memory */

	for (size_t j = 0; j < SAMPLES; j++) {
		uint64_t pos = (uint64_t)(((double)j + 0.5) * (double)total / SAMPLES);
		double s;
		while (pos >= base + pool->g[gi].units)
			base += pool->g[gi++].units;
		cl_group_scores(pool->m, &pool->g[gi], pool->unit, pos - base, 1, &s);
		if (isfinite(s))
			sample[ns++] = s;
	}
	if (ns == 0) {
		free(sample);
		return INFINITY;
	}
	double p = ratio * (double)ns, margin = 4.0 * sqrt(p + 1) + 16;
	size_t idx = (size_t)(p + margin);
	bound = idx < ns ? nth_largest(sample, ns, idx) : -1; /* -1: no useful bound, search exactly */
	*cap = (size_t)(2.0 * (double)(idx + 1) / (double)ns * (double)total) + 4096;
	free(sample);
	return bound;
}

struct radix {
	uint64_t *hist, prefix;
	int shift;
};

static int radix_chunk(void *arg, size_t gi, uint64_t u, const double *s, size_t n)
{
	struct radix *x = arg;
	(void)gi, (void)u;
	for (size_t i = 0; i < n; i++) {
		uint64_t b = score_bits(s[i]);
		if (isfinite(s[i]) && (x->shift == 48 || b >> (x->shift + 16) == x->prefix))
			x->hist[(b >> x->shift) & 0xffff]++;
	}
	return 0;
}

/* Exact threshold by radix search on the score bits, 16 bits a pass. */
static int radix_threshold(struct cl_pool *pool, uint64_t k, uint64_t *thr, uint64_t *ties)
{
	struct radix x = {malloc(65536 * sizeof(uint64_t)), 0, 48};
	uint64_t need = k;

	if (!x.hist)
		return cl_fail(CL_ENOMEM, "out of memory selecting units");
	for (; x.shift >= 0; x.shift -= 16) {
		memset(x.hist, 0, 65536 * sizeof(*x.hist));
		walk_pool(pool, radix_chunk, &x);
		int bucket = 65535;
		while (bucket > 0 && x.hist[bucket] < need)
			need -= x.hist[bucket--];
		x.prefix = x.prefix << 16 | (uint64_t)bucket;
	}
	free(x.hist);
	*thr = x.prefix;
	*ties = need;
	return 0;
}

struct above {
	struct cl_pool *pool;
	uint64_t thr, ties;
	struct vec *v;
};

static int above_chunk(void *arg, size_t gi, uint64_t u, const double *s, size_t n)
{
	struct above *a = arg;
	for (size_t i = 0; i < n; i++) {
		uint64_t b = score_bits(s[i]);
		if (!isfinite(s[i]) || b < a->thr || (b == a->thr && a->ties == 0))
			continue;
		if (b == a->thr) /* ties come in file order, which is their rank order */
			a->ties--;
		int r = vec_push(a->v, s[i], pick_key(a->pool, gi, u + i));
		if (r < 0)
			return r;
	}
	return 0;
}

/* Everything above the exact threshold, plus the first TIES equal to it. */
static int exact_select(struct cl_pool *pool, uint64_t k, struct vec *v)
{
	struct above a = {pool, 0, 0, v};
	int r;

	if ((r = radix_threshold(pool, k, &a.thr, &a.ties)) < 0)
		return r;
	v->n = 0;
	v->limit = 0;
	return walk_pool(pool, above_chunk, &a);
}

static uint64_t pool_finite(const struct cl_pool *pool)
{
	uint64_t f = 0;
	for (size_t i = 0; i < pool->ng; i++)
		f += pool->g[i].finite;
	return f;
}

/* Set each group's count from the picks. */
static void count_picks(struct cl_pool *pool, const struct cl_pick *p, uint64_t k)
{
	for (size_t i = 0; i < pool->ng; i++)
		pool->g[i].count = 0;
	for (uint64_t i = 0; i < k; i++)
		pool->g[CL_PICK_GROUP(p[i]) - pool->gbase].count++;
}

int cl_select_top(struct cl_pool *pool, double ratio, struct cl_pick **out, uint64_t *kout)
{
	struct vec v = {0};
	uint64_t total = pool_units(pool), k;
	double lo = -1;
	size_t cap = 0;
	int r;

	if (total > SMALL_POOL)
		lo = sample_bound(pool, total, ratio, &cap);
	v.limit = lo >= 0 ? cap : 0;
	r = collect_above(pool, lo < 0 ? 0 : lo, &v);
	if (r < 0 && r != CL_ELIMIT)
		goto fail;
	if (r == CL_ELIMIT) { /* finite counts are incomplete: count them exactly */
		v.limit = 0;
		v.n = 0;
		collect_above(pool, INFINITY, &v);
	}
	k = cl_count(ratio, pool_finite(pool));
	if (r == CL_ELIMIT || v.n < k) {
		if ((r = exact_select(pool, k, &v)) < 0)
			goto fail;
	}
	select_k(v.p, v.n, (size_t)k);
	sort_rank(v.p, (size_t)k);
	count_picks(pool, v.p, k);
	if (k < v.n) {
		struct cl_pick *p = realloc(v.p, (k ? k : 1) * sizeof(*p));
		if (p)
			v.p = p;
	}
	*out = v.p;
	*kout = k;
	return 0;
fail:
	free(v.p);
	return r;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct sampler {
	struct cl_pool *pool;
	struct vec *v;
	uint64_t rng, k, f, seen;
};

/* Selection sampling (Knuth's algorithm S): each finite unit in turn. */
static int sample_chunk(void *arg, size_t gi, uint64_t u, const double *s, size_t n)
{
	struct sampler *x = arg;
	for (size_t i = 0; i < n && x->v->n < x->k; i++) {
		if (!isfinite(s[i]))
			continue;
		double r01 = (double)(splitmix64(&x->rng) >> 11) * 0x1.0p-53;
		if ((double)(x->f - x->seen) * r01 < (double)(x->k - x->v->n)) {
			int r = vec_push(x->v, 0, pick_key(x->pool, gi, u + i));
			if (r < 0)
				return r;
		}
		x->seen++;
	}
	return x->v->n == x->k; /* all chosen: stop early */
}

int cl_select_random(struct cl_pool *pool, double ratio, uint64_t seed, struct cl_pick **out,
		     uint64_t *kout)
{
	struct vec v = {0};
	struct sampler x = {pool, &v, seed ^ ((uint64_t)pool->gbase * 0xd1b54a32d192ed03ull), 0, 0, 0};
	int r;

	collect_above(pool, INFINITY, &v); /* counts finite units only */
	x.f = pool_finite(pool);
	x.k = cl_count(ratio, x.f);
	if (x.k && (r = walk_pool(pool, sample_chunk, &x)) < 0) {
		free(v.p);
		return r;
	}
	for (size_t i = v.n; i > 1; i--) /* random rank order */
		swap(&v.p[i - 1], &v.p[splitmix64(&x.rng) % i]);
	count_picks(pool, v.p, v.n);
	*out = v.p;
	*kout = v.n;
	return 0;
}
