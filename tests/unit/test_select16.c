/*
 * test_select16.c - lib/select16.c against the general selector: on the same
 * pools, cl_select16's cuts, walked by cl_cut_walk_next and ranked by
 * cl_cut_ranked, give exactly cl_select_top's picks (the same units, the same
 * rank order in every group, the same finite and count per group), at 1, 2,
 * 3 and 8 threads.  The models are BF16 and F16 tensors of few magnitudes, so
 * the threshold falls inside a bucket of ties shared by several tensors and
 * by the two parallel slices of a 3 M-element tensor, with NaN, Inf, +-0 and
 * subnormals; and a smooth one, where the general selector's sampled bound
 * holds.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "corelocker.h"
#include "groups.h"
#include "model.h"
#include "select16.h"
#include "testutil.h"

static void build_ties(struct tmodel *m, const char *dt)
{
	static const uint64_t s_big[] = {3072, 1024}, s_a[] = {300, 64}, s_b[] = {128, 96}, s_c[] = {7, 5};
	static const double levels[] = {0.5, 0.25, 0.125, 1.0, -0.5, -0.25, 0.0, -0.0, 3e-6};
	struct tt *t[4];

	memset(m, 0, sizeof(*m));
	t[0] = tm_add(m, "x.weight", dt, 2, s_big, 41, 1.0);
	t[1] = tm_add(m, "y.weight", dt, 2, s_a, 42, 1.0);
	t[2] = tm_add(m, "z.weight", dt, 2, s_b, 43, 1.0);
	t[3] = tm_add(m, "w.weight", dt, 2, s_c, 44, 1.0);
	for (int k = 0; k < 4; k++)
		for (size_t i = 0; i < tt_nelem(t[k]); i++) /* a level from the tensor's own noise */
			tt_set(t[k], i, levels[(size_t)(fabs(tt_get(t[k], i)) * 1000) % (k == 0 ? 9 : 5 - (size_t)k)]);
	for (size_t i = 0; i < tt_nelem(t[0]); i += 997)
		tt_set(t[0], i, NAN);
	for (size_t i = 5; i < tt_nelem(t[0]); i += 1999)
		tt_set(t[0], i, i % 2 ? INFINITY : -INFINITY);
}

static void build_smooth(struct tmodel *m)
{
	static const uint64_t s1[] = {1500, 1000}, s2[] = {64, 64};
	memset(m, 0, sizeof(*m));
	tm_add(m, "a.weight", "BF16", 2, s1, 51, 0.05);
	tm_add(m, "b.weight", "BF16", 2, s2, 52, 1.0);
}

/* Both selectors on POOL (groups G[0..n)); every check names LABEL. */
static void compare(const char *label, const struct cl_model *m, struct cl_group *g, size_t n, double ratio)
{
	struct cl_pool pool = {m, g, n, 0, CL_UNIT_ELEMENT};
	struct cl_cut *cut = calloc(n, sizeof(*cut));
	uint64_t *fin = calloc(n, sizeof(*fin)), *cnt = calloc(n, sizeof(*cnt)), k = 0, k16 = 0, at = 0;
	struct cl_pick *p = NULL;

	CHECK(cl_select16_applies(&pool), "%s: the histogram applies", label);
	CHECK(cl_select_top(&pool, ratio, &p, &k) == 0, "%s: general selector", label);
	for (size_t i = 0; i < n; i++)
		fin[i] = g[i].finite, cnt[i] = g[i].count, g[i].finite = g[i].count = 7; /* must be reset */
	CHECK(cl_select16(&pool, ratio, cut, &k16) == 0, "%s: histogram selector", label);
	CHECK(k16 == k, "%s: %llu units, not %llu", label, (unsigned long long)k16, (unsigned long long)k);
	for (size_t i = 0; i < n && k16 == k; i++) {
		uint64_t *u = malloc((g[i].count + 1) * sizeof(*u)), seen = 0, bad = 0;
		struct cl_cut_walk cw;
		CHECK(g[i].finite == fin[i] && g[i].count == cnt[i], "%s: group %zu: finite %llu count %llu", label,
		      i, (unsigned long long)g[i].finite, (unsigned long long)g[i].count);
		if (g[i].count != cnt[i]) {
			free(u);
			break;
		}
		CHECK(cl_cut_ranked(m, &g[i], &cut[i], u) == 0, "%s: group %zu ranked", label, i);
		for (uint64_t j = 0; j < g[i].count; j++)
			bad += u[j] != CL_PICK_UNIT(p[at + j]) || CL_PICK_GROUP(p[at + j]) != i;
		CHECK(bad == 0, "%s: group %zu: %llu of %llu ranks differ", label, i, (unsigned long long)bad,
		      (unsigned long long)g[i].count);
		/* the walk in unit order meets the same set (what the locked copy zeroes) */
		uint8_t *in = calloc(g[i].units + 1, 1);
		for (uint64_t j = 0; j < g[i].count; j++)
			in[u[j]] = 1;
		bad = 0;
		cl_cut_walk_init(&cw, m, &g[i], &cut[i]);
		for (uint64_t v = cl_cut_walk_next(&cw), prev = 0; v < g[i].units; prev = v, v = cl_cut_walk_next(&cw)) {
			bad += !in[v] || (seen && v <= prev);
			seen++;
		}
		CHECK(bad == 0 && seen == g[i].count && cw.ties == 0, "%s: group %zu: walk of %llu units, %llu wrong",
		      label, i, (unsigned long long)seen, (unsigned long long)bad);
		at += g[i].count;
		free(in);
		free(u);
	}
	free(p);
	free(cut);
	free(fin);
	free(cnt);
}

