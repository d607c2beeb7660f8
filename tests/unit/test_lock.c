/*
 * test_lock.c - the invariants of DESIGN.md section 2, byte for byte:
 *   lock(M, a) equals an independent reference implementation;
 *   unlock(lock(M, a), b) == lock(M, b);  unlock(lock(M, a), 0) == M;
 *   lock is deterministic.
 * Over every unit and scope, F16/BF16/F32/F64, NaN/Inf, siblings, BN groups,
 * metadata, a sharded model, a large tensor (sampled selection) and heavy
 * ties (exact fallback).  Every key is read back by the reference, and the
 * unit index widths are checked at 256/257 and 65536/65537 units; keys
 * rewritten in .clkey version 2 (4-byte indexes) must cut the same tiers.
 * The invariants run for every fill; only zero has the reference's bytes.
 */
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "corelocker.h"
#include "reference.h"
#include "testutil.h"

static char *dir;
static int fill; /* the fill every lock_to uses */

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
	struct cl_lock_opts o = {.ratio = ratio, .unit = unit, .scope = scope, .fill = fill};
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

/* Groups on both sides of the 1-, 2- and 3-byte index bounds, for element
 * units (256, 257, 65536, 65537) and neuron units (16, 257, 256, 65537 rows). */
static void build_widths(struct tmodel *m)
{
	static const uint64_t s256[] = {16, 16}, s257[] = {257, 1}, s65536[] = {256, 256},
			      s65537[] = {65537, 1};
	memset(m, 0, sizeof(*m));
	tm_add(m, "w256.weight", "F16", 2, s256, 31, 1.0);
	tm_add(m, "w257.weight", "F16", 2, s257, 32, 1.0);
	tm_add(m, "w65536.weight", "F16", 2, s65536, 33, 1.0);
	tm_add(m, "w65537.weight", "F16", 2, s65537, 34, 1.0);
}

static const double betas[] = {0, 0.01, 0.03, 0.05, 0.1};

