/* safetensors.c - the safetensors header: bounded parse, full validation. */
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "error.h"
#include "jsonx.h"
#include "safetensors.h"

/* root -> tensor entry -> shape: a valid header never nests deeper. */
#define HEADER_DEPTH 3

static int parse_shape(const char *name, json_t *shape, struct cl_tensor *t)
{
	size_t i;
	json_t *v;

	if (!json_is_array(shape))
		return cl_fail(CL_EFORMAT, "tensor '%s': shape is not an array", name);
	if (json_array_size(shape) > CL_MAX_NDIM)
		return cl_fail(CL_EFORMAT, "tensor '%s': %zu dimensions, at most %d allowed", name,
			       json_array_size(shape), CL_MAX_NDIM);
	t->ndim = (unsigned)json_array_size(shape);
	t->nelem = 1;
	json_array_foreach(shape, i, v) {
		if (cl_json_u64(v, &t->shape[i]) < 0)
			return cl_fail(CL_EFORMAT, "tensor '%s': shape[%zu] is not a non-negative integer",
				       name, i);
		if (__builtin_mul_overflow(t->nelem, t->shape[i], &t->nelem))
			return cl_fail(CL_EFORMAT, "tensor '%s': element count overflows", name);
	}
	return 0;
}

static int parse_entry(const char *name, json_t *e, uint64_t data_size, struct cl_tensor *t)
{
	json_t *dtype = json_object_get(e, "dtype"), *offs = json_object_get(e, "data_offsets");
	const char *key;
	json_t *v;
	uint64_t bytes;
	int r;

	if (!json_is_object(e))
		return cl_fail(CL_EFORMAT, "tensor '%s': entry is not an object", name);
	json_object_foreach(e, key, v)
		if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
			return cl_fail(CL_EFORMAT, "tensor '%s': unexpected field '%s'", name, key);
	if (!json_is_string(dtype))
		return cl_fail(CL_EFORMAT, "tensor '%s': dtype missing or not a string", name);
	t->name = name;
	t->dtype = cl_dtype_find(json_string_value(dtype));
	if (t->dtype < 0)
		return cl_fail(CL_EFORMAT, "tensor '%s': unknown dtype '%s'", name,
			       json_string_value(dtype));
	if ((r = parse_shape(name, json_object_get(e, "shape"), t)) < 0)
		return r;
	if (!json_is_array(offs) || json_array_size(offs) != 2 ||
	    cl_json_u64(json_array_get(offs, 0), &t->begin) < 0 ||
	    cl_json_u64(json_array_get(offs, 1), &t->end) < 0)
		return cl_fail(CL_EFORMAT, "tensor '%s': data_offsets is not a pair of non-negative integers",
			       name);
	if (t->begin > t->end)
		return cl_fail(CL_EFORMAT, "tensor '%s': data_offsets begin %llu > end %llu", name,
			       (unsigned long long)t->begin, (unsigned long long)t->end);
	if (t->end > data_size)
		return cl_fail(CL_EFORMAT, "tensor '%s': data_offsets end %llu beyond the data section (%llu bytes)",
			       name, (unsigned long long)t->end, (unsigned long long)data_size);
	if (__builtin_mul_overflow(t->nelem, (uint64_t)cl_dtype_get(t->dtype)->size, &bytes))
		return cl_fail(CL_EFORMAT, "tensor '%s': byte size overflows", name);
	if (bytes != t->end - t->begin)
		return cl_fail(CL_EFORMAT, "tensor '%s': %s x shape is %llu bytes but data_offsets span %llu",
			       name, cl_dtype_get(t->dtype)->name, (unsigned long long)bytes,
			       (unsigned long long)(t->end - t->begin));
	return 0;
}

