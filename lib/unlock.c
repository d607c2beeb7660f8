/*
 * unlock.c - cl_unlock, the owner's offline restore: the units that tier
 * beta restores are gathered from the key, sorted by file offset and
 * streamed into a copy of the locked model.
 */
#include <stdlib.h>
#include <string.h>

#include "clkey.h"
#include "error.h"
#include "keymatch.h"
#include "modelout.h"
#include "patch.h"

struct restore_span {
	uint32_t shard;
	uint64_t off, len;
	const uint8_t *src;
};

struct spans {
	const struct cl_key *k;
	struct restore_span *s;
	size_t n, cap, next;
	uint64_t units;
	uint32_t shard; /* iteration */
};

static int add_unit(void *ctx, uint32_t group, uint64_t unit, const uint8_t *bytes)
{
	struct spans *sp = ctx;
	const struct cl_key_group *g = &sp->k->g[group];

	sp->units++;
	for (unsigned j = 0; j < g->nm; j++) {
		const struct cl_key_tensor *t = &sp->k->t[g->m[j].tensor];
		if (sp->n == sp->cap) {
			size_t cap = sp->cap ? sp->cap * 2 : 1024;
			struct restore_span *n = realloc(sp->s, cap * sizeof(*n));
			if (!n)
				return cl_fail(CL_ENOMEM, "out of memory");
			sp->s = n;
			sp->cap = cap;
		}
		sp->s[sp->n++] = (struct restore_span){t->shard, t->file_off + unit * g->m[j].stride,
						       g->m[j].stride, bytes};
		bytes += g->m[j].stride;
	}
	return 0;
}

static int by_place(const void *a, const void *b)
{
	const struct restore_span *x = a, *y = b;
	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int next_restore(void *ctx, struct cl_span *s)
{
	struct spans *sp = ctx;

	if (sp->next >= sp->n || sp->s[sp->next].shard != sp->shard)
		return 0;
	s->off = sp->s[sp->next].off;
	s->len = sp->s[sp->next].len;
	s->src = sp->s[sp->next].src;
	sp->next++;
	return 1;
}

int cl_unlock(const char *locked, const char *key, double beta, const char *out, uint64_t *restored)
{
	struct cl_model *m = NULL;
	struct cl_key *k = NULL;
	struct cl_model_out mo = {0};
	struct spans sp = {0};
	int r;

	if ((r = cl_model_open(locked, &m)) < 0 || (r = cl_key_load(key, &k)) < 0 ||
	    (r = cl_key_match_locked(k, m)) < 0)
		goto out;
	sp.k = k;
	if ((r = cl_key_foreach_restore(k, beta, add_unit, &sp)) < 0)
		goto out;
	if (sp.n)
		qsort(sp.s, sp.n, sizeof(*sp.s), by_place);
	if ((r = cl_model_out_open_mode(m, out, 0600, &mo)) < 0) /* an unlocked model is a secret */
		goto out;
	for (uint32_t i = 0; i < m->nshards && r == 0; i++) {
		uint8_t d[CL_SHA256_LEN];
		struct spans hsp = sp;
		sp.shard = hsp.shard = i;
		r = beta == 0 ? cl_patch_copy(&m->shards[i].map, next_restore, &sp, &hsp, mo.shard[i], d)
			      : cl_patch_stream(&m->shards[i].map, next_restore, &sp, mo.shard[i]);
		sp.next = hsp.next > sp.next ? hsp.next : sp.next;
		if (r == 0 && beta == 0) {
			if (memcmp(d, k->shards[i].original, CL_SHA256_LEN))
				r = cl_fail(CL_EINTEGRITY, "%s: restored model does not match the original's SHA-256",
					    m->shards[i].path);
		}
	}
	if (r == 0)
		r = cl_model_out_commit(&mo);
	if (r == 0 && restored)
		*restored = sp.units;
out:
	cl_model_out_abort(&mo);
	free(sp.s);
	cl_key_free(k);
	cl_model_free(m);
	return r;
}
