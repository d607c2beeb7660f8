/*
 * identify.c - cl_identify: is a model file the locked model of a key, one
 * of its tiers, the original, or none of these?  The header is kept byte for
 * byte by a lock, so only the key can tell.
 *
 * The SHA-256s in the key answer "locked" and "original".  For a tier, the
 * key's units are read in rank order from the end: a tier restores a
 * suffix of every group's ranking, so the matching suffixes give the
 * smallest tier that could have restored them.  The answer is then proved
 * by hashing the file with the units that tier keeps locked put back to
 * their original bytes: that must give the original's SHA-256.
 */
#include <stdlib.h>
#include <string.h>

#include "clkey.h"
#include "cursor.h"
#include "digest.h"
#include "error.h"
#include "keymatch.h"
#include "model.h"
#include "spans.h"

/* Does unit UNIT of group G in M hold the original bytes of record BYTES? */
static int unit_is_original(const struct cl_key *k, const struct cl_model *m, const struct cl_key_group *g,
			    uint64_t unit, const uint8_t *bytes)
{
	for (unsigned j = 0; j < g->nm; j++) {
		const struct cl_key_tensor *t = &k->t[g->m[j].tensor];
		if (memcmp(m->shards[t->shard].map.data + t->file_off + unit * g->m[j].stride, bytes, g->m[j].stride))
			return 0;
		bytes += g->m[j].stride;
	}
	return 1;
}

/* Per group, the rank from which on every unit holds its original bytes. */
static void restored_from(const struct cl_key *k, const struct cl_model *m, uint64_t *from)
{
	for (size_t i = 0; i < k->ng; i++) {
		const struct cl_key_group *g = &k->g[i];
		uint64_t rec = g->index_bytes + g->unit_bytes, j = g->count;
		while (j > 0) {
			const uint8_t *p = g->records + (j - 1) * rec;
			if (!unit_is_original(k, m, g, cl_le(p, g->index_bytes), p + g->index_bytes))
				break;
			j--;
		}
		from[i] = j;
	}
}

/* 1 when tier BETA keeps locked at least the units FROM says were not restored. */
static int covers(const struct cl_key *k, double beta, const uint64_t *from, uint64_t *kept, int *r)
{
	if ((*r = cl_key_kept(k, beta, kept)) < 0)
		return 0;
	for (size_t i = 0; i < k->ng; i++)
		if (kept[i] < from[i])
			return 0;
	return 1;
}

/*
 * The smallest tier ratio that covers FROM.  Global scopes search the count
 * of locked units (a tier is a count; K / finite lies in the middle of its
 * ratios), layer scope the ratio itself (each group rounds on its own).
 */
static int smallest_tier(const struct cl_key *k, const uint64_t *from, uint64_t *kept, double *beta)
{
	int r = 0;

	if (covers(k, 0, from, kept, &r) || r < 0) {
		*beta = 0;
		return r;
	}
	if (k->scope != CL_SCOPE_LAYER) {
		uint64_t lo = 0, hi = k->count; /* lo does not cover, hi does */
		while (hi - lo > 1 && r == 0) {
			uint64_t mid = lo + (hi - lo) / 2;
			if (covers(k, (double)mid / (double)k->finite, from, kept, &r))
				hi = mid;
			else
				lo = mid;
		}
		*beta = hi == k->count ? k->alpha : (double)hi / (double)k->finite;
	} else {
		double lo = 0, hi = k->alpha;
		for (double mid = lo + (hi - lo) / 2; mid > lo && mid < hi && r == 0; mid = lo + (hi - lo) / 2)
			if (covers(k, mid, from, kept, &r))
				hi = mid;
			else
				lo = mid;
		*beta = hi;
	}
	if (r == 0)
		covers(k, *beta, from, kept, &r);
	return r;
}

