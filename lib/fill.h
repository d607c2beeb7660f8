/*
 * fill.h - what a lock writes where it extracted a unit (DESIGN §2 "Fill").
 *
 * A fill value depends only on the element's original value, statistics of
 * its whole original tensor and a secret seed derived from the original
 * model: never on which other units were extracted, nor on the ratio, so a
 * tier cut from a key equals the direct lock at that ratio byte for byte.
 */
#ifndef CL_FILL_H
#define CL_FILL_H

#include <stdint.h>

#include "digest.h"

#define CL_FILL_QUANTILES 1024 /* quantile table size: bounded memory per tensor */

/* One tensor's statistics and PRF key, computed once from its original bytes. */
struct cl_fill_tensor {
	int fill, dtype;
	double center;                   /* the median */
	double q[CL_FILL_QUANTILES + 1]; /* quantiles of |x - median| */
	uint8_t key[CL_SHA256_LEN];        /* PRF key of this tensor */
};

/* 1 when FILL needs a seed and tensor statistics (every fill but zero). */
int cl_fill_computed(int fill);

/* Start the seed hash of an original model; feed it its files in order. */
void cl_fill_seed_begin(struct cl_sha *s);

/* Statistics of tensor NAME (COUNT elements of DTYPE at DATA) for FILL with SEED. */
int cl_fill_tensor_init(struct cl_fill_tensor *ft, int fill, const uint8_t seed[CL_SHA256_LEN], const char *name,
			int dtype, const uint8_t *data, uint64_t count);

/* Fill values of elements [FIRST, FIRST+COUNT) of the tensor: ORIG -> OUT (same dtype). */
void cl_fill_elements(const struct cl_fill_tensor *ft, uint64_t first, uint64_t count, const uint8_t *orig,
		      uint8_t *out);

#endif
