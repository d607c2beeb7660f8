/* select.c - O(n) top-k selection with deterministic ties; random baseline. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "error.h"
#include "select.h"
#include "threads.h"

#define CHUNK 4096
#define SLICE_BYTES (4u << 20) /* one parallel task: this many bytes of units */
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

/*
 * A pool is walked as slices (a run of units of one group), the parallel
 * tasks.  Results go to the slice (per task) or to arrays indexed by worker,
 * and are merged so that nothing depends on which thread ran what.
 */
struct slice {
	size_t gi;
	uint64_t u0, n;
	uint64_t finite; /* finite units seen in the slice */
	uint64_t ties;   /* exact_select: ties this slice may still take */
};

struct walk {
	struct cl_pool *pool;
	struct slice *s;
	size_t ns;
	unsigned nw; /* workers */
};

static uint64_t slice_step(const struct cl_group *g)
{
	uint64_t step = SLICE_BYTES / (g->unit_bytes ? g->unit_bytes : 1);
	return step < CHUNK ? CHUNK : step;
}

static int walk_init(struct cl_pool *pool, struct walk *w)
{
	size_t n = 0;

	for (size_t gi = 0; gi < pool->ng; gi++)
		n += (size_t)((pool->g[gi].units + slice_step(&pool->g[gi]) - 1) / slice_step(&pool->g[gi]));
	w->pool = pool;
	w->nw = cl_threads();
	if (!(w->s = malloc((n + 1) * sizeof(*w->s))))
		return cl_fail(CL_ENOMEM, "out of memory selecting units");
	w->ns = 0;
	for (size_t gi = 0; gi < pool->ng; gi++) {
		uint64_t units = pool->g[gi].units, step = slice_step(&pool->g[gi]);
		for (uint64_t u = 0; u < units; u += step)
			w->s[w->ns++] = (struct slice){gi, u, units - u < step ? units - u : step, 0, 0};
	}
	return 0;
}

/* Called with the scores of units [u, u+n) of slice SL's group; non-zero stops. */
typedef int (*chunk_fn)(void *arg, unsigned worker, struct slice *sl, uint64_t u, const double *s, size_t n);

/* A whole slice from the raw bytes, for the passes that have such a path; 1: not taken. */
typedef int (*raw_fn)(void *arg, unsigned worker, struct slice *sl);

struct walk_job {
	struct walk *w;
	chunk_fn fn;
	raw_fn raw;
	void *arg;
};

static int walk_slice(void *arg, size_t i, unsigned worker)
{
	struct walk_job *j = arg;
	struct slice *sl = &j->w->s[i];
	const struct cl_pool *pool = j->w->pool;
	double s[CHUNK];
	int r;

	sl->finite = 0;
	if (j->raw && (r = j->raw(j->arg, worker, sl)) != 1)
		return r;
	for (uint64_t u = sl->u0; u < sl->u0 + sl->n; u += CHUNK) {
		size_t n = sl->u0 + sl->n - u < CHUNK ? (size_t)(sl->u0 + sl->n - u) : CHUNK;
		cl_group_scores(pool->m, &pool->g[sl->gi], pool->unit, u, n, s);
		if ((r = j->fn(j->arg, worker, sl, u, s, n)) != 0)
			return r;
	}
	return 0;
}

/* One streaming pass over the pool on every core; fills each group's finite count. */
static int walk_pool_raw(struct walk *w, chunk_fn fn, raw_fn raw, void *arg)
{
	struct walk_job j = {w, fn, raw, arg};
	int r = cl_parallel(w->ns, walk_slice, &j);

	for (size_t gi = 0; gi < w->pool->ng; gi++)
		w->pool->g[gi].finite = 0;
	for (size_t i = 0; i < w->ns; i++)
		w->pool->g[w->s[i].gi].finite += w->s[i].finite;
	return r;
}

static int walk_pool(struct walk *w, chunk_fn fn, void *arg)
{
	return walk_pool_raw(w, fn, NULL, arg);
}

