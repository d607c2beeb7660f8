/*
 * unlock.c - cl_unlock, the owner's offline restore: the units that tier
 * beta restores are gathered from the key, sorted by file offset and
 * streamed into a copy of the locked model, one shard per core.
 */
#include <stdlib.h>
#include <string.h>

#include "clkey.h"
#include "error.h"
#include "keymatch.h"
#include "modelout.h"
#include "spans.h"
#include "threads.h"

struct unlock_job {
	const struct cl_model *m;
	const struct cl_key *k;
	const struct cl_spans *sp;
	struct cl_model_out *mo;
	double beta;
};

static int unlock_shard(void *arg, size_t i, unsigned worker)
{
	struct unlock_job *j = arg;
	struct cl_spans s = *j->sp; /* a private cursor over the shared, sorted spans */
	const struct cl_shard *sh = &j->m->shards[i];
	size_t lo = 0, hi = s.n;
	uint8_t d[CL_SHA256_LEN];
	int r;

	(void)worker;
	while (lo < hi) { /* the shard's first span */
		size_t mid = lo + (hi - lo) / 2;
		if (s.s[mid].shard < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	s.next = lo;
	s.shard = (uint32_t)i;
	if (j->beta != 0)
		return cl_patch_stream(&sh->map, cl_spans_next, &s, j->mo->shard[i]);
	r = cl_patch_write_digest(&sh->map, cl_spans_next, &s, j->mo->shard[i], d);
	if (r == 0 && memcmp(d, j->k->shards[i].original, CL_SHA256_LEN))
		r = cl_fail(CL_EINTEGRITY, "%s: restored model does not match the original's SHA-256", sh->path);
	return r;
}

int cl_unlock(const char *locked, const char *key, double beta, const char *out, uint64_t *restored)
{
	struct cl_model *m = NULL;
	struct cl_key *k = NULL;
	struct cl_model_out mo = {0};
	struct cl_spans sp = {0};
	struct unlock_job j;
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
	j = (struct unlock_job){m, k, &sp, &mo, beta};
	r = cl_parallel(m->nshards, unlock_shard, &j);
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
