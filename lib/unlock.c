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
#include "spans.h"

int cl_unlock(const char *locked, const char *key, double beta, const char *out, uint64_t *restored)
{
	struct cl_model *m = NULL;
	struct cl_key *k = NULL;
	struct cl_model_out mo = {0};
	struct cl_spans sp = {0};
	int r;

	if ((r = cl_model_open(locked, &m)) < 0 || (r = cl_key_load(key, &k)) < 0 ||
	    (r = cl_key_match_locked(k, m)) < 0)
		goto out;
	sp.k = k;
	if ((r = cl_key_foreach_restore(k, beta, cl_spans_add, &sp)) < 0)
		goto out;
	cl_spans_sort(&sp);
	if ((r = cl_model_out_open_mode(m, out, 0600, &mo)) < 0) /* an unlocked model is a secret */
		goto out;
	for (uint32_t i = 0; i < m->nshards && r == 0; i++) {
		uint8_t d[CL_SHA256_LEN];
		struct cl_spans hsp = sp;
		sp.shard = hsp.shard = i;
		r = beta == 0 ? cl_patch_copy(&m->shards[i].map, cl_spans_next, &sp, &hsp, mo.shard[i], d)
			      : cl_patch_stream(&m->shards[i].map, cl_spans_next, &sp, mo.shard[i]);
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
	cl_spans_free(&sp);
	cl_key_free(k);
	cl_model_free(m);
	return r;
}
