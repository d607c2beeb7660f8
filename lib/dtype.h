/*
 * dtype.h - the safetensors dtypes: names, sizes, and reading the float ones
 * as double for scoring.  Only F16, BF16, F32 and F64 are lockable; every
 * other dtype passes through untouched.
 */
#ifndef CL_DTYPE_H
#define CL_DTYPE_H

#include <stddef.h>
#include <stdint.h>

struct cl_dtype {
	const char *name;
	unsigned size;  /* bytes per element */
	int lockable;   /* F16, BF16, F32, F64 */
};

/* Index into the dtype table, or -1 when NAME is not a known dtype. */
int cl_dtype_find(const char *name);
const struct cl_dtype *cl_dtype_get(int id);

/* |x| of COUNT consecutive elements of lockable dtype ID at P, as double. */
void cl_dtype_abs(int id, const uint8_t *p, size_t count, double *out);
/* Sum of |x| over COUNT elements, in index order, in double. */
double cl_dtype_l1(int id, const uint8_t *p, uint64_t count);
/* One element of lockable dtype ID at P, as double. */
double cl_dtype_value(int id, const uint8_t *p);
/*
 * For F16, BF16 and F32: the magnitude bits of an element are (bits & *MASK),
 * and |x| of the finite ones orders like those bits, below *INF.  Returns
 * the element size, or 0 (F64: no such fast path).
 */
unsigned cl_dtype_magnitude(int id, uint32_t *mask, uint32_t *inf);
/* Store V at P in lockable dtype ID, rounded to nearest (ties to even). */
void cl_dtype_store(int id, double v, uint8_t *p);

#endif
