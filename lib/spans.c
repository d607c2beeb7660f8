/* spans.c - key units as byte spans of the model's files, in file order. */
#include <stdlib.h>

#include "error.h"
#include "spans.h"

int cl_spans_add(void *ctx, uint32_t group, uint64_t unit, const uint8_t *bytes)
{
	struct cl_spans *sp = ctx;
	const struct cl_key_group *g = &sp->k->g[group];

	sp->units++;
	for (unsigned j = 0; j < g->nm; j++) {
		const struct cl_key_tensor *t = &sp->k->t[g->m[j].tensor];
		if (sp->n == sp->cap) {
			size_t cap = sp->cap ? sp->cap * 2 : 1024;
			struct cl_unit_span *n = realloc(sp->s, cap * sizeof(*n));
			if (!n)
				return cl_fail(CL_ENOMEM, "out of memory");
			sp->s = n;
			sp->cap = cap;
		}
		sp->s[sp->n++] = (struct cl_unit_span){t->shard, t->file_off + unit * g->m[j].stride,
						       g->m[j].stride, bytes};
		bytes += g->m[j].stride;
	}
	return 0;
}

static int by_place(const void *a, const void *b)
{
	const struct cl_unit_span *x = a, *y = b;
	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

void cl_spans_sort(struct cl_spans *sp)
{
	if (sp->n)
		qsort(sp->s, sp->n, sizeof(*sp->s), by_place);
}

int cl_spans_next(void *ctx, struct cl_span *s)
{
	struct cl_spans *sp = ctx;

	if (sp->next >= sp->n || sp->s[sp->next].shard != sp->shard)
		return 0;
	s->off = sp->s[sp->next].off;
	s->len = sp->s[sp->next].len;
	s->src = sp->s[sp->next].src;
	sp->next++;
	return 1;
}

void cl_spans_free(struct cl_spans *sp)
{
	free(sp->s);
	sp->s = NULL;
	sp->n = sp->cap = sp->next = 0;
}
