/* clkey.c - .clkey writing and bounded, fully validating parsing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clkey.h"
#include "cursor.h"
#include "dtype.h"
#include "error.h"
#include "jsonx.h"

#define KEY_DEPTH 5 /* root -> groups -> group -> members -> pair */
#define MAX_UNITS (1ull << 40)

/*
 * Version 3: the fewest bytes that hold every index of the group (units - 1),
 * so 1 byte up to 2^8 units, 2 up to 2^16, and so on; MAX_UNITS caps it at 5.
 * For element units of an F32 tensor the index was half the record.
 * Version 2 (still read): 4 bytes, or 8 past 2^32 units.
 */
unsigned cl_key_index_bytes(uint32_t version, uint64_t units)
{
	unsigned n = 1;

	if (version == 2)
		return units <= 0xffffffffull ? 4 : 8;
	while (n < 8 && units > 1ull << 8 * n)
		n++;
	return n;
}

int cl_key_write_header(struct cl_out *o, json_t *header)
{
	char *text = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER);
	uint8_t pre[CL_KEY_PREFIX];
	int r;

	if (!text)
		return cl_fail(CL_ENOMEM, "out of memory");
	memcpy(pre, CL_KEY_MAGIC, 8);
	cl_put_le(pre + 8, CL_KEY_VERSION, 4);
	cl_put_le(pre + 12, strlen(text), 4);
	r = cl_out_write(o, pre, sizeof(pre));
	if (r == 0)
		r = cl_out_write(o, text, strlen(text));
	free(text);
	return r;
}

int cl_key_write_record(struct cl_out *o, unsigned index_bytes, uint64_t unit)
{
	uint8_t b[8];

	cl_put_le(b, unit, index_bytes);
	return cl_out_write(o, b, index_bytes);
}

int cl_key_write_trailer(struct cl_out *o)
{
	uint8_t d[CL_SHA256_LEN];

	cl_out_digest(o, d);
	return cl_out_write(o, d, sizeof(d));
}

/* ---- parsing ---- */

#define bad(fmt, what) cl_fail(CL_EKEY, fmt, what)

static int get_u64(json_t *obj, const char *name, uint64_t *out)
{
	if (cl_json_u64(json_object_get(obj, name), out) < 0)
		return bad("key header: '%s' missing or not a non-negative integer", name);
	return 0;
}

static int get_str(json_t *obj, const char *name, const char **out)
{
	json_t *v = json_object_get(obj, name);
	if (!json_is_string(v))
		return bad("key header: '%s' missing or not a string", name);
	*out = json_string_value(v);
	return 0;
}

static int get_digest(json_t *obj, const char *name, uint8_t out[CL_SHA256_LEN])
{
	const char *s = NULL;
	int r = get_str(obj, name, &s);
	if (r == 0 && cl_unhex(s, out, CL_SHA256_LEN) < 0)
		return bad("key header: '%s' is not a SHA-256 in lower-case hex", name);
	return r;
}

static int parse_shards(struct cl_key *k, json_t *arr)
{
	size_t i;
	json_t *s;
	int r;

	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 65535)
		return bad("key header: %s must be an array of 1 to 65535 entries", "shards");
	k->nshards = (uint32_t)json_array_size(arr);
	if (!(k->shards = calloc(k->nshards, sizeof(*k->shards))))
		return cl_fail(CL_ENOMEM, "out of memory");
	json_array_foreach(arr, i, s) {
		struct cl_key_shard *d = &k->shards[i];
		if ((r = get_str(s, "file", &d->file)) < 0 || (r = get_u64(s, "header_len", &d->header_len)) < 0 ||
		    (r = get_u64(s, "size", &d->size)) < 0 || (r = get_digest(s, "locked_sha256", d->locked)) < 0 ||
		    (r = get_digest(s, "original_sha256", d->original)) < 0)
			return r;
		if (!*d->file || strchr(d->file, '/') || !strcmp(d->file, ".") || !strcmp(d->file, ".."))
			return cl_fail(CL_EKEY, "key header: shard %zu: 'file' is not a plain file name", i);
		if (d->header_len > CL_MAX_HEADER)
			return cl_fail(CL_EKEY, "key header: shard %zu: 'header_len' %llu exceeds the %u-byte limit", i,
				       (unsigned long long)d->header_len, CL_MAX_HEADER);
		if (d->size < 8 + d->header_len)
			return cl_fail(CL_EKEY, "key header: shard %zu: 'size' %llu cannot hold a %llu-byte header", i,
				       (unsigned long long)d->size, (unsigned long long)d->header_len);
	}
	return 0;
}

