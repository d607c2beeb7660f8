/*
 * fill.c - the fills: zero, resample and flip (table-driven by name).
 *
 * Both computed fills write median + s * d, where d is drawn from the
 * original tensor's own distribution of |x - median| (its inverse quantile
 * function, interpolated between CL_FILL_QUANTILES quantiles).  Around the
 * median rather than zero, so that a norm's gamma (all near 1) stays near 1
 * and positive.
 *   resample: s is a fair random sign (the median splits the tensor in two).
 *   flip: s is the other side of the median from the original: an
 *   in-distribution magnitude that pushes against the original direction.
 *
 * Which magnitudes: a lock extracts a tensor's top units, so what stays is
 * the tensor cut at some quantile 1 - a that the fill must not know (the
 * ratio).  A fill drawn from the whole distribution would stand out above
 * that cut.  An element at deviation quantile q gets d at quantile
 * u * |2q - 1| (u uniform): over the extracted elements (q in (1 - a, 1])
 * the bound 2q - 1 averages 1 - a, whatever a is, so the fills land where
 * the kept values are.
 *
 * The draws for element i of tensor T are a PRF of (seed, T, i): SHA-256
 * keyed per tensor.  The seed is a domain-separated SHA-256 of the original
 * files, not their published fingerprint, so only the key holder can
 * recompute the draws (which would reveal the positions).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "corelocker.h"
#include "cursor.h"
#include "dtype.h"
#include "error.h"
#include "fill.h"

#define SEED_CONTEXT "corelocker-fill-seed-v1"

static const struct {
	const char *name;
	int computed; /* needs the seed and tensor statistics */
} fills[] = {
	[CL_FILL_ZERO] = {"zero", 0},
	[CL_FILL_RESAMPLE] = {"resample", 1},
	[CL_FILL_FLIP] = {"flip", 1},
};

#define NFILLS (int)(sizeof(fills) / sizeof(fills[0]))

const char *cl_fill_name(int fill)
{
	return fill >= 0 && fill < NFILLS ? fills[fill].name : "?";
}

int cl_fill_parse(const char *s)
{
	for (int i = 0; i < NFILLS; i++)
		if (strcmp(s, fills[i].name) == 0)
			return i;
	return -1;
}

int cl_fill_computed(int fill)
{
	return fill >= 0 && fill < NFILLS && fills[fill].computed;
}

void cl_fill_seed_begin(struct cl_sha *s)
{
	cl_sha_update(s, SEED_CONTEXT, sizeof(SEED_CONTEXT));
}

/*
 * A tensor's finite values in ascending order, read by rank.  16-bit
 * tensors go through a histogram of their 65,536 codes, so a multi-GB BF16
 * tensor needs no sorted copy; the answers are the same as sorting them.
 */
struct run {
	double v;
	uint64_t n; /* how many elements hold v */
};

