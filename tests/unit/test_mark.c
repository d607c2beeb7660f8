/*
 * test_mark.c - lib/mark.c and the dtype rounding it relies on: F16 stores
 * agree with the compiler's own _Float16 conversion and BF16 stores with a
 * nearest-of-two-candidates reference; codes are deterministic, +1 or -1,
 * balanced and differ between licenses; scores of foreign codes stay below
 * the Hoeffding bound the false-positive probability states.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "mark.h"
#include "testutil.h"

/* A deterministic double spread over many binades, both signs. */
static double sample(unsigned i)
{
	double m = ((i * 2654435761u) % 1000003u) / 1000003.0;
	int e = (int)(i % 48) - 30;
	return (i & 1 ? -1 : 1) * ldexp(1 + m, e);
}

/* BF16 of V: the nearer of the two bfloat16 values around the float, ties to the even one. */
static uint16_t bf16_ref(double v)
{
	float f = (float)v;
	uint32_t b;
	memcpy(&b, &f, 4);
	uint16_t lo = (uint16_t)(b >> 16), hi = (uint16_t)(lo + 1);
	uint32_t lb = (uint32_t)lo << 16, hb = (uint32_t)hi << 16;
	float lf, hf;
	memcpy(&lf, &lb, 4);
	memcpy(&hf, &hb, 4);
	double dl = fabs((double)f - lf), dh = fabs((double)f - hf);
	return dl < dh ? lo : dh < dl ? hi : (lo & 1 ? hi : lo);
}

static void test_rounding(void)
{
	int f16 = cl_dtype_find("F16"), bf16 = cl_dtype_find("BF16");
	unsigned bad16 = 0, badbf = 0;

	for (unsigned i = 0; i < 200000; i++) {
		double v = sample(i);
		uint8_t p[2];
		uint16_t got, want;
		_Float16 h = (_Float16)v;
		cl_dtype_store(f16, v, p);
		memcpy(&got, p, 2);
		memcpy(&want, &h, 2);
		bad16 += got != want;
		cl_dtype_store(bf16, v, p);
		memcpy(&got, p, 2);
		badbf += got != bf16_ref(v);
		if (!isinf((double)h))
			CHECK(cl_dtype_value(f16, (const uint8_t *)&want) == (double)h, "F16 read of %a", v);
	}
	CHECK(bad16 == 0, "%u of 200000 F16 stores differ from _Float16", bad16);
	CHECK(badbf == 0, "%u of 200000 BF16 stores differ from the reference", badbf);
	/* the edges: the largest half, what rounds to infinity, the smallest subnormal and below half of it */
	struct { double v; uint16_t h; } e[] = {{65504, 0x7bff}, {65520, 0x7c00}, {ldexp(1, -24), 1},
						{ldexp(1, -25), 0}, {ldexp(3, -26), 1}, {-0.0, 0x8000}};
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		uint8_t p[2];
		uint16_t got;
		cl_dtype_store(f16, e[i].v, p);
		memcpy(&got, p, 2);
		CHECK(got == e[i].h, "F16 of %a: %#x, not %#x", e[i].v, got, e[i].h);
	}
}

static void test_codes(void)
{
	uint8_t secret[CL_MARK_SECRET_LEN];
	struct cl_mark_code a = {secret, 1, NULL, 0, {0}}, a2 = {secret, 1, NULL, 0, {0}}, b = {secret, 2, NULL, 0, {0}};
	unsigned plus = 0, same = 0, n = 100000;

	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 7 + 1);
	for (unsigned i = 0; i < n; i++) {
		int c = cl_mark_code(&a, i % 3 ? "w1" : "w2", i);
		CHECK(c == 1 || c == -1, "code %d", c);
		/* the same code from a fresh generator, asked out of order */
		CHECK(cl_mark_code(&a2, i % 3 ? "w1" : "w2", i) == c, "code %u not deterministic", i);
		plus += c == 1;
		same += cl_mark_code(&b, i % 3 ? "w1" : "w2", i) == c;
	}
	CHECK(plus > n / 2 - 1000 && plus < n / 2 + 1000, "%u of %u codes are +1", plus, n);
	CHECK(same > n / 2 - 1000 && same < n / 2 + 1000, "licenses 1 and 2 agree on %u of %u", same, n);
}

/* Foreign codes: z of license L against a fixed evidence vector, never above the stated bound's reach. */
static void test_bound(void)
{
	uint8_t secret[CL_MARK_SECRET_LEN] = {42};
	unsigned over3 = 0, nl = 2000, n = 2000;
	double zmax = 0;

	for (unsigned l = 0; l < nl; l++) {
		struct cl_mark_code g = {secret, l + 100, NULL, 0, {0}};
		double sca = 0, saa = 0;
		for (unsigned i = 0; i < n; i++) {
			double a = sample(i) * 1e3; /* evidence of any scale, independent of the codes */
			a = fmax(-CL_MARK_CLIP, fmin(CL_MARK_CLIP, a));
			sca += cl_mark_code(&g, "t", i) * a;
			saa += a * a;
		}
		struct cl_mark_score s = {sca, saa, n};
		double z = cl_mark_z(&s);
		over3 += z >= 3;
		zmax = fmax(zmax, z);
	}
	/* P(z >= 3) <= exp(-4.5) = 1.1 %: 22 of 2000 expected at most */
	CHECK(over3 <= 22, "%u of %u foreign licenses reached z >= 3", over3, nl);
	CHECK(cl_mark_fp(zmax, nl) > CL_MARK_FP_MAX, "a foreign license would match: z %g", zmax);
	CHECK(fabs(cl_mark_fp(6, 10) - 10 * exp(-18)) < 1e-20, "fp(6, 10) = %g", cl_mark_fp(6, 10));
	CHECK(cl_mark_fp(-1, 10) == 1 && cl_mark_fp(0.1, 10) == 1, "fp is capped at 1");
}

int main(void)
{
	test_rounding();
	test_codes();
	test_bound();
	if (!t_fail)
		printf("ok - dtype rounding, mark codes, score bound\n");
	return test_end("mark");
}
