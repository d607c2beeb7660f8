/*
 * fuzz_clkey.c - libFuzzer target for the .clkey parser.
 *
 * It calls cl_fuzz_clkey(), the public entry point, which recomputes the
 * SHA-256 trailer first so that mutations reach the parser proper, and walks
 * every tier cut of an accepted key.  It then parses the same fixed-up bytes
 * with cl_key_parse() and checks, with an independent oracle, that an
 * accepted key is consistent: shards, tensors and groups agree with each
 * other, each group's block of records lies in the body, the blocks fill it
 * exactly, and every record a tier restores (for scope global, after the
 * merge by recomputed score) lies inside the body and names a unit of its
 * group.  An accepted
 * inconsistent key aborts, like a crash.
 *
 * CL_FUZZ_STRICT=1 in the environment also checks, while walking, that no
 * group restores one unit twice (the parser refuses such keys since .clkey
 * version 2: see tests/hostile/catalogue.tsv, key_record_duplicate).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clkey.h"
#include "corelocker.h"
#include "dtype.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "fuzz_clkey: accepted input breaks '%s' (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                              \
			abort();                                                         \
		}                                                                        \
	} while (0)

struct walk {
	const struct cl_key *k;
	const uint8_t *body_end;
	uint64_t calls;
	uint8_t **seen; /* strict mode: per group, a bitmap of restored units */
};

static int visit(void *ctx, uint32_t group, uint64_t unit, const uint8_t *bytes)
{
	struct walk *w = ctx;
	const struct cl_key_group *g;
	volatile uint8_t sink = 0;

	CHECK(group < w->k->ng);
	g = &w->k->g[group];
	CHECK(unit < g->units);
	CHECK(bytes >= w->k->body && bytes <= w->body_end && (uint64_t)(w->body_end - bytes) >= g->unit_bytes);
	for (uint64_t i = 0; i < g->unit_bytes; i++)
		sink ^= bytes[i];
	if (w->seen && g->units <= (1u << 20)) {
		if (!w->seen[group])
			CHECK((w->seen[group] = calloc((size_t)(g->units + 7) / 8, 1)) != NULL);
		CHECK(!(w->seen[group][unit / 8] & (1u << (unit % 8))));
		w->seen[group][unit / 8] |= (uint8_t)(1u << (unit % 8));
	}
	w->calls++;
	(void)sink;
	return 0;
}

/* The width rule, written out: version 2 keys use 4 bytes (8 past 2^32 units),
 * version 3 the fewest whole bytes that hold units - 1. */
static unsigned index_bytes(uint32_t version, uint64_t units)
{
	if (version == 2)
		return units <= 0xffffffffull ? 4 : 8;
	for (unsigned n = 1; n < 8; n++)
		if (units - 1 < 1ull << 8 * n)
			return n;
	return 8;
}

