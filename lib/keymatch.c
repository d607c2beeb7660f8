/* keymatch.c - pairing a key with a model. */
#include <string.h>

#include "error.h"
#include "keymatch.h"

int cl_key_match_structure(const struct cl_key *k, const struct cl_model *m)
{
	if (k->nshards != m->nshards || k->sharded != m->sharded)
		return cl_fail(CL_EMISMATCH, "the key is for a model of %u file(s), %s has %u", k->nshards,
			       m->path, m->nshards);
	for (uint32_t i = 0; i < m->nshards; i++) {
		const struct cl_key_shard *ks = &k->shards[i];
		const struct cl_shard *s = &m->shards[i];
		if (ks->header_len != s->st.header_len || ks->size != s->map.size ||
		    (m->sharded && strcmp(ks->file, s->name)))
			return cl_fail(CL_EMISMATCH, "%s: this key belongs to another model (file layout differs)",
				       s->path);
	}
	for (size_t i = 0; i < k->nt; i++) {
		const struct cl_key_tensor *kt = &k->t[i];
		long j = cl_model_find(m, kt->name);
		const struct cl_tensor *t = j < 0 ? NULL : &m->t[j];
		if (!t || t->dtype != kt->dtype || t->shard != kt->shard || t->begin != kt->begin ||
		    t->end != kt->end || t->ndim != kt->ndim ||
		    memcmp(t->shape, kt->shape, t->ndim * sizeof(t->shape[0])))
			return cl_fail(CL_EMISMATCH, "%s: this key belongs to another model (tensor '%s' differs)",
				       m->path, kt->name);
	}
	return 0;
}

int cl_key_match_locked(const struct cl_key *k, const struct cl_model *m)
{
	int r = cl_key_match_structure(k, m);

	for (uint32_t i = 0; i < m->nshards && r == 0; i++) {
		uint8_t d[CL_SHA256_LEN];
		cl_sha256(m->shards[i].map.data, (size_t)m->shards[i].map.size, d);
		if (memcmp(d, k->shards[i].locked, CL_SHA256_LEN) == 0)
			continue;
		if (memcmp(d, k->shards[i].original, CL_SHA256_LEN) == 0)
			return cl_fail(CL_EMISMATCH, "%s: this is the original model, not the locked one",
				       m->shards[i].path);
		return cl_fail(CL_EMISMATCH, "%s: not the locked model this key belongs to (SHA-256 differs)",
				       m->shards[i].path);
	}
	return r;
}