/* Every shard of M with the units KEPT puts back to the key's original bytes hashes to the original. */
static int proves_tier(const struct cl_key *k, const struct cl_model *m, const uint64_t *kept, int *yes)
{
	struct cl_spans sp = {.k = k};
	int r = 0;

	*yes = 1;
	for (size_t i = 0; i < k->ng && r == 0; i++) {
		const struct cl_key_group *g = &k->g[i];
		uint64_t rec = g->index_bytes + g->unit_bytes;
		for (uint64_t j = 0; j < kept[i] && r == 0; j++) {
			const uint8_t *p = g->records + j * rec;
			r = cl_spans_add(&sp, (uint32_t)i, cl_le(p, g->index_bytes), p + g->index_bytes);
		}
	}
	cl_spans_sort(&sp);
	for (uint32_t i = 0; i < m->nshards && r == 0 && *yes; i++) {
		uint8_t d[CL_SHA256_LEN];
		sp.shard = i;
		if ((r = cl_patch_digest(&m->shards[i].map, cl_spans_next, &sp, d)) == 0)
			*yes = !memcmp(d, k->shards[i].original, CL_SHA256_LEN);
	}
	cl_spans_free(&sp);
	return r;
}

static int identify(const struct cl_key *k, const struct cl_model *m, json_t *o)
{
	uint64_t *from = calloc(k->ng + 1, sizeof(*from)), *kept = calloc(k->ng + 1, sizeof(*kept)), n = 0;
	int locked = 1, original = 1, yes = 0, r = 0;
	double beta = 0;

	if (!from || !kept) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < m->nshards; i++) {
		uint8_t d[CL_SHA256_LEN];
		cl_sha256(m->shards[i].map.data, (size_t)m->shards[i].map.size, d);
		locked &= !memcmp(d, k->shards[i].locked, CL_SHA256_LEN);
		original &= !memcmp(d, k->shards[i].original, CL_SHA256_LEN);
	}
	if (locked || original) {
		json_object_set_new(o, "is", json_string(locked ? "locked" : "original"));
		json_object_set_new(o, "beta", json_real(locked ? k->alpha : 0));
		json_object_set_new(o, "units_restored", json_integer(locked ? 0 : (json_int_t)k->count));
		goto out;
	}
	restored_from(k, m, from);
	if ((r = smallest_tier(k, from, kept, &beta)) < 0 || (r = proves_tier(k, m, kept, &yes)) < 0)
		goto out;
	for (size_t i = 0; i < k->ng; i++)
		n += kept[i];
	if (yes && n < k->count) {
		json_object_set_new(o, "is", json_string("tier"));
		json_object_set_new(o, "beta", json_real(beta));
		json_object_set_new(o, "units_restored", json_integer((json_int_t)(k->count - n)));
	} else {
		json_object_set_new(o, "is", json_string("other"));
		json_object_set_new(o, "reason",
				    json_string(yes ? "the key's units hold other values than the locked model's"
						    : "same layout as the key's model, but other bytes outside the key's units"));
	}
out:
	free(from);
	free(kept);
	return r;
}

int cl_identify(const char *path, const char *key, json_t **out)
{
	struct cl_key *k = NULL;
	struct cl_model *m = NULL;
	json_t *o = NULL;
	int r;

	if ((r = cl_key_load(key, &k)) < 0 || (r = cl_model_open(path, &m)) < 0)
		goto out;
	o = json_pack("{s:s, s:s, s:s, s:I}", "type", "identify", "path", path, "key", key, "units",
		      (json_int_t)k->count);
	if (!o) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	if (cl_key_match_structure(k, m) < 0) { /* another model: say why, in the answer */
		json_object_set_new(o, "is", json_string("other"));
		json_object_set_new(o, "reason", json_string(cl_errmsg()));
	} else if ((r = identify(k, m, o)) < 0) {
		goto out;
	}
	*out = o;
	o = NULL;
out:
	json_decref(o);
	cl_model_free(m);
	cl_key_free(k);
	return r;
}
