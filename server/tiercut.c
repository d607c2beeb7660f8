/* tiercut.c - cutting a tier's spans from a model's stored key. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "resources.h"
#include "seal.h"
#include "server.h"
#include "store.h"
#include "tiercut.h"

int model_key_open(struct db *db, int64_t id, struct model_key *mk)
{
	struct dbq *st = db_q(db, "SELECT sealed FROM model_keys WHERE model_id = ?1");
	const void *sealed;
	char aad[96];
	size_t slen;
	int rc;

	memset(mk, 0, sizeof(*mk));
	if (!st)
		return -2;
	db_bind_int(st, 1, id);
	if ((rc = db_step(st)) != DB_ROW) {
		db_reset(st);
		return rc == DB_DONE ? -1 : -2;
	}
	sealed = db_blob(st, 0, &slen);
	rc = -2;
	if (slen < CL_SEAL_OVERHEAD || !(mk->plain = malloc(slen - CL_SEAL_OVERHEAD + 1)))
		goto out;
	mk->len = slen - CL_SEAL_OVERHEAD;
	aad_model_key(id, aad, sizeof(aad));
	if (cl_unseal(srv.master, aad, strlen(aad), sealed, slen, mk->plain) < 0 ||
	    cl_key_parse(mk->plain, mk->len, &mk->k) < 0) {
		log_bug("model %lld: stored key does not open: %s", (long long)id, cl_errmsg());
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	if (rc < 0)
		model_key_close(mk);
	return rc;
}

void model_key_close(struct model_key *mk)
{
	cl_key_free(mk->k);
	if (mk->plain) {
		OPENSSL_cleanse(mk->plain, mk->len);
		free(mk->plain);
	}
	memset(mk, 0, sizeof(*mk));
}

struct cut_ctx {
	const struct cl_key *k;
	struct tier_cut *c;
};

static int cut_unit(void *ctx, uint32_t group, uint64_t unit, const uint8_t *bytes)
{
	struct cut_ctx *x = ctx;
	struct tier_cut *c = x->c;
	const struct cl_key_group *g = &x->k->g[group];

	c->units++;
	for (unsigned j = 0; j < g->nm; j++) {
		const struct cl_key_tensor *t = &x->k->t[g->m[j].tensor];
		uint64_t stride = g->m[j].stride;
		if (stride > UINT32_MAX)
			return cl_fail(CL_ELIMIT, "a unit of tensor '%s' is over 4 GiB", t->name);
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 1024;
			struct cl_volume_entry *e = realloc(c->e, cap * sizeof(*e));
			if (!e)
				return cl_fail(CL_ENOMEM, "out of memory");
			c->e = e;
			c->cap = cap;
		}
		c->e[c->n++] = (struct cl_volume_entry){t->shard, t->file_off + unit * stride, (uint32_t)stride, bytes};
		c->bytes += stride;
		bytes += stride;
	}
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct cl_volume_entry *x = a, *y = b;

	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

int tier_cut(const struct cl_key *k, double ratio, struct tier_cut *c)
{
	struct cut_ctx x = {k, c};
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = cl_key_foreach_restore(k, ratio, cut_unit, &x)) < 0)
		return r;
	if (c->n)
		qsort(c->e, c->n, sizeof(*c->e), entry_cmp);
	for (size_t i = 1; i < c->n; i++)
		if (c->e[i].shard == c->e[i - 1].shard && c->e[i].off < c->e[i - 1].off + c->e[i - 1].len)
			return cl_fail(CL_EFORMAT, "the key's spans overlap (shard %u, offset %llu)", c->e[i].shard,
				       (unsigned long long)c->e[i].off);
	return 0;
}

void tier_cut_free(struct tier_cut *c)
{
	free(c->e);
	memset(c, 0, sizeof(*c));
}
