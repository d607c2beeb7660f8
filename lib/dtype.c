/* dtype.c - dtype table and float decoding (little-endian files). */
#include <math.h>
#include <string.h>

#include "dtype.h"

static const struct cl_dtype dtypes[] = {
	{"F64", 8, 1},	   {"F32", 4, 1},  {"F16", 2, 1},     {"BF16", 2, 1},
	{"I64", 8, 0},	   {"I32", 4, 0},  {"I16", 2, 0},     {"I8", 1, 0},
	{"U64", 8, 0},	   {"U32", 4, 0},  {"U16", 2, 0},     {"U8", 1, 0},
	{"BOOL", 1, 0},	   {"F8_E4M3", 1, 0}, {"F8_E5M2", 1, 0}, {"F8_E8M0", 1, 0},
	{"C64", 8, 0},
};
enum { DT_F64, DT_F32, DT_F16, DT_BF16 };

int cl_dtype_find(const char *name)
{
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (strcmp(dtypes[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct cl_dtype *cl_dtype_get(int id)
{
	return &dtypes[id];
}

static double half_to_double(uint16_t h)
{
	unsigned exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	double v;

	if (exp == 0)
		v = ldexp((double)man, -24);
	else if (exp == 31)
		v = man ? NAN : INFINITY;
	else
		v = ldexp((double)(man | 0x400), (int)exp - 25);
	return (h & 0x8000) ? -v : v;
}

static uint16_t load16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

void cl_dtype_abs(int id, const uint8_t *p, size_t count, double *out)
{
	size_t i;

	switch (id) {
	case DT_F32:
		for (i = 0; i < count; i++) {
			float f;
			memcpy(&f, p + 4 * i, 4);
			out[i] = fabs((double)f);
		}
		break;
	case DT_F64:
		for (i = 0; i < count; i++) {
			double d;
			memcpy(&d, p + 8 * i, 8);
			out[i] = fabs(d);
		}
		break;
	case DT_F16:
		for (i = 0; i < count; i++)
			out[i] = fabs(half_to_double(load16(p + 2 * i)));
		break;
	case DT_BF16:
		for (i = 0; i < count; i++) {
			uint32_t bits = (uint32_t)load16(p + 2 * i) << 16;
			float f;
			memcpy(&f, &bits, 4);
			out[i] = fabs((double)f);
		}
		break;
	}
}

double cl_dtype_l1(int id, const uint8_t *p, uint64_t count)
{
	double buf[512], sum = 0;
	size_t es = dtypes[id].size;

	while (count) {
		size_t n = count < 512 ? (size_t)count : 512;
		cl_dtype_abs(id, p, n, buf);
		for (size_t i = 0; i < n; i++)
			sum += buf[i];
		p += n * es;
		count -= n;
	}
	return sum;
}

unsigned cl_dtype_magnitude(int id, uint32_t *mask, uint32_t *inf)
{
	switch (id) {
	case DT_F32:
		*mask = 0x7fffffff, *inf = 0x7f800000;
		return 4;
	case DT_F16:
		*mask = 0x7fff, *inf = 0x7c00;
		return 2;
	case DT_BF16:
		*mask = 0x7fff, *inf = 0x7f80;
		return 2;
	default:
		return 0;
	}
}

double cl_dtype_value(int id, const uint8_t *p)
{
	float f;
	double d;
	uint32_t bits;

	switch (id) {
	case DT_F32:
		memcpy(&f, p, 4);
		return f;
	case DT_F64:
		memcpy(&d, p, 8);
		return d;
	case DT_F16:
		return half_to_double(load16(p));
	default: /* BF16 */
		bits = (uint32_t)load16(p) << 16;
		memcpy(&f, &bits, 4);
		return f;
	}
}

/* V rounded to binary16 in one step (no double rounding through float). */
static uint16_t double_to_half(double v)
{
	uint16_t sign = signbit(v) ? 0x8000 : 0;
	double m;
	int e;

	v = fabs(v);
	if (isnan(v))
		return sign | 0x7e00;
	if (v < ldexp(1, -14)) /* subnormal; 1024 units round up to the smallest normal */
		return sign | (uint16_t)nearbyint(ldexp(v, 24));
	m = nearbyint((2 * frexp(v, &e) - 1) * 1024);
	e += 14; /* v = 1.m * 2^(e-1), biased by 15 */
	if (m == 1024)
		m = 0, e++;
	return e >= 31 ? sign | 0x7c00 : (uint16_t)(sign | (unsigned)e << 10 | (unsigned)m);
}

void cl_dtype_store(int id, double v, uint8_t *p)
{
	float f = (float)v;
	uint32_t bits;
	uint16_t h;

	switch (id) {
	case DT_F32:
		memcpy(p, &f, 4);
		break;
	case DT_F64:
		memcpy(p, &v, 8);
		break;
	case DT_F16:
		h = double_to_half(v);
		memcpy(p, &h, 2);
		break;
	default: /* BF16: the float's upper half, rounded to nearest even */
		memcpy(&bits, &f, 4);
		if (!isnan(f))
			bits += 0x7fff + ((bits >> 16) & 1);
		h = (uint16_t)(bits >> 16);
		memcpy(p, &h, 2);
		break;
	}
}
