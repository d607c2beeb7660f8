/* mark.c - leak-tracing marks: the codes, marking a volume's entries, scoring a suspect. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "dtype.h"
#include "error.h"
#include "mark.h"
#include "seal.h"

#define CONTEXT "corelocker-mark-v1"

int cl_mark_code(struct cl_mark_code *g, const char *tensor, uint64_t index)
{
	uint64_t block = index / 256;

	if (!g->tensor || g->block != block || strcmp(g->tensor, tensor)) {
		size_t tl = strlen(tensor), n = sizeof(CONTEXT) + 8 + tl + 1 + 8;
		uint8_t *msg = malloc(n), *p = msg;
		if (!msg) {
			cl_fail(CL_ENOMEM, "out of memory");
			return 0;
		}
		memcpy(p, CONTEXT, sizeof(CONTEXT));
		p += sizeof(CONTEXT);
		cl_put_le(p, (uint64_t)g->license, 8);
		memcpy(p + 8, tensor, tl + 1);
		cl_put_le(p + 8 + tl + 1, block, 8);
		int r = cl_hmac_sha256(g->secret, CL_MARK_SECRET_LEN, msg, n, g->bits);
		free(msg);
		if (r < 0) {
			g->tensor = NULL;
			return 0;
		}
		g->tensor = tensor;
		g->block = block;
	}
	return (g->bits[(index % 256) / 8] >> (index % 8)) & 1 ? 1 : -1;
}

double cl_mark_delta(double beta)
{
	return beta == 0 ? CL_MARK_DELTA : CL_MARK_DELTA_PARTIAL;
}

/*
 * Element P (of dtype ID) moved by code C: to w * (1 + delta * c) rounded to
 * the dtype, and at least to the next value in that direction, so that a
 * dtype coarser than delta (BF16) still carries the mark.
 */
static void move(int id, uint8_t *p, int c, double delta)
{
	unsigned size = cl_dtype_get(id)->size;
	double w = cl_dtype_value(id, p);
	uint64_t bits;

	if (!isfinite(w) || w == 0)
		return;
	cl_dtype_store(id, w + delta * fabs(w) * c, p);
	if (cl_dtype_value(id, p) != w)
		return;
	/* one step of the magnitude bits: up when C points away from zero */
	bits = cl_le(p, size) + ((w > 0) == (c > 0) ? 1 : (uint64_t)-1);
	uint8_t q[8];
	cl_put_le(q, bits, size);
	if (isfinite(cl_dtype_value(id, q)))
		memcpy(p, q, size);
}

/* Key tensors by (shard, file offset), for finding the tensor of an entry. */
static int by_place(const void *a, const void *b, void *key)
{
	const struct cl_key *k = key;
	const struct cl_key_tensor *x = &k->t[*(const size_t *)a], *y = &k->t[*(const size_t *)b];

	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return x->file_off < y->file_off ? -1 : x->file_off > y->file_off;
}

/* The tensor (of the N in ORDER) that holds byte OFF of SHARD, or NULL. */
static const struct cl_key_tensor *tensor_at(const struct cl_key *k, const size_t *order, size_t n, uint32_t shard,
					     uint64_t off)
{
	size_t lo = 0, hi = n;

	while (lo < hi) { /* the first tensor placed after (shard, off) */
		size_t mid = lo + (hi - lo) / 2;
		const struct cl_key_tensor *t = &k->t[order[mid]];
		if (t->shard < shard || (t->shard == shard && t->file_off <= off))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const struct cl_key_tensor *t = &k->t[order[lo - 1]];
	return t->shard == shard && off < t->file_off + (t->end - t->begin) ? t : NULL;
}

int cl_mark_entries(const struct cl_key *k, const uint8_t *secret, int64_t license, double beta,
		    const struct cl_volume_entry *in, size_t n, struct cl_volume_entry *out, uint8_t *bytes)
{
	double delta = cl_mark_delta(beta);
	struct cl_mark_code g = {secret, license, NULL, 0, {0}};
	size_t *order = malloc((k->nt ? k->nt : 1) * sizeof(*order));
	int r = 0;

	if (!order)
		return cl_fail(CL_ENOMEM, "out of memory");
	for (size_t i = 0; i < k->nt; i++)
		order[i] = i;
	qsort_r(order, k->nt, sizeof(*order), by_place, (void *)k);
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct cl_key_tensor *t = tensor_at(k, order, k->nt, in[i].shard, in[i].off);
		const struct cl_dtype *d = t ? cl_dtype_get(t->dtype) : NULL;
		out[i] = in[i];
		out[i].bytes = bytes;
		memcpy(bytes, in[i].bytes, in[i].len);
		if (!d || !d->lockable || (in[i].off - t->file_off) % d->size || in[i].len % d->size ||
		    in[i].off + in[i].len > t->file_off + (t->end - t->begin)) {
			r = cl_fail(CL_EKEY, "a span at offset %llu of shard %u is not whole elements of one tensor",
				    (unsigned long long)in[i].off, in[i].shard);
			break;
		}
		uint64_t first = (in[i].off - t->file_off) / d->size;
		for (uint32_t j = 0; j < in[i].len / d->size; j++) {
			int c = cl_mark_code(&g, t->name, first + j);
			if (!c) {
				r = CL_ESYS;
				break;
			}
			move(t->dtype, bytes + (size_t)j * d->size, c, delta);
		}
		bytes += in[i].len;
	}
	free(order);
	return r;
}