/* Per-worker candidate vectors, merged into one (the order is irrelevant: a sort follows). */
static int vecs_merge(struct vec *vs, unsigned nw, struct vec *out)
{
	size_t n = 0;

	for (unsigned i = 0; i < nw; i++)
		n += vs[i].n;
	if (nw == 1 || n == vs[0].n) { /* nothing to copy */
		*out = vs[0];
		vs[0] = (struct vec){0};
		for (unsigned i = 1; i < nw; i++) {
			free(vs[i].p);
			vs[i] = (struct vec){0};
		}
		return 0;
	}
	out->p = malloc((n + 1) * sizeof(*out->p));
	if (!out->p)
		return cl_fail(CL_ENOMEM, "out of memory selecting units");
	out->n = 0;
	for (unsigned i = 0; i < nw; i++) {
		if (vs[i].n) /* an idle worker's vector has no array at all */
			memcpy(out->p + out->n, vs[i].p, vs[i].n * sizeof(*out->p));
		out->n += vs[i].n;
		free(vs[i].p);
		vs[i] = (struct vec){0};
	}
	out->cap = n + 1;
	return 0;
}

/* After a walk that returned R: VS merged into OUT when it succeeded, then freed. */
static int vecs_finish(int r, struct vec *vs, unsigned nw, struct vec *out)
{
	if (r == 0)
		r = vecs_merge(vs, nw, out);
	for (unsigned i = 0; i < nw; i++)
		free(vs[i].p);
	free(vs);
	return r;
}

struct collect {
	struct cl_pool *pool;
	double lo;
	struct vec *v; /* one per worker */
};

