/*
 * fill.c - the fills: zero, resample and flip (table-driven by name).
 *
 * resample: each element gets a draw from its original tensor's own value
 *   distribution (the inverse of its quantile function, interpolated between
 *   CL_FILL_QUANTILES quantiles), so the locked tensor keeps its histogram and
 *   an extracted position looks like any other.
 * flip: a draw from the tensor's distribution of |x - median|, put on the
 *   other side of the median from the original: in-distribution magnitudes
 *   that push against the original direction.  Around the median rather than
 *   zero so that a norm's gamma (all near 1) stays near 1 and positive.
 *
 * The draw for element i of tensor T is a PRF of (seed, T, i): SHA-256 keyed
 * per tensor.  The seed is a domain-separated SHA-256 of the original files,
 * not their published fingerprint, so only the key holder can recompute the
 * draws (which would reveal the positions).
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Q[0..K] from the N sorted values V: linear interpolation at i*(n-1)/K. */
static void quantiles(const double *v, size_t n, double *q)
{
	for (size_t i = 0; i <= CL_FILL_QUANTILES; i++) {
		if (n == 0) {
			q[i] = 0;
			continue;
		}
		double pos = (double)i * (double)(n - 1) / CL_FILL_QUANTILES;
		size_t a = (size_t)pos;
		q[i] = a + 1 < n ? v[a] + (pos - (double)a) * (v[a + 1] - v[a]) : v[a];
	}
}

int cl_fill_tensor_init(struct cl_fill_tensor *ft, int fill, const uint8_t seed[CL_SHA256_LEN], const char *name,
			int dtype, const uint8_t *data, uint64_t count)
{
	size_t nl = strlen(name), n = 0, es = cl_dtype_get(dtype)->size;
	uint8_t *msg = malloc(CL_SHA256_LEN + nl + 1);
	double *v = malloc((count + 1) * sizeof(*v));

	if (!msg || !v) {
		free(msg);
		free(v);
		return cl_fail(CL_ENOMEM, "out of memory");
	}
	memset(ft, 0, sizeof(*ft));
	ft->fill = fill;
	ft->dtype = dtype;
	memcpy(msg, seed, CL_SHA256_LEN);
	memcpy(msg + CL_SHA256_LEN, name, nl + 1);
	cl_sha256(msg, CL_SHA256_LEN + nl + 1, ft->key);
	free(msg);
	for (uint64_t i = 0; i < count; i++) { /* non-finite values have no place in a distribution */
		double x = cl_dtype_value(dtype, data + i * es);
		if (isfinite(x))
			v[n++] = x;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	if (fill == CL_FILL_FLIP && n) {
		ft->center = n % 2 ? v[n / 2] : v[n / 2 - 1] / 2 + v[n / 2] / 2;
		for (size_t i = 0; i < n; i++)
			v[i] = fabs(v[i] - ft->center);
		qsort(v, n, sizeof(*v), cmp_double);
	}
	quantiles(v, n, ft->q);
	free(v);
	return 0;
}

/* Uniform in [0, 1) for element I: 53 bits of SHA-256(key, i / 4). */
static double draw(const struct cl_fill_tensor *ft, uint64_t i, uint64_t *block, uint8_t out[CL_SHA256_LEN])
{
	if (*block != i / 4) {
		uint8_t msg[CL_SHA256_LEN + 8];
		memcpy(msg, ft->key, CL_SHA256_LEN);
		cl_put_le(msg + CL_SHA256_LEN, i / 4, 8);
		cl_sha256(msg, sizeof(msg), out);
		*block = i / 4;
	}
	return (double)(cl_le(out + 8 * (i % 4), 8) >> 11) * 0x1p-53;
}

static double quantile(const double *q, double u)
{
	double pos = u * CL_FILL_QUANTILES;
	size_t a = (size_t)pos;
	return q[a] + (pos - (double)a) * (q[a + 1] - q[a]);
}

void cl_fill_elements(const struct cl_fill_tensor *ft, uint64_t first, uint64_t count, const uint8_t *orig,
		      uint8_t *out)
{
	unsigned es = cl_dtype_get(ft->dtype)->size;
	uint64_t block = UINT64_MAX;
	uint8_t h[CL_SHA256_LEN];

	for (uint64_t i = 0; i < count; i++) {
		double v = quantile(ft->q, draw(ft, first + i, &block, h));
		if (ft->fill == CL_FILL_FLIP)
			v = cl_dtype_value(ft->dtype, orig + i * es) >= ft->center ? ft->center - v : ft->center + v;
		cl_dtype_store(ft->dtype, v, out + i * es);
	}
}