static void oracle(const uint8_t *buf, size_t len, const struct cl_key *k, int strict)
{
	uint32_t hlen = (uint32_t)buf[12] | (uint32_t)buf[13] << 8 | (uint32_t)buf[14] << 16 | (uint32_t)buf[15] << 24;
	uint64_t sum_count = 0, sum_finite = 0, body_used = 0;
	static const double betas[] = {0, 0.125, 0.25, 0.5, 1.0};

	CHECK(len >= CL_KEY_PREFIX + CL_SHA256_LEN && memcmp(buf, CL_KEY_MAGIC, 8) == 0);
	CHECK((buf[8] == 2 || buf[8] == 3) && buf[8] == k->version && !buf[9] && !buf[10] && !buf[11]);
	CHECK((uint64_t)hlen + CL_KEY_PREFIX + CL_SHA256_LEN <= len);
	CHECK(k->body == buf + CL_KEY_PREFIX + hlen);
	CHECK(k->body_len == len - CL_KEY_PREFIX - hlen - CL_SHA256_LEN);
	CHECK(k->alpha > 0 && k->alpha <= 0.5);
	CHECK(k->unit >= CL_UNIT_ELEMENT && k->unit <= CL_UNIT_CHANNEL);
	CHECK(k->scope == CL_SCOPE_LAYER || k->scope == CL_SCOPE_GLOBAL || k->scope == CL_SCOPE_GLOBAL_NORM);
	CHECK(k->nshards >= 1 && k->shards);
	for (uint32_t i = 0; i < k->nshards; i++) {
		const struct cl_key_shard *s = &k->shards[i];
		CHECK(s->file && *s->file && !strchr(s->file, '/'));
		CHECK(s->header_len <= CL_MAX_HEADER && s->size >= 8 + s->header_len);
	}
	for (size_t i = 0; i < k->nt; i++) {
		const struct cl_key_tensor *t = &k->t[i];
		const struct cl_key_shard *s;
		uint64_t nelem = 1;
		CHECK(t->dtype >= 0 && cl_dtype_get(t->dtype)->lockable);
		CHECK(t->shard < k->nshards && t->ndim <= CL_MAX_NDIM);
		s = &k->shards[t->shard];
		for (unsigned d = 0; d < t->ndim; d++)
			CHECK(!__builtin_mul_overflow(nelem, t->shape[d], &nelem));
		CHECK(nelem <= UINT64_MAX / cl_dtype_get(t->dtype)->size);
		CHECK(nelem * cl_dtype_get(t->dtype)->size == t->end - t->begin);
		CHECK(t->begin <= t->end && t->end <= s->size - 8 - s->header_len);
		CHECK(t->file_off == 8 + s->header_len + t->begin);
	}
	for (size_t i = 0; i < k->ng; i++) {
		const struct cl_key_group *g = &k->g[i];
		uint64_t ub = 0, rec, block;
		CHECK(g->nm >= 1 && g->nm <= 2);
		CHECK(g->units >= 1 && g->finite <= g->units && g->count <= g->finite);
		CHECK(g->index_bytes == index_bytes(k->version, g->units));
		for (unsigned j = 0; j < g->nm; j++) {
			const struct cl_key_tensor *t;
			CHECK(g->m[j].tensor < k->nt && g->m[j].stride > 0);
			CHECK(j == 0 || g->m[j].tensor != g->m[0].tensor);
			t = &k->t[g->m[j].tensor];
			CHECK(g->m[j].stride <= UINT64_MAX / g->units && g->m[j].stride * g->units == t->end - t->begin);
			ub += g->m[j].stride;
		}
		CHECK(ub == g->unit_bytes);
		/* both scopes: one block of COUNT records per group, in header order */
		rec = g->index_bytes + g->unit_bytes;
		CHECK(!__builtin_mul_overflow(rec, g->count, &block));
		CHECK(g->records == k->body + body_used);
		CHECK(!__builtin_add_overflow(body_used, block, &body_used));
		CHECK(body_used <= k->body_len);
		for (uint64_t j = 0; j < g->count; j++) {
			uint64_t u = 0;
			for (unsigned b = g->index_bytes; b-- > 0;)
				u = u << 8 | g->records[j * rec + b];
			CHECK(u < g->units);
		}
		if (k->scope == CL_SCOPE_LAYER)
			CHECK(g->count == cl_count(k->alpha, g->finite));
		sum_count += g->count;
		sum_finite += g->finite;
	}
	for (size_t i = 0; i < k->ng; i++)
		for (size_t j = i + 1; j < k->ng; j++)
			for (unsigned a = 0; a < k->g[i].nm; a++)
				for (unsigned b = 0; b < k->g[j].nm; b++)
					CHECK(k->g[i].m[a].tensor != k->g[j].m[b].tensor);
	CHECK(body_used == k->body_len);
	CHECK(sum_count == k->count);
	/* top-level finite also counts the groups with nothing extracted */
	CHECK(sum_finite <= k->finite);
	if (k->scope != CL_SCOPE_LAYER)
		CHECK(k->count == cl_count(k->alpha, k->finite));

	/* every tier cut visits exactly the records below it */
	for (size_t b = 0; b < sizeof(betas) / sizeof(betas[0]); b++) {
		double beta = betas[b] * k->alpha;
		struct walk w = {k, k->body + k->body_len, 0, NULL};
		uint64_t want = 0;
		if (strict && b == 0)
			CHECK((w.seen = calloc(k->ng + 1, sizeof(*w.seen))) != NULL);
		CHECK(cl_key_foreach_restore(k, beta, visit, &w) == 0);
		if (k->scope == CL_SCOPE_LAYER)
			for (size_t i = 0; i < k->ng; i++)
				want += k->g[i].count - cl_count(beta, k->g[i].finite);
		else
			want = k->count - cl_count(beta, k->finite);
		CHECK(w.calls == want);
		if (w.seen) {
			for (size_t i = 0; i < k->ng; i++)
				free(w.seen[i]);
			free(w.seen);
		}
	}
	/* a ratio outside [0, alpha] is refused, never walked */
	{
		struct walk w = {k, k->body + k->body_len, 0, NULL};
		CHECK(cl_key_foreach_restore(k, k->alpha * 1.5 + 1e-9, visit, &w) < 0 && w.calls == 0);
		CHECK(cl_key_foreach_restore(k, -0.01, visit, &w) < 0 && w.calls == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int strict = -1;
	struct cl_key *k = NULL;
	uint8_t *copy;
	int api, r;

	if (strict < 0) {
		const char *e = getenv("CL_FUZZ_STRICT");
		strict = e && *e == '1';
	}
	api = cl_fuzz_clkey(data, size);
	/* the same fix-up as cl_fuzz_clkey: a valid trailer */
	copy = malloc(size ? size : 1);
	CHECK(copy != NULL);
	if (size)
		memcpy(copy, data, size);
	if (size >= CL_SHA256_LEN)
		cl_sha256(copy, size - CL_SHA256_LEN, copy + size - CL_SHA256_LEN);
	r = cl_key_parse(copy, size, &k);
	CHECK((api == 0) == (r == 0));
	if (r == 0) {
		oracle(copy, size, k, strict);
		cl_key_free(k);
	} else {
		CHECK(*cl_errmsg() != 0); /* every refusal says why */
	}
	free(copy);
	return 0;
}