struct trace_ctx {
	const struct cl_key *k;
	const struct cl_tensor **sus; /* the suspect's tensor for each key tensor */
	struct cl_mark_code *g;
	struct cl_mark_score *s;
	size_t n;
};

static int trace_unit(void *arg, uint32_t group, uint64_t unit, const uint8_t *bytes)
{
	struct trace_ctx *x = arg;
	const struct cl_key_group *g = &x->k->g[group];

	for (unsigned j = 0; j < g->nm; j++) {
		const struct cl_key_tensor *t = &x->k->t[g->m[j].tensor];
		const struct cl_tensor *st = x->sus[g->m[j].tensor];
		unsigned es = cl_dtype_get(t->dtype)->size, ses = cl_dtype_get(st->dtype)->size;
		uint64_t count = g->m[j].stride / es, first = unit * count;
		for (uint64_t e = 0; e < count; e++, bytes += es) {
			double w = cl_dtype_value(t->dtype, bytes), s = cl_dtype_value(st->dtype, st->data + (first + e) * ses);
			/*
			 * Compare with the original as the suspect's dtype holds it: a
			 * cast then leaves an unmarked value exactly in place (no
			 * evidence) instead of adding its rounding error as noise.
			 */
			uint8_t wb[8];
			cl_dtype_store(st->dtype, w, wb);
			double a = (s - cl_dtype_value(st->dtype, wb)) / (CL_MARK_DELTA * fabs(w));
			/* Far from the original (a locked or retrained value) or no number: no evidence. */
			if (!isfinite(a) || fabs(s - w) > fabs(w) / 2)
				continue;
			a = fmax(-CL_MARK_CLIP, fmin(CL_MARK_CLIP, a));
			for (size_t i = 0; i < x->n; i++) {
				int c = cl_mark_code(&x->g[i], t->name, first + e);
				if (!c)
					return CL_ESYS;
				x->s[i].sca += c * a;
				x->s[i].saa += a * a;
				x->s[i].used++;
			}
		}
	}
	return 0;
}

int cl_mark_trace(const struct cl_key *k, const struct cl_model *suspect, const uint8_t *secret,
		  const int64_t *licenses, size_t n, struct cl_mark_score *scores)
{
	struct trace_ctx x = {k, calloc(k->nt ? k->nt : 1, sizeof(*x.sus)), calloc(n ? n : 1, sizeof(*x.g)), scores, n};
	int r = 0;

	if (!x.sus || !x.g) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < k->nt; i++) {
		const struct cl_key_tensor *t = &k->t[i];
		long f = cl_model_find(suspect, t->name);
		const struct cl_tensor *st = f < 0 ? NULL : &suspect->t[f];
		if (!st || st->ndim != t->ndim || memcmp(st->shape, t->shape, t->ndim * sizeof(t->shape[0])) ||
		    !cl_dtype_get(st->dtype)->lockable) {
			r = cl_fail(CL_EMISMATCH, "%s has no float tensor '%s' of the key's shape", suspect->path, t->name);
			goto out;
		}
		x.sus[i] = st;
	}
	for (size_t i = 0; i < n; i++) {
		x.g[i] = (struct cl_mark_code){secret, licenses[i], NULL, 0, {0}};
		memset(&scores[i], 0, sizeof(scores[i]));
	}
	r = cl_key_foreach_restore(k, 0, trace_unit, &x);
out:
	free(x.sus);
	free(x.g);
	return r;
}

double cl_mark_z(const struct cl_mark_score *s)
{
	return s->saa > 0 ? s->sca / sqrt(s->saa) : 0;
}

double cl_mark_fp(double z, size_t n)
{
	double p = z > 0 ? (double)n * exp(-z * z / 2) : 1;

	return p < 1 ? p : 1;
}