static void test_model(const char *label, const char *path)
{
	static const double ratios[] = {0.001, 0.01, 0.1, 0.3, 0.5};
	static const char *const threads[] = {"1", "2", "3", "8"};
	struct cl_model *m = NULL;
	struct cl_group *g = NULL;
	size_t ng = 0;
	char what[128];

	CHECK(cl_model_open(path, &m) == 0, "%s: open", label);
	CHECK(m && cl_groups_build(m, CL_UNIT_ELEMENT, NULL, NULL, &g, &ng) == 0 && ng > 1, "%s: groups", label);
	for (size_t t = 0; g && t < sizeof(threads) / sizeof(*threads); t++) {
		setenv("CORELOCKER_THREADS", threads[t], 1);
		for (size_t r = 0; r < sizeof(ratios) / sizeof(*ratios); r++) {
			snprintf(what, sizeof(what), "%s global %g, %s threads", label, ratios[r], threads[t]);
			compare(what, m, g, ng, ratios[r]);
			for (size_t i = 0; i < ng; i++) {
				snprintf(what, sizeof(what), "%s layer %zu %g, %s threads", label, i, ratios[r], threads[t]);
				compare(what, m, g + i, 1, ratios[r]);
			}
		}
	}
	unsetenv("CORELOCKER_THREADS");
	free(g);
	cl_model_free(m);
}

/* Not for the histogram: several dtypes, 32-bit floats, other units, global-norm scales. */
static void test_applies(const char *path)
{
	static const uint64_t s[] = {8, 8};
	struct tmodel t;
	struct cl_model *m = NULL;
	struct cl_group *g = NULL;
	size_t ng = 0;

	memset(&t, 0, sizeof(t));
	tm_add(&t, "a.weight", "BF16", 2, s, 1, 1.0);
	tm_add(&t, "b.weight", "F16", 2, s, 2, 1.0);
	tm_add(&t, "c.weight", "F32", 2, s, 3, 1.0);
	tm_write(&t, path);
	tm_free(&t);
	if (cl_model_open(path, &m) < 0 || cl_groups_build(m, CL_UNIT_ELEMENT, NULL, NULL, &g, &ng) < 0 || ng != 3) {
		CHECK(0, "mixed model");
		return;
	}
	struct cl_pool pool = {m, g, 1, 0, CL_UNIT_ELEMENT};
	CHECK(cl_select16_applies(&pool), "one BF16 group");
	pool.g = g + 1;
	CHECK(cl_select16_applies(&pool), "one F16 group");
	pool.g = g + 2;
	CHECK(!cl_select16_applies(&pool), "F32");
	pool.g = g, pool.ng = 2;
	CHECK(!cl_select16_applies(&pool), "BF16 and F16 in one pool");
	pool.ng = 1, pool.unit = CL_UNIT_NEURON;
	CHECK(!cl_select16_applies(&pool), "neuron units");
	pool.unit = CL_UNIT_ELEMENT, g[0].scale = 0.5;
	CHECK(!cl_select16_applies(&pool), "a global-norm scale");
	free(g);
	cl_model_free(m);
}

int main(void)
{
	char *dir = tmpdir_new(), path[4096];
	struct tmodel m;

	build_ties(&m, "BF16");
	snprintf(path, sizeof(path), "%s/bf16.safetensors", dir);
	tm_write(&m, path);
	tm_free(&m);
	test_model("ties BF16", path);
	build_ties(&m, "F16");
	snprintf(path, sizeof(path), "%s/f16.safetensors", dir);
	tm_write(&m, path);
	tm_free(&m);
	test_model("ties F16", path);
	build_smooth(&m);
	snprintf(path, sizeof(path), "%s/smooth.safetensors", dir);
	tm_write(&m, path);
	tm_free(&m);
	test_model("smooth BF16", path);
	snprintf(path, sizeof(path), "%s/mixed.safetensors", dir);
	test_applies(path);
	rm_rf(dir);
	free(dir);
	return test_end("test_select16");
}