static int parse_tensor(struct cl_key *k, size_t i, json_t *e)
{
	struct cl_key_tensor *t = &k->t[i];
	json_t *shape = json_object_get(e, "shape"), *offs = json_object_get(e, "data_offsets"), *v;
	const char *dtype = "";
	uint64_t nelem = 1, bytes, shard, j;
	int r;

	if ((r = get_str(e, "name", &t->name)) < 0 || (r = get_str(e, "dtype", &dtype)) < 0 ||
	    (r = get_u64(e, "shard", &shard)) < 0)
		return r;
	if ((t->dtype = cl_dtype_find(dtype)) < 0 || !cl_dtype_get(t->dtype)->lockable)
		return cl_fail(CL_EKEY, "key header: tensor '%s' has dtype '%s', which is not lockable", t->name, dtype);
	if (shard >= k->nshards)
		return cl_fail(CL_EKEY, "key header: tensor '%s' names shard %llu of %u", t->name,
			       (unsigned long long)shard, k->nshards);
	t->shard = (uint32_t)shard;
	if (!json_is_array(shape) || json_array_size(shape) > CL_MAX_NDIM)
		return cl_fail(CL_EKEY, "key header: tensor '%s' has an invalid shape", t->name);
	t->ndim = (unsigned)json_array_size(shape);
	json_array_foreach(shape, j, v)
		if (cl_json_u64(v, &t->shape[j]) < 0 || __builtin_mul_overflow(nelem, t->shape[j], &nelem))
			return cl_fail(CL_EKEY, "key header: tensor '%s' has an invalid shape", t->name);
	if (!json_is_array(offs) || json_array_size(offs) != 2 || cl_json_u64(json_array_get(offs, 0), &t->begin) < 0 ||
	    cl_json_u64(json_array_get(offs, 1), &t->end) < 0 || t->begin > t->end)
		return cl_fail(CL_EKEY, "key header: tensor '%s' has invalid data_offsets", t->name);
	const struct cl_key_shard *s = &k->shards[t->shard];
	if (__builtin_mul_overflow(nelem, (uint64_t)cl_dtype_get(t->dtype)->size, &bytes) ||
	    bytes != t->end - t->begin || t->end > s->size - 8 - s->header_len)
		return cl_fail(CL_EKEY, "key header: tensor '%s' does not fit its shape or shard", t->name);
	t->file_off = 8 + s->header_len + t->begin;
	return 0;
}

