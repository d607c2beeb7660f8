/*
 * test_lock.c - the invariants of DESIGN.md section 2, byte for byte:
 *   lock(M, a) equals an independent reference implementation;
 *   unlock(lock(M, a), b) == lock(M, b);  unlock(lock(M, a), 0) == M;
 *   lock is deterministic.
 * Over every unit and scope, F16/BF16/F32/F64, NaN/Inf, siblings, BN groups,
 * metadata, a sharded model, a large tensor (sampled selection) and heavy
 * ties (exact fallback).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "corelocker.h"
#include "reference.h"
#include "testutil.h"

static char *dir;

/* A path in the test directory; a ring of 8 buffers, so keep long-lived paths elsewhere. */
static const char *p(const char *name)
{
	static char buf[8][512];
	static int i;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int lock_to(const char *model, const char *out, const char *key, int unit, int scope, double ratio)
{
	struct cl_lock_opts o = {.ratio = ratio, .unit = unit, .scope = scope};
	struct cl_lock_stats st;
	return cl_lock(model, out, key, &o, &st);
}

static void build_mixed(struct tmodel *m)
{
	static const uint64_t s_embed[] = {50, 16}, s_conv[] = {8, 3, 3, 3}, s8[] = {8}, s_fc[] = {32, 16},
			      s32[] = {32}, s_attn[] = {48, 16}, s48[] = {48}, s_lstm[] = {64, 8}, s64[] = {64},
			      s_cls[] = {1, 1, 16}, s_mask[] = {4, 4}, s_head[] = {10, 32}, s10[] = {10},
			      s_empty[] = {0, 4};
	memset(m, 0, sizeof(*m));
	m->metadata = "{\"format\":\"pt\",\"note\":\"unit test\"}";
	struct tt *e = tm_add(m, "embed.weight", "F32", 2, s_embed, 1, 1.0);
	tt_set(e, 3, NAN);
	tt_set(e, 7, INFINITY);
	tt_set(e, 9, -INFINITY);
	tm_add(m, "conv1.weight", "F16", 4, s_conv, 2, 0.5);
	tm_add(m, "bn1.weight", "F32", 1, s8, 3, 1.0);
	tm_add(m, "bn1.bias", "F32", 1, s8, 4, 0.1);
	tm_add(m, "bn1.running_mean", "F32", 1, s8, 5, 0.1);
	tm_add(m, "bn1.running_var", "F32", 1, s8, 6, 1.0);
	struct tt *fc = tm_add(m, "layer.0.fc.weight", "BF16", 2, s_fc, 7, 1.0);
	for (size_t i = 0; i < tt_nelem(fc); i++) /* few distinct values: many ties */
		tt_set(fc, i, round(tt_get(fc, i) * 2) / 2);
	tm_add(m, "layer.0.fc.bias", "BF16", 1, s32, 8, 0.1);
	tm_add(m, "attn.in_proj_weight", "F64", 2, s_attn, 9, 1.0);
	tm_add(m, "attn.in_proj_bias", "F64", 1, s48, 10, 0.1);
	tm_add(m, "lstm.weight_ih_l0", "F32", 2, s_lstm, 11, 1.0);
	tm_add(m, "lstm.bias_ih_l0", "F32", 1, s64, 12, 0.1);
	tm_add(m, "cls_token", "F32", 3, s_cls, 13, 1.0);
	tm_add(m, "mask", "BOOL", 2, s_mask, 14, 0);
	struct tt *h = tm_add(m, "head.weight", "F32", 2, s_head, 15, 1.0);
	tt_set(h, 40, INFINITY); /* row 1's l1 score is Inf: never selected */
	tm_add(m, "head.bias", "F32", 1, s10, 16, 0.1);
	tm_add(m, "empty", "F32", 2, s_empty, 17, 1.0);
	static const uint64_t s_steps[] = {0};
	tm_add(m, "bn1.num_batches_tracked", "I64", 0, s_steps, 18, 0);
}

static void build_big(struct tmodel *m)
{
	static const uint64_t s_big[] = {1500, 1000}, s_tie[] = {1200, 1000}, s_const[] = {1100, 1000};
	memset(m, 0, sizeof(*m));
	tm_add(m, "big.weight", "F32", 2, s_big, 21, 0.05);
	struct tt *t = tm_add(m, "tie.weight", "F32", 2, s_tie, 22, 1.0);
	for (size_t i = 0; i < tt_nelem(t); i++) /* eight levels: sampling cannot bound it */
		tt_set(t, i, (double)((size_t)fabs(tt_get(t, i) * 3) % 8));
	struct tt *c = tm_add(m, "const.weight", "F32", 2, s_const, 23, 1.0);
	for (size_t i = 0; i < tt_nelem(c); i++)
		tt_set(c, i, 0.5);
}

static const double betas[] = {0, 0.01, 0.03, 0.05, 0.1};

static void check_model(const char *label, const struct tmodel *m, const char *model, int unit, int scope,
			double alpha)
{
	char what[128];
	uint64_t want_k;
	size_t len;
	int r;

	snprintf(what, sizeof(what), "%s %s/%s alpha %g", label, cl_unit_name(unit), cl_scope_name(scope), alpha);
	r = lock_to(model, p("L"), p("K"), unit, scope, alpha);
	CHECK(r == 0, "%s: lock failed: %s", what, cl_errmsg());
	if (r)
		return;
	uint8_t *want = ref_lock(m, model, unit, scope, alpha, NULL, &want_k);
	uint8_t *got = read_file(p("L"), &len);
	size_t mlen;
	free(read_file(model, &mlen));
	CHECK(got && len == mlen && memcmp(got, want, len) == 0, "%s: locked bytes differ from the reference", what);
	CHECK(want_k > 0, "%s: reference extracts nothing; the case tests nothing", what);
	free(want);
	free(got);

	/* determinism */
	CHECK(lock_to(model, p("L2"), p("K2"), unit, scope, alpha) == 0, "%s: second lock", what);
	CHECK(files_equal(p("L"), p("L2")) && files_equal(p("K"), p("K2")), "%s: lock is not deterministic", what);

	/* tiers */
	for (size_t i = 0; i < sizeof(betas) / sizeof(betas[0]) && betas[i] <= alpha; i++) {
		uint64_t restored;
		r = cl_unlock(p("L"), p("K"), betas[i], p("T"), &restored);
		CHECK(r == 0, "%s: unlock beta %g: %s", what, betas[i], cl_errmsg());
		if (betas[i] == 0) {
			CHECK(files_equal(p("T"), model), "%s: full unlock differs from the original", what);
			continue;
		}
		r = lock_to(model, p("D"), p("DK"), unit, scope, betas[i]);
		if (r == CL_ENOUNITS && strstr(cl_errmsg(), "extracts no unit")) {
			/* lock refuses a lock that locks nothing; that tier is the original */
			CHECK(files_equal(p("T"), model), "%s: tier %g extracts nothing, so it is the original", what,
			      betas[i]);
			continue;
		}
		CHECK(r == 0, "%s: direct lock %g: %s", what, betas[i], cl_errmsg());
		CHECK(files_equal(p("T"), p("D")), "%s: tier %g differs from a direct lock at %g", what, betas[i],
		      betas[i]);
	}
}

static void test_all_units(const char *label, const struct tmodel *m, const char *model)
{
	for (int unit = CL_UNIT_ELEMENT; unit <= CL_UNIT_CHANNEL; unit++)
		for (int scope = CL_SCOPE_LAYER; scope <= CL_SCOPE_GLOBAL_NORM; scope++) {
			if (unit == CL_UNIT_CHANNEL && strcmp(label, "mixed"))
				continue; /* no BN layer in that model */
			check_model(label, m, model, unit, scope, 0.1);
		}
}

static void test_rounding(const struct tmodel *m, const char *model)
{
	/* 8 BN channels at 1/16: 0.5 rounds half up to one channel */
	check_model("half-up", m, model, CL_UNIT_CHANNEL, CL_SCOPE_LAYER, 1.0 / 16);
	check_model("max-alpha", m, model, CL_UNIT_NEURON, CL_SCOPE_GLOBAL, 0.5);
}

static void test_selection_rules(const char *model)
{
	struct cl_lock_opts o = {.ratio = 0.5, .unit = CL_UNIT_ELEMENT, .scope = CL_SCOPE_LAYER};
	struct cl_lock_stats st;
	json_t *d;

	/* NaN and Inf are never counted nor selected */
	CHECK(cl_lock(model, p("N"), p("NK"), &o, &st) == 0, "lock at 0.5: %s", cl_errmsg());
	CHECK(cl_describe(p("NK"), &d) == 0, "describe key: %s", cl_errmsg());
	json_t *g0 = json_array_get(json_object_get(d, "groups"), 0);
	CHECK(!strcmp(json_string_value(json_array_get(json_object_get(g0, "tensors"), 0)), "embed.weight") &&
		      json_integer_value(json_object_get(g0, "units")) == 800 &&
		      json_integer_value(json_object_get(g0, "finite")) == 797 &&
		      json_integer_value(json_object_get(g0, "extracted")) == 399,
	      "embed.weight: 800 units, 797 finite, round(0.5 * 797) = 399 extracted");
	json_decref(d);

	/* include narrows the tensors, and the neuron sibling follows its weight */
	o.unit = CL_UNIT_NEURON;
	o.ratio = 0.25;
	o.include = "^head\\.weight$";
	CHECK(cl_lock(model, p("I"), p("IK"), &o, &st) == 0, "lock --include: %s", cl_errmsg());
	CHECK(st.units_locked == 2 && st.tensors_touched == 2, "include head.weight: 2 rows + bias, got %llu units in %llu tensors",
	      (unsigned long long)st.units_locked, (unsigned long long)st.tensors_touched);
	o.include = NULL;
	o.exclude = ".";
	CHECK(cl_lock(model, p("X"), p("XK"), &o, &st) < 0, "excluding everything must fail");
	CHECK(!file_exists(p("X")) && !file_exists(p("XK")), "a failed lock leaves no output");
}

static void test_random(const char *model)
{
	struct cl_lock_opts o = {.ratio = 0.1, .unit = CL_UNIT_ELEMENT, .scope = CL_SCOPE_GLOBAL,
				 .select = CL_SELECT_RANDOM, .seed = 7};
	struct cl_lock_stats a, b, top;

	CHECK(cl_lock(model, p("R1"), p("RK1"), &o, &a) == 0, "random lock: %s", cl_errmsg());
	CHECK(cl_lock(model, p("R2"), p("RK2"), &o, &b) == 0, "random lock again");
	CHECK(files_equal(p("R1"), p("R2")) && files_equal(p("RK1"), p("RK2")), "random lock with one seed is deterministic");
	o.seed = 8;
	CHECK(cl_lock(model, p("R3"), p("RK3"), &o, &b) == 0, "random lock seed 8");
	CHECK(!files_equal(p("R1"), p("R3")), "another seed picks other units");
	o.select = CL_SELECT_TOP;
	CHECK(cl_lock(model, p("R4"), p("RK4"), &o, &top) == 0, "top lock");
	CHECK(a.units_locked == top.units_locked && b.units_locked == top.units_locked,
	      "random extracts the same count as top (%llu vs %llu)", (unsigned long long)a.units_locked,
	      (unsigned long long)top.units_locked);
	CHECK(!files_equal(p("R1"), p("R4")), "random differs from top");
	CHECK(cl_unlock(p("R1"), p("RK1"), 0, p("R5"), NULL) == 0 && files_equal(p("R5"), model),
	      "random key restores the original");
}

static void test_refusals(const char *model, const char *other)
{
	CHECK(lock_to(model, p("A"), p("AK"), CL_UNIT_ELEMENT, CL_SCOPE_LAYER, 0.1) == 0, "lock");
	CHECK(lock_to(other, p("B"), p("BK"), CL_UNIT_ELEMENT, CL_SCOPE_LAYER, 0.1) == 0, "lock other");
	CHECK(cl_unlock(p("A"), p("BK"), 0, p("O1"), NULL) == CL_EMISMATCH, "key of another model is refused");
	CHECK(cl_unlock(model, p("AK"), 0, p("O2"), NULL) == CL_EMISMATCH, "the original is not the locked model");
	CHECK(strstr(cl_errmsg(), "original") != NULL, "message names the original: %s", cl_errmsg());
	CHECK(cl_unlock(p("A"), p("AK"), 0.2, p("O3"), NULL) == CL_EINVAL, "tier above alpha is refused");
	CHECK(cl_unlock(p("A"), p("AK"), -0.01, p("O4"), NULL) == CL_EINVAL, "negative tier is refused");
	CHECK(!file_exists(p("O1")) && !file_exists(p("O2")) && !file_exists(p("O3")) && !file_exists(p("O4")),
	      "refused unlocks write nothing");
	CHECK(lock_to(model, p("Z"), p("ZK"), CL_UNIT_ELEMENT, CL_SCOPE_LAYER, 0) == CL_EINVAL, "ratio 0 refused");
	CHECK(lock_to(model, p("Z"), p("ZK"), CL_UNIT_ELEMENT, CL_SCOPE_LAYER, 0.51) == CL_EINVAL, "ratio 0.51 refused");
	CHECK(lock_to(model, model, p("ZK"), CL_UNIT_ELEMENT, CL_SCOPE_LAYER, 0.1) == CL_EINVAL,
	      "locking over the input is refused");
	CHECK(lock_to(model, p("Z"), p("ZK"), CL_UNIT_CHANNEL, CL_SCOPE_LAYER, 0.01) == CL_ENOUNITS &&
		      strstr(cl_errmsg(), "extracts no unit"),
	      "a lock that extracts nothing is refused: %s", cl_errmsg());
	CHECK(mkfifo(p("fifo.safetensors"), 0600) == 0, "mkfifo");
	CHECK(lock_to(p("fifo.safetensors"), p("Z"), p("ZK"), CL_UNIT_ELEMENT, CL_SCOPE_LAYER, 0.1) < 0 &&
		      strstr(cl_errmsg(), "not a regular file"),
	      "a FIFO is refused without blocking: %s", cl_errmsg());
	CHECK(!file_exists(p("Z")) && !file_exists(p("ZK")), "refused locks write nothing");
}

static void test_sharded(const struct tmodel *mixed)
{
	struct tmodel a = {0}, b = {0};
	/* split the mixed model in two shards, BN group across the boundary */
	for (size_t i = 0; i < mixed->n; i++) {
		struct tmodel *dst = i < 4 ? &a : &b;
		dst->t[dst->n] = mixed->t[i];
		dst->t[dst->n].data = malloc(mixed->t[i].bytes + 1);
		memcpy(dst->t[dst->n].data, mixed->t[i].data, mixed->t[i].bytes);
		dst->n++;
	}
	mkdir(p("sh"), 0755);
	tm_write(&a, p("sh/model-00001-of-00002.safetensors"));
	tm_write(&b, p("sh/model-00002-of-00002.safetensors"));
	FILE *f = fopen(p("sh/model.safetensors.index.json"), "w");
	fprintf(f, "{\"metadata\":{\"total_size\":1},\"weight_map\":{");
	for (size_t i = 0; i < mixed->n; i++)
		fprintf(f, "%s\"%s\":\"model-0000%d-of-00002.safetensors\"", i ? "," : "", mixed->t[i].name, i < 4 ? 1 : 2);
	fprintf(f, "}}\n");
	fclose(f);

	for (int unit = CL_UNIT_ELEMENT; unit <= CL_UNIT_CHANNEL; unit++) {
		char *idx = strdup(p("sh/model.safetensors.index.json"));
		CHECK(lock_to(idx, p("shL"), p("shK"), unit, CL_SCOPE_GLOBAL, 0.25) == 0, "sharded lock %s: %s",
		      cl_unit_name(unit), cl_errmsg());
		CHECK(files_equal(p("shL/model.safetensors.index.json"), idx), "index copied byte for byte");
		CHECK(cl_unlock(p("shL/model.safetensors.index.json"), p("shK"), 0, p("shF"), NULL) == 0,
		      "sharded full unlock: %s", cl_errmsg());
		CHECK(files_equal(p("shF/model-00001-of-00002.safetensors"), p("sh/model-00001-of-00002.safetensors")) &&
			      files_equal(p("shF/model-00002-of-00002.safetensors"),
					  p("sh/model-00002-of-00002.safetensors")),
		      "sharded full unlock restores both shards");
		/* 0.125: a tier that still extracts units of every kind (1 of 8 BN channels) */
		CHECK(cl_unlock(p("shL/model.safetensors.index.json"), p("shK"), 0.125, p("shT"), NULL) == 0,
		      "sharded tier");
		CHECK(lock_to(idx, p("shD"), p("shDK"), unit, CL_SCOPE_GLOBAL, 0.125) == 0, "sharded direct lock: %s",
		      cl_errmsg());
		for (int s = 1; s <= 2; s++) {
			char x[64], y[64];
			snprintf(x, sizeof(x), "shT/model-0000%d-of-00002.safetensors", s);
			snprintf(y, sizeof(y), "shD/model-0000%d-of-00002.safetensors", s);
			CHECK(files_equal(p(x), p(y)), "sharded tier 0.05 == direct lock, shard %d, unit %s", s,
			      cl_unit_name(unit));
		}
		CHECK(lock_to(idx, p("shX"), p("no/such/dir/k"), unit, CL_SCOPE_GLOBAL, 0.25) < 0 && !file_exists(p("shX")),
		      "a failed sharded lock removes the output directory it made");
		rm_rf(p("shL"));
		rm_rf(p("shF"));
		rm_rf(p("shT"));
		rm_rf(p("shD"));
		free(idx);
	}
	tm_free(&a);
	tm_free(&b);
}

int main(void)
{
	struct tmodel mixed, big;

	dir = tmpdir_new();
	char *mixed_path = strdup(p("mixed.safetensors")), *big_path = strdup(p("big.safetensors"));
	build_mixed(&mixed);
	tm_write(&mixed, mixed_path);
	test_all_units("mixed", &mixed, mixed_path);
	test_rounding(&mixed, mixed_path);
	test_selection_rules(mixed_path);
	test_random(mixed_path);
	test_sharded(&mixed);

	build_big(&big);
	tm_write(&big, big_path);
	test_all_units("big", &big, big_path);
	test_refusals(mixed_path, big_path);
	free(mixed_path);
	free(big_path);

	tm_free(&mixed);
	tm_free(&big);
	rm_rf(dir);
	return test_end("test_lock");
}
