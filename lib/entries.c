/* entries.c - a volume's entries from a table or from packed bytes, checked once. */
#include <stdlib.h>

#include "cursor.h"
#include "entries.h"
#include "error.h"

/* The version 3 head of E after PREV (NULL: first), counted for the volume's size. */
static uint64_t head3(const struct cl_volume_entry *prev, const struct cl_volume_entry *e)
{
	uint8_t scratch[CL_VOLUME_HEAD_MAX];

	return cl_volume_head(3, prev, e, scratch);
}

int cl_entries_table(struct cl_entries *src, const struct cl_volume_entry *e, size_t n)
{
	struct cl_entries s = {e, NULL, 0, n, 0, 0};
	int r;

	if ((r = cl_volume_entries_check(e, n, &s.bytes)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		s.heads3 += head3(i ? &e[i - 1] : NULL, &e[i]);
	*src = s;
	return 0;
}

int cl_entries_packed(struct cl_entries *src, const uint8_t *p, size_t len)
{
	struct cl_cursor c = {p, len, 0};
	struct cl_entries s = {NULL, p, len, 0, 0, 0};
	struct cl_volume_entry prev = {0}, e = {0};

	while (c.left) {
		e.shard = (uint32_t)cl_cur_uint(&c, 4);
		e.off = cl_cur_uint(&c, 8);
		e.len = (uint32_t)cl_cur_uint(&c, 4);
		e.bytes = cl_cur_take(&c, e.len);
		if (c.bad)
			return cl_fail(CL_EFORMAT, "packed entry %zu runs past the end (%zu bytes)", s.n,
				       len);
		if (!e.len || e.off > UINT64_MAX - e.len) /* an agent refuses an empty entry too */
			return cl_fail(CL_EFORMAT, "packed entry %zu is empty or ends past 2^64", s.n);
		if (s.n && !cl_volume_entry_follows(&prev, &e))
			return cl_fail(CL_EFORMAT, "packed entries are not sorted or overlap (entry %zu)",
				       s.n);
		s.heads3 += head3(s.n ? &prev : NULL, &e);
		s.bytes += e.len;
		s.n++;
		prev = e;
	}
	*src = s;
	return 0;
}

void cl_entries_begin(const struct cl_entries *src, struct cl_entries_iter *it)
{
	*it = (struct cl_entries_iter){src, 0, src->packed};
}

int cl_entries_next(struct cl_entries_iter *it, struct cl_volume_entry *e)
{
	if (it->i >= it->src->n)
		return 0;
	if (it->src->e) {
		*e = it->src->e[it->i++];
		return 1;
	}
	/* checked by cl_entries_packed(): every head and its bytes are there */
	e->shard = (uint32_t)cl_le(it->p, 4);
	e->off = cl_le(it->p + 4, 8);
	e->len = (uint32_t)cl_le(it->p + 12, 4);
	e->bytes = it->p + CL_VOLUME_ENTRY_HEAD;
	it->p += CL_VOLUME_ENTRY_HEAD + e->len;
	it->i++;
	return 1;
}

int cl_entries_to_table(const struct cl_entries *src, struct cl_volume_entry **out)
{
	struct cl_entries_iter it;
	struct cl_volume_entry *t;
	size_t i = 0;

	if (src->n > SIZE_MAX / sizeof(*t) || !(t = malloc((src->n ? src->n : 1) * sizeof(*t))))
		return cl_fail(CL_ENOMEM, "out of memory for %zu entries", src->n);
	cl_entries_begin(src, &it);
	while (cl_entries_next(&it, &t[i]))
		i++;
	*out = t;
	return 0;
}