static int parse_metadata(json_t *meta)
{
	const char *key;
	json_t *v;

	if (!json_is_object(meta))
		return cl_fail(CL_EFORMAT, "__metadata__ is not an object");
	json_object_foreach(meta, key, v)
		if (!json_is_string(v))
			return cl_fail(CL_EFORMAT, "__metadata__ value of '%s' is not a string", key);
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	const struct cl_tensor *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* In offset order the tensors must cover [0, data_size) with no gap or overlap. */
static int check_tiling(const struct cl_tensor *t, size_t n, uint64_t data_size)
{
	uint64_t pos = 0;

	for (size_t i = 0; i < n; i++) {
		if (t[i].begin < pos)
			return cl_fail(CL_EFORMAT, "tensor '%s' overlaps the tensor before it (offset %llu < %llu)",
				       t[i].name, (unsigned long long)t[i].begin, (unsigned long long)pos);
		if (t[i].begin > pos)
			return cl_fail(CL_EFORMAT, "hole in the data section before tensor '%s' (bytes %llu..%llu unused)",
				       t[i].name, (unsigned long long)pos, (unsigned long long)t[i].begin);
		pos = t[i].end;
	}
	if (pos != data_size)
		return cl_fail(CL_EFORMAT, "%llu trailing bytes after the last tensor",
			       (unsigned long long)(data_size - pos));
	return 0;
}

#define NOT_ST "not a safetensors file (expected an 8-byte little-endian header length, then a JSON header)"

int cl_st_parse(const uint8_t *buf, uint64_t size, uint32_t shard, struct cl_st *out)
{
	struct cl_st st = {0};
	uint64_t hlen = 0, data_size;
	const char *name;
	json_t *v;
	char why[200];
	size_t i = 0;
	int r = 0;

	/* A file that fails these is most likely no safetensors file at all (a
	 * README, a .bin): say so first, then the detail. */
	if (size < 8)
		return cl_fail(CL_EFORMAT, NOT_ST ": file too short for a safetensors header (%llu bytes)",
			       (unsigned long long)size);
	for (int b = 7; b >= 0; b--)
		hlen = hlen << 8 | buf[b];
	if (hlen > CL_MAX_HEADER)
		return cl_fail(CL_EFORMAT, NOT_ST ": header length %llu exceeds the %u-byte limit",
			       (unsigned long long)hlen, CL_MAX_HEADER);
	if (hlen > size - 8)
		return cl_fail(CL_EFORMAT,
			       "header length %llu runs past the end of the file (%llu bytes): truncated, or " NOT_ST,
			       (unsigned long long)hlen, (unsigned long long)size);
	if (hlen < 2 || buf[8] != '{')
		return cl_fail(CL_EFORMAT, NOT_ST ": header is not a JSON object");
	data_size = size - 8 - hlen;
	st.header_len = hlen;
	st.header = cl_json_parse((const char *)buf + 8, hlen, HEADER_DEPTH, why, sizeof(why));
	if (!st.header)
		return cl_fail(CL_EFORMAT, "header: %s", why);
	st.t = calloc(json_object_size(st.header) + 1, sizeof(*st.t));
	if (!st.t) {
		r = cl_fail(CL_ENOMEM, "header: out of memory");
		goto out;
	}
	json_object_foreach(st.header, name, v) {
		if (strcmp(name, "__metadata__") == 0) {
			if ((r = parse_metadata(v)) < 0)
				goto out;
			st.metadata = v;
			continue;
		}
		if ((r = parse_entry(name, v, data_size, &st.t[i])) < 0)
			goto out;
		st.t[i].shard = shard;
		i++;
	}
	st.n = i;
	qsort(st.t, st.n, sizeof(*st.t), by_offset);
	if ((r = check_tiling(st.t, st.n, data_size)) < 0)
		goto out;
	for (i = 0; i < st.n; i++) {
		st.t[i].file_off = 8 + hlen + st.t[i].begin;
		st.t[i].data = buf + st.t[i].file_off;
	}
	*out = st;
	return 0;
out:
	cl_st_free(&st);
	return r;
}

void cl_st_free(struct cl_st *st)
{
	if (!st)
		return;
	free(st->t);
	json_decref(st->header);
	memset(st, 0, sizeof(*st));
}