static int parse_group(struct cl_key *k, size_t i, json_t *e, char *used)
{
	struct cl_key_group *g = &k->g[i];
	json_t *mem = json_object_get(e, "members");
	uint64_t ib;
	int r;

	if ((r = get_u64(e, "units", &g->units)) < 0 || (r = get_u64(e, "finite", &g->finite)) < 0 ||
	    (r = get_u64(e, "count", &g->count)) < 0 || (r = get_u64(e, "index_bytes", &ib)) < 0)
		return r;
	if (!json_is_array(mem) || json_array_size(mem) < 1 || json_array_size(mem) > 2)
		return cl_fail(CL_EKEY, "key header: group %zu must have 1 or 2 members", i);
	if (g->units == 0 || g->units >= MAX_UNITS)
		return cl_fail(CL_EKEY, "key header: group %zu: 'units' must be in [1, 2^40)", i);
	if (g->finite > g->units)
		return cl_fail(CL_EKEY, "key header: group %zu: 'finite' exceeds 'units'", i);
	if (g->count > g->finite)
		return cl_fail(CL_EKEY, "key header: group %zu: 'count' exceeds 'finite'", i);
	if (ib != cl_key_index_bytes(k->version, g->units))
		return cl_fail(CL_EKEY,
			       "key header: group %zu: 'index_bytes' must be %u for %llu units (version %u)", i,
			       cl_key_index_bytes(k->version, g->units), (unsigned long long)g->units, k->version);
	g->index_bytes = (unsigned)ib;
	g->scale = 1;
	if (k->scope == CL_SCOPE_GLOBAL_NORM) {
		json_t *sc = json_object_get(e, "scale");
		if (!json_is_real(sc) || !(json_real_value(sc) > 0) || !isfinite(json_real_value(sc)))
			return cl_fail(CL_EKEY, "key header: group %zu: 'scale' must be a positive number", i);
		g->scale = json_real_value(sc);
	}
	g->nm = (unsigned)json_array_size(mem);
	for (unsigned j = 0; j < g->nm; j++) {
		json_t *pair = json_array_get(mem, j);
		uint64_t t, stride, bytes;
		if (!json_is_array(pair) || json_array_size(pair) != 2 || cl_json_u64(json_array_get(pair, 0), &t) < 0 ||
		    cl_json_u64(json_array_get(pair, 1), &stride) < 0 || stride == 0)
			return cl_fail(CL_EKEY, "key header: group %zu member %u is not a [tensor, stride > 0] pair", i, j);
		if (t >= k->nt)
			return cl_fail(CL_EKEY, "key header: group %zu member %u names tensor %llu of %zu", i, j,
				       (unsigned long long)t, k->nt);
		if (used[t])
			return cl_fail(CL_EKEY, "key header: group %zu member %u reuses tensor '%s'", i, j, k->t[t].name);
		used[t] = 1;
		if (__builtin_mul_overflow(stride, g->units, &bytes) || bytes != k->t[t].end - k->t[t].begin)
			return cl_fail(CL_EKEY, "key header: group %zu: units x stride does not match tensor '%s'", i,
				       k->t[t].name);
		g->m[j].tensor = (uint32_t)t;
		g->m[j].stride = stride;
		g->unit_bytes += stride;
	}
	return 0;
}