struct sorted {
	const double *v; /* wide dtypes: one element per entry */
	const struct run *r; /* 16-bit dtypes: runs in ascending order of v */
	size_t nr, ri;
	uint64_t rfirst; /* rank of the first element of run ri */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmp_run(const void *a, const void *b)
{
	return cmp_double(&((const struct run *)a)->v, &((const struct run *)b)->v);
}

/* The value at RANK; ranks asked of runs never go down (a cursor walks them). */
static double at(struct sorted *s, uint64_t rank)
{
	if (s->v)
		return s->v[rank];
	while (rank >= s->rfirst + s->r[s->ri].n)
		s->rfirst += s->r[s->ri++].n;
	return s->r[s->ri].v;
}

/* Q[0..K] from the N values of S: linear interpolation at i*(n-1)/K. */
static void quantiles(struct sorted *s, uint64_t n, double *q)
{
	for (size_t i = 0; i <= CL_FILL_QUANTILES; i++) {
		if (n == 0) {
			q[i] = 0;
			continue;
		}
		double pos = (double)i * (double)(n - 1) / CL_FILL_QUANTILES;
		uint64_t a = (uint64_t)pos;
		double va = at(s, a);
		q[i] = a + 1 < n ? va + (pos - (double)a) * (at(s, a + 1) - va) : va;
	}
}

static double median(struct sorted s, uint64_t n)
{
	if (n == 0)
		return 0;
	if (n % 2)
		return at(&s, n / 2);
	double lo = at(&s, n / 2 - 1);
	return lo / 2 + at(&s, n / 2) / 2;
}

/* Centre and deviation quantiles of the N finite values in V, sorted here. */
static void stats_wide(struct cl_fill_tensor *ft, double *v, size_t n)
{
	struct sorted s = {.v = v};

	qsort(v, n, sizeof(*v), cmp_double);
	ft->center = median(s, n);
	for (size_t i = 0; i < n; i++)
		v[i] = fabs(v[i] - ft->center);
	qsort(v, n, sizeof(*v), cmp_double);
	quantiles(&s, n, ft->q);
}

/* The same from a histogram of 16-bit codes: at most 65,536 runs. */
static int stats_16(struct cl_fill_tensor *ft, const uint8_t *data, uint64_t count)
{
	uint64_t *hist = calloc(65536, sizeof(*hist)), n = 0;
	struct run *r = malloc(65536 * sizeof(*r));
	size_t nr = 0;

	if (!hist || !r) {
		free(hist);
		free(r);
		return cl_fail(CL_ENOMEM, "out of memory");
	}
	for (uint64_t i = 0; i < count; i++)
		hist[cl_le(data + 2 * i, 2)]++;
	for (uint32_t c = 0; c < 65536; c++) {
		uint8_t b[2];
		cl_put_le(b, c, 2);
		double x = cl_dtype_value(ft->dtype, b);
		if (hist[c] && isfinite(x)) /* non-finite values have no place in a distribution */
			r[nr++] = (struct run){x, hist[c]}, n += hist[c];
	}
	qsort(r, nr, sizeof(*r), cmp_run);
	ft->center = median((struct sorted){.r = r, .nr = nr}, n);
	for (size_t i = 0; i < nr; i++)
		r[i].v = fabs(r[i].v - ft->center);
	qsort(r, nr, sizeof(*r), cmp_run);
	quantiles(&(struct sorted){.r = r, .nr = nr}, n, ft->q);
	free(hist);
	free(r);
	return 0;
}

static int tensor_stats(struct cl_fill_tensor *ft, const uint8_t *data, uint64_t count)
{
	size_t n = 0, es = cl_dtype_get(ft->dtype)->size;
	double *v;

	if (es == 2)
		return stats_16(ft, data, count);
	if (!(v = malloc((count + 1) * sizeof(*v))))
		return cl_fail(CL_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < count; i++) {
		double x = cl_dtype_value(ft->dtype, data + i * es);
		if (isfinite(x))
			v[n++] = x;
	}
	stats_wide(ft, v, n);
	free(v);
	return 0;
}

int cl_fill_tensor_init(struct cl_fill_tensor *ft, int fill, const uint8_t seed[CL_SHA256_LEN], const char *name,
			int dtype, const uint8_t *data, uint64_t count)
{
	size_t nl = strlen(name);
	uint8_t *msg = malloc(CL_SHA256_LEN + nl + 1);

	if (!msg)
		return cl_fail(CL_ENOMEM, "out of memory");
	memset(ft, 0, sizeof(*ft));
	ft->fill = fill;
	ft->dtype = dtype;
	memcpy(msg, seed, CL_SHA256_LEN);
	memcpy(msg + CL_SHA256_LEN, name, nl + 1);
	cl_sha256(msg, CL_SHA256_LEN + nl + 1, ft->key);
	free(msg);
	return tensor_stats(ft, data, count);
}

/* Two uniforms in [0, 1) for element I: 53 bits each of SHA-256(key, i / 2). */
static void draw(const struct cl_fill_tensor *ft, uint64_t i, uint64_t *block, uint8_t h[CL_SHA256_LEN],
		 double u[2])
{
	if (*block != i / 2) {
		uint8_t msg[CL_SHA256_LEN + 8];
		memcpy(msg, ft->key, CL_SHA256_LEN);
		cl_put_le(msg + CL_SHA256_LEN, i / 2, 8);
		cl_sha256(msg, sizeof(msg), h);
		*block = i / 2;
	}
	for (int j = 0; j < 2; j++)
		u[j] = (double)(cl_le(h + 16 * (i % 2) + 8 * j, 8) >> 11) * 0x1p-53;
}

/* The inverse quantile function at U in [0, 1]. */
static double quantile(const double *q, double u)
{
	double pos = u * CL_FILL_QUANTILES;
	size_t a = (size_t)pos;
	return a < CL_FILL_QUANTILES ? q[a] + (pos - (double)a) * (q[a + 1] - q[a]) : q[CL_FILL_QUANTILES];
}

/* The quantile of D in [0, 1]: the table read backwards (the first step that reaches D). */
static double rank(const double *q, double d)
{
	size_t lo = 0, hi = CL_FILL_QUANTILES;

	if (!(d > q[0]))
		return 0;
	if (d >= q[CL_FILL_QUANTILES])
		return 1;
	while (hi - lo > 1) { /* q[lo] < d <= q[hi] */
		size_t mid = (lo + hi) / 2;
		if (q[mid] < d)
			lo = mid;
		else
			hi = mid;
	}
	return ((double)lo + (d - q[lo]) / (q[hi] - q[lo])) / CL_FILL_QUANTILES;
}

void cl_fill_elements(const struct cl_fill_tensor *ft, uint64_t first, uint64_t count, const uint8_t *orig,
		      uint8_t *out)
{
	unsigned es = cl_dtype_get(ft->dtype)->size;
	uint64_t block = UINT64_MAX;
	uint8_t h[CL_SHA256_LEN];
	double u[2];

	for (uint64_t i = 0; i < count; i++) {
		double w = cl_dtype_value(ft->dtype, orig + i * es), dev = fabs(w - ft->center);
		double bound = isfinite(dev) ? fabs(2 * rank(ft->q, dev) - 1) : 1;

		draw(ft, first + i, &block, h, u);
		int up = ft->fill == CL_FILL_FLIP ? !(w >= ft->center) : u[1] < 0.5;
		double d = quantile(ft->q, u[0] * bound);
		cl_dtype_store(ft->dtype, up ? ft->center + d : ft->center - d, out + i * es);
	}
}