static int collect_chunk(void *arg, unsigned worker, struct slice *sl, uint64_t u, const double *s, size_t n)
{
	struct collect *c = arg;
	struct vec *v = &c->v[worker];

	for (size_t i = 0; i < n; i++) {
		if (!isfinite(s[i]))
			continue;
		sl->finite++;
		if (s[i] >= c->lo) {
			int r = vec_push(v, s[i], pick_key(c->pool, sl->gi, u + i));
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* The smallest magnitude bits of dtype ID whose value is >= LO (INF when none). */
static uint32_t magnitude_at_least(int id, uint32_t inf, double lo)
{
	uint32_t a = 0, b = inf; /* the answer lies in [a, b] */

	while (a < b) {
		uint32_t mid = a + (b - a) / 2;
		uint8_t le[4] = {(uint8_t)mid, (uint8_t)(mid >> 8), (uint8_t)(mid >> 16), (uint8_t)(mid >> 24)};
		if (cl_dtype_value(id, le) >= lo)
			b = mid;
		else
			a = mid + 1;
	}
	return a;
}

/*
 * Element units at scale 1 of a 16- or 32-bit float tensor: |w| orders like
 * the magnitude bits, so the scan compares integers in the native width and
 * converts only the units it keeps (the same doubles cl_group_scores gives).
 */
static int collect_raw(void *arg, unsigned worker, struct slice *sl)
{
	struct collect *c = arg;
	const struct cl_group *g = &c->pool->g[sl->gi];
	const struct cl_tensor *t = &c->pool->m->t[g->m[0].tensor];
	uint32_t mask, inf, lo;
	unsigned es = cl_dtype_magnitude(t->dtype, &mask, &inf);
	const uint8_t *p = t->data + sl->u0 * es;
	uint64_t finite = 0;

	if (c->pool->unit != CL_UNIT_ELEMENT || g->scale != 1 || es == 0)
		return 1;
	lo = magnitude_at_least(t->dtype, inf, c->lo);
	for (uint64_t i = 0; i < sl->n; i++) {
		uint32_t m;
		if (es == 2) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			m = h & mask;
		} else {
			memcpy(&m, p + 4 * i, 4);
			m &= mask;
		}
		finite += m < inf;
		if (m >= lo && m < inf) {
			uint8_t le[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};
			int r = vec_push(&c->v[worker], cl_dtype_value(t->dtype, le), pick_key(c->pool, sl->gi, sl->u0 + i));
			if (r < 0)
				return r;
		}
	}
	sl->finite = finite;
	return 0;
}

/*
 * One pass over the pool: count finite units per group and collect those with
 * score >= LO into V.  Returns CL_ELIMIT when V would hold more than LIMIT
 * (0: no limit); V is then empty but the finite counts are still exact.
 */
static int collect_above(struct walk *w, double lo, size_t limit, struct vec *v)
{
	struct vec *vs = calloc(w->nw, sizeof(*vs));
	struct collect c = {w->pool, lo, vs};
	size_t n = 0;
	int r;

	if (!vs)
		return cl_fail(CL_ENOMEM, "out of memory selecting units");
	for (unsigned i = 0; i < w->nw; i++) {
		vs[i].limit = limit; /* each worker stops at the whole limit: bounded memory */
		/* The expected share up front (untouched pages cost nothing): no realloc copies. */
		if (limit && (vs[i].p = malloc(limit / 2 / w->nw * sizeof(*vs[i].p) + sizeof(*vs[i].p))))
			vs[i].cap = limit / 2 / w->nw + 1;
	}
	r = walk_pool_raw(w, collect_chunk, collect_raw, &c);
	for (unsigned i = 0; i < w->nw; i++)
		n += vs[i].n;
	if (r == CL_ELIMIT || (r == 0 && limit && n > limit)) { /* the same verdict for any thread count */
		for (unsigned i = 0; i < w->nw; i++)
			free(vs[i].p);
		free(vs);
		c = (struct collect){w->pool, INFINITY, NULL};
		struct vec none[CL_MAX_THREADS] = {{0}};
		c.v = none;
		walk_pool_raw(w, collect_chunk, collect_raw, &c); /* nothing is >= INFINITY: counts only */
		return CL_ELIMIT;
	}
	return vecs_finish(r, vs, w->nw, v);
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

/* Exact threshold by radix search on the score bits, 16 bits a pass. */
struct radix {
	uint64_t *hist; /* 65536 per worker */
	uint64_t prefix;
	int shift;
};

static int radix_chunk(void *arg, unsigned worker, struct slice *sl, uint64_t u, const double *s, size_t n)
{
	struct radix *x = arg;
	uint64_t *h = x->hist + (size_t)worker * 65536;
	(void)u;
	for (size_t i = 0; i < n; i++) {
		uint64_t b = score_bits(s[i]);
		if (!isfinite(s[i]))
			continue;
		sl->finite++;
		if (x->shift == 48 || b >> (x->shift + 16) == x->prefix)
			h[(b >> x->shift) & 0xffff]++;
	}
	return 0;
}

static int radix_threshold(struct walk *w, uint64_t k, uint64_t *thr, uint64_t *ties)
{
	struct radix x = {calloc((size_t)w->nw * 65536, sizeof(uint64_t)), 0, 48};
	uint64_t need = k;
	int r = 0;

	if (!x.hist)
		return cl_fail(CL_ENOMEM, "out of memory selecting units");
	for (; x.shift >= 0 && r == 0; x.shift -= 16) {
		memset(x.hist, 0, (size_t)w->nw * 65536 * sizeof(*x.hist));
		r = walk_pool(w, radix_chunk, &x);
		for (unsigned i = 1; i < w->nw; i++)
			for (size_t b = 0; b < 65536; b++)
				x.hist[b] += x.hist[(size_t)i * 65536 + b];
		int bucket = 65535;
		while (bucket > 0 && x.hist[bucket] < need)
			need -= x.hist[bucket--];
		x.prefix = x.prefix << 16 | (uint64_t)bucket;
	}
	free(x.hist);
	*thr = x.prefix;
	*ties = need;
	return r;
}

struct above {
	struct cl_pool *pool;
	uint64_t thr;
	struct vec *v; /* one per worker */
};

static int above_chunk(void *arg, unsigned worker, struct slice *sl, uint64_t u, const double *s, size_t n)
{
	struct above *a = arg;
	for (size_t i = 0; i < n; i++) {
		uint64_t b = score_bits(s[i]);
		if (!isfinite(s[i]))
			continue;
		sl->finite++;
		if (b < a->thr || (b == a->thr && sl->ties == 0))
			continue;
		if (b == a->thr) /* a slice's first TIES ties hold every tie the rank can need */
			sl->ties--;
		int r = vec_push(&a->v[worker], s[i], pick_key(a->pool, sl->gi, u + i));
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Everything above the exact threshold, plus the ties at it: each slice keeps
 * its first TIES (ties rank in file order), so the sort's top K is exact.
 */
static int exact_select(struct walk *w, uint64_t k, struct vec *v)
{
	struct vec *vs = calloc(w->nw, sizeof(*vs));
	struct above a = {w->pool, 0, vs};
	uint64_t ties = 0;
	int r;

	if (!vs)
		return cl_fail(CL_ENOMEM, "out of memory selecting units");
	if ((r = radix_threshold(w, k, &a.thr, &ties)) == 0) {
		for (size_t i = 0; i < w->ns; i++)
			w->s[i].ties = ties;
		r = walk_pool(w, above_chunk, &a);
	}
	free(v->p);
	*v = (struct vec){0};
	return vecs_finish(r, vs, w->nw, v);
}

static uint64_t pool_finite(const struct cl_pool *pool)
{
	uint64_t f = 0;
	for (size_t i = 0; i < pool->ng; i++)
		f += pool->g[i].finite;
	return f;
}

/* Picks regrouped by group (a stable counting sort: order within a group kept); sets counts. */
static int group_picks(struct cl_pool *pool, struct cl_pick **p, uint64_t k, uint64_t *start)
{
	struct cl_pick *out = malloc((k + 1) * sizeof(*out));
	uint64_t *at = malloc((pool->ng + 1) * sizeof(*at));

	if (!out || !at) {
		free(out);
		free(at);
		return cl_fail(CL_ENOMEM, "out of memory selecting units");
	}
	for (size_t i = 0; i < pool->ng; i++)
		pool->g[i].count = 0;
	for (uint64_t i = 0; i < k; i++)
		pool->g[CL_PICK_GROUP((*p)[i]) - pool->gbase].count++;
	start[0] = 0;
	for (size_t i = 0; i < pool->ng; i++)
		start[i + 1] = start[i] + pool->g[i].count;
	memcpy(at, start, (pool->ng + 1) * sizeof(*at));
	for (uint64_t i = 0; i < k; i++)
		out[at[CL_PICK_GROUP((*p)[i]) - pool->gbase]++] = (*p)[i];
	free(at);
	free(*p);
	*p = out;
	return 0;
}

struct sort_job {
	struct cl_pick *p;
	const uint64_t *start;
};

static int sort_group(void *arg, size_t i, unsigned worker)
{
	struct sort_job *j = arg;
	(void)worker;
	sort_rank(j->p + j->start[i], (size_t)(j->start[i + 1] - j->start[i]));
	return 0;
}

int cl_select_top(struct cl_pool *pool, double ratio, struct cl_pick **out, uint64_t *kout)
{
	struct vec v = {0};
	struct walk w;
	uint64_t total = pool_units(pool), k, *start = NULL;
	double lo = -1;
	size_t cap = 0;
	int r;

	if ((r = walk_init(pool, &w)) < 0)
		return r;
	if (total > SMALL_POOL)
		lo = sample_bound(pool, total, ratio, &cap);
	r = collect_above(&w, lo < 0 ? 0 : lo, lo >= 0 ? cap : 0, &v);
	if (r < 0 && r != CL_ELIMIT)
		goto fail;
	k = cl_count(ratio, pool_finite(pool));
	if (r == CL_ELIMIT || v.n < k) {
		if ((r = exact_select(&w, k, &v)) < 0)
			goto fail;
	}
	select_k(v.p, v.n, (size_t)k);
	if (!(start = malloc((pool->ng + 1) * sizeof(*start)))) {
		r = cl_fail(CL_ENOMEM, "out of memory selecting units");
		goto fail;
	}
	if ((r = group_picks(pool, &v.p, k, start)) < 0)
		goto fail;
	struct sort_job sj = {v.p, start};
	cl_parallel(pool->ng, sort_group, &sj); /* rank order within each group */
	free(start);
	free(w.s);
	*out = v.p;
	*kout = k;
	return 0;
fail:
	free(start);
	free(w.s);
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
static int sample_chunk(struct sampler *x, size_t gi, uint64_t u, const double *s, size_t n)
{
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
	uint64_t *start = malloc((pool->ng + 1) * sizeof(*start));
	struct walk w;
	double s[CHUNK];
	int r = 0;

	if (!start)
		return cl_fail(CL_ENOMEM, "out of memory selecting units");
	if ((r = walk_init(pool, &w)) < 0) {
		free(start);
		return r;
	}
	collect_above(&w, INFINITY, 0, &v); /* counts finite units only */
	free(w.s);
	x.f = pool_finite(pool);
	x.k = cl_count(ratio, x.f);
	/* The sampling is sequential by nature: one draw per unit, in file order. */
	for (size_t gi = 0; gi < pool->ng && x.k && r == 0; gi++)
		for (uint64_t u = 0; u < pool->g[gi].units && r == 0; u += CHUNK) {
			size_t n = pool->g[gi].units - u < CHUNK ? (size_t)(pool->g[gi].units - u) : CHUNK;
			cl_group_scores(pool->m, &pool->g[gi], pool->unit, u, n, s);
			r = sample_chunk(&x, gi, u, s, n);
		}
	for (size_t i = v.n; r >= 0 && i > 1; i--) /* random rank order */
		swap(&v.p[i - 1], &v.p[splitmix64(&x.rng) % i]);
	if (r >= 0)
		r = group_picks(pool, &v.p, v.n, start);
	free(start);
	if (r < 0) {
		free(v.p);
		return r;
	}
	*out = v.p;
	*kout = v.n;
	return 0;
}