static int parse_header(struct cl_key *k)
{
	json_t *h = k->header, *arr, *v;
	const char *unit = "", *scope = "", *select = "";
	uint64_t sum_finite = 0, sum_count = 0;
	char *used = NULL;
	size_t i;
	int r;

	if (!json_is_object(h))
		return bad("key header: %s", "not a JSON object");
	if ((r = get_str(h, "unit", &unit)) < 0 || (r = get_str(h, "scope", &scope)) < 0 ||
	    (r = get_str(h, "select", &select)) < 0 || (r = get_u64(h, "seed", &k->seed)) < 0 ||
	    (r = get_digest(h, "locked_sha256", k->locked)) < 0 ||
	    (r = get_digest(h, "original_sha256", k->original)) < 0 || (r = get_u64(h, "finite", &k->finite)) < 0 ||
	    (r = get_u64(h, "count", &k->count)) < 0)
		return r;
	if ((k->unit = cl_unit_parse(unit)) < 0)
		return bad("key header: unknown unit '%s'", unit);
	if ((k->scope = cl_scope_parse(scope)) < 0)
		return bad("key header: unknown scope '%s'", scope);
	if (strcmp(select, "top") && strcmp(select, "random"))
		return bad("key header: unknown select '%s'", select);
	k->select = strcmp(select, "top") ? CL_SELECT_RANDOM : CL_SELECT_TOP;
	v = json_object_get(h, "fill"); /* keys before fills had none: zero */
	if (v && (!json_is_string(v) || (k->fill = cl_fill_parse(json_string_value(v))) < 0))
		return bad("key header: %s is not a known fill", "fill");
	if (k->fill != CL_FILL_ZERO && (r = get_digest(h, "fill_seed", k->fill_seed)) < 0)
		return r;
	v = json_object_get(h, "alpha");
	if (!json_is_number(v) || !(json_number_value(v) > 0) || json_number_value(v) > 0.5)
		return bad("key header: %s must be a number in (0, 0.5]", "alpha");
	k->alpha = json_number_value(v);
	k->sharded = json_is_true(json_object_get(h, "sharded"));
	if ((r = parse_shards(k, json_object_get(h, "shards"))) < 0)
		return r;
	arr = json_object_get(h, "tensors");
	if (!json_is_array(arr))
		return bad("key header: %s is not an array", "tensors");
	k->nt = json_array_size(arr);
	if (!(k->t = calloc(k->nt + 1, sizeof(*k->t))) || !(used = calloc(k->nt + 1, 1)))
		return cl_fail(CL_ENOMEM, "out of memory");
	json_array_foreach(arr, i, v)
		if ((r = parse_tensor(k, i, v)) < 0)
			goto out;
	arr = json_object_get(h, "groups");
	if (!json_is_array(arr)) {
		r = bad("key header: %s is not an array", "groups");
		goto out;
	}
	k->ng = json_array_size(arr);
	if (!(k->g = calloc(k->ng + 1, sizeof(*k->g)))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(arr, i, v) {
		if ((r = parse_group(k, i, v, used)) < 0)
			goto out;
		if (k->scope == CL_SCOPE_LAYER && k->g[i].count != cl_count(k->alpha, k->g[i].finite)) {
			r = cl_fail(CL_EKEY, "key header: group %zu holds %llu units, not round(alpha x %llu)", i,
				    (unsigned long long)k->g[i].count, (unsigned long long)k->g[i].finite);
			goto out;
		}
		sum_finite += k->g[i].finite;
		sum_count += k->g[i].count;
	}
	if (sum_count != k->count)
		r = bad("key header: 'count' differs from the sum of the groups' counts%s", "");
	else if (sum_finite > k->finite)
		r = bad("key header: 'finite' is below the sum of the groups' finite counts%s", "");
	else if (k->scope != CL_SCOPE_LAYER && k->count != cl_count(k->alpha, k->finite))
		r = bad("key header: 'count' is not round(alpha x finite)%s", "");
out:
	free(used);
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* A unit listed twice would restore one unit's bytes over another's. */
static int check_distinct(const struct cl_key_group *g, size_t gi)
{
	uint64_t rec = g->index_bytes + g->unit_bytes, *idx = malloc((g->count + 1) * sizeof(*idx));
	int r = 0;

	if (!idx)
		return cl_fail(CL_ENOMEM, "out of memory");
	for (uint64_t j = 0; j < g->count; j++)
		idx[j] = cl_le(g->records + j * rec, g->index_bytes);
	qsort(idx, (size_t)g->count, sizeof(*idx), cmp_u64);
	for (uint64_t j = 1; j < g->count && r == 0; j++)
		if (idx[j] == idx[j - 1])
			r = cl_fail(CL_EKEY, "key body: group %zu lists unit %llu twice", gi, (unsigned long long)idx[j]);
	free(idx);
	return r;
}

static int parse_body(struct cl_key *k)
{
	int r;

	struct cl_cursor c = {k->body, k->body_len, 0};

	for (size_t i = 0; i < k->ng; i++) {
		struct cl_key_group *g = &k->g[i];
		uint64_t rec = g->index_bytes + g->unit_bytes, len;
		if (__builtin_mul_overflow(rec, g->count, &len) || len > c.left)
			return cl_fail(CL_EKEY, "key body: group %zu runs past the end (truncated key?)", i);
		g->records = c.p;
		for (uint64_t j = 0; j < g->count; j++)
			if (cl_le(c.p + j * rec, g->index_bytes) >= g->units)
				return cl_fail(CL_EKEY, "key body: group %zu record %llu has unit index out of range", i,
					       (unsigned long long)j);
		cl_cur_take(&c, (size_t)len);
		if ((r = check_distinct(g, i)) < 0)
			return r;
	}
	if (c.left)
		return cl_fail(CL_EKEY, "key body: %zu unexpected byte(s) after the records", c.left);
	return 0;
}

int cl_key_parse(const uint8_t *buf, size_t len, struct cl_key **out)
{
	struct cl_key *k = calloc(1, sizeof(*k));
	uint8_t d[CL_SHA256_LEN];
	uint64_t hlen;
	char why[200];
	int r;

	if (!k)
		return cl_fail(CL_ENOMEM, "out of memory");
	if (len < CL_KEY_PREFIX + CL_SHA256_LEN || memcmp(buf, CL_KEY_MAGIC, 8) != 0) {
		r = cl_fail(CL_EKEY, "not a .clkey file (bad magic or too short)");
		goto fail;
	}
	k->version = (uint32_t)cl_le(buf + 8, 4);
	if (k->version < CL_KEY_VERSION_MIN || k->version > CL_KEY_VERSION) {
		r = cl_fail(CL_EKEY, "unsupported .clkey version %u", k->version);
		goto fail;
	}
	hlen = cl_le(buf + 12, 4);
	if (hlen > CL_KEY_MAX_HEADER || hlen > len - CL_KEY_PREFIX - CL_SHA256_LEN) {
		r = cl_fail(CL_EKEY, "key header length %llu runs past the end of the key (truncated key?)",
			    (unsigned long long)hlen);
		goto fail;
	}
	cl_sha256(buf, len - CL_SHA256_LEN, d);
	if (memcmp(d, buf + len - CL_SHA256_LEN, CL_SHA256_LEN) != 0) {
		r = cl_fail(CL_EINTEGRITY, "key checksum mismatch: the key is truncated or corrupted");
		goto fail;
	}
	k->header = cl_json_parse((const char *)buf + CL_KEY_PREFIX, hlen, KEY_DEPTH, why, sizeof(why));
	if (!k->header) {
		r = cl_fail(CL_EKEY, "key header: %s", why);
		goto fail;
	}
	if ((r = parse_header(k)) < 0)
		goto fail;
	k->body = buf + CL_KEY_PREFIX + hlen;
	k->body_len = len - CL_KEY_PREFIX - hlen - CL_SHA256_LEN;
	k->file_size = len;
	if ((r = parse_body(k)) < 0)
		goto fail;
	*out = k;
	return 0;
fail:
	cl_key_free(k);
	return r;
}

int cl_key_load(const char *path, struct cl_key **out)
{
	struct cl_map map;
	int r = cl_map_open(path, &map);

	if (r < 0)
		return r;
	cl_map_sequential(&map);
	if ((r = cl_key_parse(map.data ? map.data : (const uint8_t *)"", (size_t)map.size, out)) < 0) {
		cl_map_close(&map);
		return cl_fail(r, "%s: %s", path, cl_errmsg());
	}
	(*out)->map = map;
	return 0;
}

void cl_key_free(struct cl_key *k)
{
	if (!k)
		return;
	free(k->shards);
	free(k->t);
	free(k->g);
	json_decref(k->header);
	cl_map_close(&k->map);
	free(k);
}

/* The score a record had when it was ranked, recomputed from its bytes. */
static double record_score(const struct cl_key *k, const struct cl_key_group *g, const uint8_t *rec)
{
	const struct cl_key_tensor *t = &k->t[g->m[0].tensor];
	double s;

	if (k->unit == CL_UNIT_NEURON)
		s = cl_dtype_l1(t->dtype, rec + g->index_bytes, g->m[0].stride / cl_dtype_get(t->dtype)->size);
	else
		cl_dtype_abs(t->dtype, rec + g->index_bytes, 1, &s);
	return g->scale != 1 ? s * g->scale : s; /* exactly as cl_group_scores */
}

struct head {
	double score;
	uint32_t group;
	uint64_t unit, next; /* next record index in the group */
};

/* Heap order: the better-ranked head on top (higher score, lower group, lower unit). */
static int head_before(const struct head *a, const struct head *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	if (a->group != b->group)
		return a->group < b->group;
	return a->unit < b->unit;
}

static void sift_down(struct head *h, size_t n, size_t i)
{
	for (;;) {
		size_t best = i, l = 2 * i + 1, r = l + 1;
		if (l < n && head_before(&h[l], &h[best]))
			best = l;
		if (r < n && head_before(&h[r], &h[best]))
			best = r;
		if (best == i)
			return;
		struct head t = h[i];
		h[i] = h[best];
		h[best] = t;
		i = best;
	}
}

static void load_head(const struct cl_key *k, struct head *h)
{
	const struct cl_key_group *g = &k->g[h->group];
	const uint8_t *rec = g->records + h->next * (g->index_bytes + g->unit_bytes);
	h->score = record_score(k, g, rec);
	h->unit = cl_le(rec, g->index_bytes);
}

/*
 * Global scope: each group's records are in rank order, so the global ranking
 * is their merge by (score, group, unit).  Count how many of each group's
 * records fall in the top CUT; those stay extracted.
 */
static int global_kept(const struct cl_key *k, uint64_t cut, uint64_t *kept)
{
	struct head *h = calloc(k->ng + 1, sizeof(*h));
	size_t n = 0;

	if (!h)
		return cl_fail(CL_ENOMEM, "out of memory");
	for (size_t i = 0; i < k->ng; i++) {
		kept[i] = 0;
		if (k->g[i].count) {
			h[n] = (struct head){.group = (uint32_t)i};
			load_head(k, &h[n++]);
		}
	}
	for (size_t i = n / 2; i-- > 0;)
		sift_down(h, n, i);
	for (uint64_t taken = 0; taken < cut && n; taken++) {
		struct head *top = &h[0];
		kept[top->group]++;
		if (++top->next < k->g[top->group].count)
			load_head(k, top);
		else
			h[0] = h[--n];
		sift_down(h, n, 0);
	}
	free(h);
	return 0;
}

int cl_key_kept(const struct cl_key *k, double beta, uint64_t *kept)
{
	if (!(beta >= 0) || beta > k->alpha)
		return cl_fail(CL_EINVAL, "tier ratio %g is outside [0, alpha = %g]", beta, k->alpha);
	if (k->scope != CL_SCOPE_LAYER)
		return global_kept(k, cl_count(beta, k->finite), kept);
	for (size_t i = 0; i < k->ng; i++)
		kept[i] = cl_count(beta, k->g[i].finite);
	return 0;
}

int cl_key_foreach_restore(const struct cl_key *k, double beta, cl_key_restore_fn fn, void *ctx)
{
	uint64_t *kept;
	int r;

	if (!(kept = calloc(k->ng + 1, sizeof(*kept))))
		return cl_fail(CL_ENOMEM, "out of memory");
	r = cl_key_kept(k, beta, kept);
	for (size_t i = 0; i < k->ng && r == 0; i++) {
		const struct cl_key_group *g = &k->g[i];
		uint64_t rec = g->index_bytes + g->unit_bytes;
		for (uint64_t j = kept[i]; j < g->count && r == 0; j++) {
			const uint8_t *p = g->records + j * rec;
			r = fn(ctx, (uint32_t)i, cl_le(p, g->index_bytes), p + g->index_bytes);
		}
	}
	free(kept);
	return r;
}