static void check_model(const char *label, const struct tmodel *m, const char *model, int unit, int scope,
			double alpha)
{
	char what[128];
	uint64_t want_k;
	size_t len;
	int r;

	snprintf(what, sizeof(what), "%s %s/%s alpha %g fill %s", label, cl_unit_name(unit), cl_scope_name(scope), alpha,
		 cl_fill_name(fill));
	r = lock_to(model, p("L"), p("K"), unit, scope, alpha);
	CHECK(r == 0, "%s: lock failed: %s", what, cl_errmsg());
	if (r)
		return;
	uint8_t *want = ref_lock(m, model, unit, scope, alpha, NULL, &want_k);
	uint8_t *got = read_file(p("L"), &len);
	size_t mlen;
	free(read_file(model, &mlen));
	if (fill == CL_FILL_ZERO)
		CHECK(got && len == mlen && memcmp(got, want, len) == 0, "%s: locked bytes differ from the reference",
		      what);
	else /* the rest of the file is checked by the full unlock below */
		CHECK(got && len == mlen && memcmp(got, want, len) != 0, "%s: the fill wrote only zeros", what);
	CHECK(want_k > 0, "%s: reference extracts nothing; the case tests nothing", what);
	free(want);
	free(got);
	const char *bad = ref_check_key(m, unit, p("K"));
	CHECK(!bad, "%s: the key, read by the reference: %s", what, bad);

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

/* Bytes that differ from ORIG in both A and B; -1 if they ever disagree there. */
static long common_changes(const uint8_t *orig, const uint8_t *a, const uint8_t *b, size_t n)
{
	long both = 0;
	for (size_t i = 0; i < n; i++) {
		if (a[i] == orig[i] || b[i] == orig[i])
			continue;
		if (a[i] != b[i])
			return -1;
		both++;
	}
	return both;
}

/*
 * DESIGN's rule for a fill: a unit's value never depends on which other
 * units were extracted.  Two random selections share some units: those
 * must hold the same bytes in both locked files.
 */
static void test_fill_rule(const char *model)
{
	struct cl_lock_opts o = {.ratio = 0.3, .unit = CL_UNIT_ELEMENT, .scope = CL_SCOPE_GLOBAL,
				 .select = CL_SELECT_RANDOM, .seed = 7, .fill = fill};
	struct cl_lock_stats st;
	size_t n, na, nb;

	CHECK(cl_lock(model, p("F1"), p("FK1"), &o, &st) == 0, "random lock seed 7: %s", cl_errmsg());
	o.seed = 8;
	CHECK(cl_lock(model, p("F2"), p("FK2"), &o, &st) == 0, "random lock seed 8: %s", cl_errmsg());
	uint8_t *m = read_file(model, &n), *a = read_file(p("F1"), &na), *b = read_file(p("F2"), &nb);
	long both = m && a && b && na == n && nb == n ? common_changes(m, a, b, n) : -1;
	CHECK(both > 0, "fill %s: units extracted by both random locks hold different bytes (or none changed: %ld)",
	      cl_fill_name(fill), both);
	free(m);
	free(a);
	free(b);
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

/* The index width of each group, as inspect reports it, and the key's size
 * from the header: prefix, header, count x (index + unit bytes), trailer. */
static void test_widths(const char *model)
{
	static const struct {
		const char *name;
		int element, neuron; /* index bytes */
		int row;	     /* F16 values in a row: a neuron unit */
	} want[] = {{"w256.weight", 1, 1, 16},
		    {"w257.weight", 2, 2, 1},
		    {"w65536.weight", 2, 1, 256},
		    {"w65537.weight", 3, 3, 1}};

	for (int unit = CL_UNIT_ELEMENT; unit <= CL_UNIT_NEURON; unit++) {
		size_t len, i;
		json_t *d = NULL, *g;
		uint64_t body = 0;

		CHECK(lock_to(model, p("W"), p("WK"), unit, CL_SCOPE_LAYER, 0.1) == 0, "widths lock: %s",
		      cl_errmsg());
		CHECK(cl_describe(p("WK"), &d) == 0, "describe: %s", cl_errmsg());
		CHECK(json_integer_value(json_object_get(d, "version")) == 3,
		      "a new key is .clkey version 3");
		CHECK(json_array_size(json_object_get(d, "groups")) == 4, "four groups");
		json_array_foreach(json_object_get(d, "groups"), i, g) {
			int ib = (int)json_integer_value(json_object_get(g, "index_bytes"));
			int w = i < 4 ? (unit == CL_UNIT_ELEMENT ? want[i].element : want[i].neuron) : 0;
			CHECK(i < 4 &&
				  !strcmp(json_string_value(json_array_get(json_object_get(g, "tensors"), 0)),
					  want[i].name) &&
				  ib == w,
			      "%s %s: %lld units take %d-byte indexes, not %d", cl_unit_name(unit),
			      i < 4 ? want[i].name : "?",
			      (long long)json_integer_value(json_object_get(g, "units")), w, ib);
			if (i < 4)
				body += (uint64_t)json_integer_value(json_object_get(g, "extracted")) *
					(uint64_t)(ib + 2 * (unit == CL_UNIT_ELEMENT ? 1 : want[i].row));
		}
		uint8_t *k = read_file(p("WK"), &len);
		size_t hlen = k ? (size_t)(k[12] | k[13] << 8 | k[14] << 16 | (size_t)k[15] << 24) : 0;
		free(k);
		CHECK(len == 16 + hlen + body + 32, "%s key size %zu, want 16 + %zu + %llu + 32",
		      cl_unit_name(unit), len, hlen, (unsigned long long)body);
		json_decref(d);
	}
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/*
 * SRC (a version 3 key) rewritten as DST in .clkey version 2, the format
 * corelocker wrote before version 3: 4-byte unit indexes (8 from 2^32 units
 * on), the header's index_bytes to match, a new SHA-256 trailer.  Done with
 * jansson and OpenSSL, not with the library under test.
 */
static int make_v2_key(const char *src, const char *dst)
{
	size_t len, hlen, pos, gi, olen = 0;
	uint8_t *k = read_file(src, &len), *out = NULL;
	json_t *h = NULL, *g;
	char *text = NULL;
	int r = -1;

	if (!k || len < 48 || get_le(k + 8, 4) != 3 || (hlen = (size_t)get_le(k + 12, 4)) > len - 48 ||
	    !(h = json_loadb((const char *)k + 16, hlen, 0, NULL)) || !(out = malloc(2 * len + 64)))
		goto out;
	pos = 16 + hlen;
	olen = 16 + hlen; /* the new header is written last, once its length is known */
	json_array_foreach(json_object_get(h, "groups"), gi, g) {
		uint64_t units = (uint64_t)json_integer_value(json_object_get(g, "units"));
		uint64_t count = (uint64_t)json_integer_value(json_object_get(g, "count"));
		unsigned ib = (unsigned)json_integer_value(json_object_get(g, "index_bytes")),
			 nb = units < 1ull << 32 ? 4 : 8;
		size_t ub = 0, mi;
		json_t *mem;
		json_array_foreach(json_object_get(g, "members"), mi, mem)
			ub += (size_t)json_integer_value(json_array_get(mem, 1));
		for (uint64_t j = 0; j < count; j++) {
			put_le(out + olen, get_le(k + pos, ib), nb);
			memcpy(out + olen + nb, k + pos + ib, ub);
			pos += ib + ub;
			olen += nb + ub;
		}
		json_object_set_new(g, "index_bytes", json_integer(nb));
	}
	if (pos != len - 32 || !(text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		goto out;
	size_t nh = strlen(text), body = olen - 16 - hlen;
	memmove(out + 16 + nh, out + 16 + hlen, body); /* the body after the new header */
	memcpy(out, k, 8);
	put_le(out + 8, 2, 4);
	put_le(out + 12, nh, 4);
	memcpy(out + 16, text, nh);
	olen = 16 + nh + body;
	if (!EVP_Digest(out, olen, out + olen, NULL, EVP_sha256(), NULL))
		goto out;
	FILE *f = fopen(dst, "wb");
	r = f && fwrite(out, 1, olen + 32, f) == olen + 32 ? 0 : -1;
	if (f && fclose(f))
		r = -1;
out:
	free(text);
	free(out);
	json_decref(h);
	free(k);
	return r;
}

/* Keys that corelockerd stored before version 3 are version 2: they must
 * still cut every tier exactly as the version 3 key of the same lock does. */
static void test_v2_keys(const char *label, const char *model)
{
	static const struct {
		int unit, scope;
	} locks[] = {{CL_UNIT_ELEMENT, CL_SCOPE_LAYER},
		     {CL_UNIT_NEURON, CL_SCOPE_GLOBAL},
		     {CL_UNIT_ELEMENT, CL_SCOPE_GLOBAL_NORM}};

	for (size_t i = 0; i < sizeof(locks) / sizeof(locks[0]); i++) {
		char what[96];
		json_t *d = NULL, *g;
		size_t gi, l3, l2;
		snprintf(what, sizeof(what), "%s %s/%s", label, cl_unit_name(locks[i].unit),
			 cl_scope_name(locks[i].scope));
		CHECK(lock_to(model, p("V"), p("VK3"), locks[i].unit, locks[i].scope, 0.1) == 0,
		      "%s: lock: %s", what, cl_errmsg());
		CHECK(make_v2_key(p("VK3"), p("VK2")) == 0, "%s: rewrite the key as version 2", what);
		CHECK(cl_describe(p("VK2"), &d) == 0 &&
			  json_integer_value(json_object_get(d, "version")) == 2,
		      "%s: the rewritten key reads as version 2: %s", what, cl_errmsg());
		json_array_foreach(json_object_get(d, "groups"), gi, g)
			CHECK(json_integer_value(json_object_get(g, "index_bytes")) == 4,
			      "%s: version 2 group %zu: 4-byte indexes", what, gi);
		json_decref(d);
		free(read_file(p("VK3"), &l3));
		free(read_file(p("VK2"), &l2));
		CHECK(l2 > l3, "%s: the version 2 key (%zu bytes) is larger than the version 3 one (%zu)",
		      what, l2, l3);
		for (size_t b = 0; b < sizeof(betas) / sizeof(betas[0]); b++) {
			CHECK(cl_unlock(p("V"), p("VK3"), betas[b], p("VT3"), NULL) == 0, "%s: unlock v3",
			      what);
			CHECK(cl_unlock(p("V"), p("VK2"), betas[b], p("VT2"), NULL) == 0,
			      "%s: unlock v2 at %g: %s", what, betas[b], cl_errmsg());
			CHECK(files_equal(p("VT3"), p("VT2")), "%s: tier %g of the version 2 key differs",
			      what, betas[b]);
			if (betas[b] == 0)
				CHECK(files_equal(p("VT2"), model),
				      "%s: the version 2 key restores the original", what);
			unlink(p("VT3"));
			unlink(p("VT2"));
		}
	}
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
	build_big(&big);
	tm_write(&big, big_path);
	struct tmodel widths;
	char *widths_path = strdup(p("widths.safetensors"));
	build_widths(&widths);
	tm_write(&widths, widths_path);
	for (fill = CL_FILL_ZERO; fill <= CL_FILL_FLIP; fill++) {
		test_all_units("mixed", &mixed, mixed_path);
		test_rounding(&mixed, mixed_path);
		test_sharded(&mixed);
		test_all_units("big", &big, big_path);
		test_all_units("widths", &widths, widths_path);
		test_v2_keys("mixed", mixed_path);
		if (fill != CL_FILL_ZERO)
			test_fill_rule(mixed_path);
	}
	fill = CL_FILL_ZERO;
	test_selection_rules(mixed_path);
	test_random(mixed_path);
	test_refusals(mixed_path, big_path);
	test_widths(widths_path);
	test_v2_keys("widths", widths_path);
	free(mixed_path);
	free(big_path);
	free(widths_path);

	tm_free(&mixed);
	tm_free(&big);
	tm_free(&widths);
	rm_rf(dir);
	return test_end("test_lock");
}
