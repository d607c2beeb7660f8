/* describe.c - cl_describe: what inspect shows, as JSON. */
#include <stdlib.h>
#include <string.h>

#include "clkey.h"
#include "digest.h"
#include "dtype.h"
#include "error.h"
#include "fingerprint.h"
#include "mapfile.h"
#include "model.h"
#include "volume.h"

static json_t *hexj(const uint8_t *d)
{
	char hex[CL_SHA256_HEX];
	cl_hex(d, CL_SHA256_LEN, hex);
	return json_string(hex);
}

static json_t *shape_json(const uint64_t *shape, unsigned ndim)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < ndim; i++)
		json_array_append_new(a, json_integer((json_int_t)shape[i]));
	return a;
}

static int describe_model(const char *path, json_t **out)
{
	struct cl_model *m;
	json_t *o, *shards = json_array(), *tensors = json_array();
	uint8_t (*d)[CL_SHA256_LEN];
	const char **names;
	uint8_t index_sha[CL_SHA256_LEN], fp[CL_SHA256_LEN];
	int r = cl_model_open(path, &m);

	if (r < 0) {
		json_decref(shards);
		json_decref(tensors);
		return r;
	}
	d = calloc(m->nshards, CL_SHA256_LEN);
	names = calloc(m->nshards, sizeof(*names));
	for (uint32_t i = 0; d && names && i < m->nshards; i++) {
		const struct cl_shard *s = &m->shards[i];
		cl_sha256(s->map.data, (size_t)s->map.size, d[i]);
		names[i] = s->name;
		json_array_append_new(shards, json_pack("{s:s, s:I, s:I, s:o, s:O*}", "file", s->name, "size",
							(json_int_t)s->map.size, "header_len",
							(json_int_t)s->st.header_len, "sha256", hexj(d[i]),
							"metadata", s->st.metadata));
	}
	for (size_t i = 0; i < m->nt; i++) {
		const struct cl_tensor *t = &m->t[i];
		json_array_append_new(tensors, json_pack("{s:s, s:s, s:o, s:I, s:I, s:[I,I]}", "name", t->name,
							 "dtype", cl_dtype_get(t->dtype)->name, "shape",
							 shape_json(t->shape, t->ndim), "shard", (json_int_t)t->shard,
							 "bytes", (json_int_t)(t->end - t->begin), "data_offsets",
							 (json_int_t)t->begin, (json_int_t)t->end));
	}
	if (m->sharded)
		cl_sha256(m->index.data, (size_t)m->index.size, index_sha);
	if (d && names)
		cl_fingerprint(m->sharded ? index_sha : NULL, m->nshards, names,
			       (const uint8_t(*)[CL_SHA256_LEN])d, fp);
	o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:o, s:o, s:o}", "type", "safetensors", "path", path,
		      "sharded", m->sharded, "bytes", (json_int_t)m->bytes, "tensor_count", (json_int_t)m->nt,
		      "sha256", hexj(fp), "shards", shards, "tensors", tensors);
	free(d);
	free(names);
	cl_model_free(m);
	if (!o)
		return cl_fail(CL_ENOMEM, "out of memory");
	*out = o;
	return 0;
}

static int describe_key(const char *path, json_t **out)
{
	struct cl_key *k;
	json_t *groups = json_array(), *o;
	int r = cl_key_load(path, &k);

	if (r < 0) {
		json_decref(groups);
		return r;
	}
	for (size_t i = 0; i < k->ng; i++) {
		const struct cl_key_group *g = &k->g[i];
		json_t *t = json_array();
		for (unsigned j = 0; j < g->nm; j++)
			json_array_append_new(t, json_string(k->t[g->m[j].tensor].name));
		json_array_append_new(groups, json_pack("{s:o, s:s, s:I, s:I, s:I, s:i, s:I}", "tensors", t, "dtype",
							cl_dtype_get(k->t[g->m[0].tensor].dtype)->name, "units",
							(json_int_t)g->units, "finite", (json_int_t)g->finite,
							"extracted", (json_int_t)g->count, "index_bytes",
							(int)g->index_bytes, "key_bytes",
							(json_int_t)(g->count * (g->index_bytes + g->unit_bytes))));
	}
	o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:f, s:o, s:o, s:b, s:I, s:I, s:I, s:I, s:o}", "type",
		      "clkey", "path", path, "version", (int)k->version, "unit", cl_unit_name(k->unit), "scope",
		      cl_scope_name(k->scope), "select", k->select == CL_SELECT_RANDOM ? "random" : "top",
		      "fill", cl_fill_name(k->fill), "alpha", k->alpha, "locked_sha256", hexj(k->locked), "original_sha256", hexj(k->original),
		      "sharded", k->sharded, "shards", (json_int_t)k->nshards, "units", (json_int_t)k->finite,
		      "extracted", (json_int_t)k->count, "bytes", (json_int_t)k->file_size, "groups", groups);
	cl_key_free(k);
	if (!o)
		return cl_fail(CL_ENOMEM, "out of memory");
	*out = o;
	return 0;
}

/* 1 when PATH starts with MAGIC. */
/* A key volume: its header as sent, plus sizes; the signature is not checked here. */
static int describe_volume(const char *path, json_t **out)
{
	struct cl_map m;
	struct cl_volume *v = NULL;
	json_t *o;
	int r = cl_map_open(path, &m);

	if (r < 0)
		return r;
	if ((r = cl_volume_parse(m.data, (size_t)m.size, &v)) < 0) {
		cl_map_close(&m);
		return r;
	}
	o = json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:s, s:O}", "type", "clvol", "path", path, "version",
		      CL_VOLUME_VERSION, "file_bytes", (json_int_t)m.size, "entries", (json_int_t)v->n, "bytes",
		      (json_int_t)v->bytes, "signature", "present, not verified (needs the server's public key)",
		      "header", v->header);
	cl_volume_free(v);
	cl_map_close(&m);
	if (!o)
		return cl_fail(CL_ENOMEM, "out of memory");
	*out = o;
	return 0;
}

static int has_magic(const char *path, const char *magic, size_t n)
{
	struct cl_map m;
	int yes;

	if (cl_map_open(path, &m) < 0)
		return 0; /* the parser that runs next reports why */
	yes = m.size >= n && memcmp(m.data, magic, n) == 0;
	cl_map_close(&m);
	return yes;
}

int cl_describe(const char *path, json_t **out)
{
	size_t len = strlen(path);

	/* a file named *.clkey is reported as a key, so a broken key gets the key's message */
	if (has_magic(path, CL_KEY_MAGIC, 8) || (len > 6 && !strcmp(path + len - 6, ".clkey")))
		return describe_key(path, out);
	if (has_magic(path, CL_VOLUME_MAGIC, 8))
		return describe_volume(path, out);
	return describe_model(path, out);
}

int cl_fuzz_safetensors(const uint8_t *buf, size_t len)
{
	struct cl_st st;
	int r = cl_st_parse(buf, len, 0, &st);
	if (r == 0)
		cl_st_free(&st);
	return r;
}

static int count_unit(void *ctx, uint32_t group, uint64_t unit, const uint8_t *bytes)
{
	(void)group, (void)unit, (void)bytes;
	++*(uint64_t *)ctx;
	return 0;
}

/* The checksum is recomputed first, so that fuzzing reaches the parser proper. */
int cl_fuzz_clkey(const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct cl_key *k;
	uint64_t n = 0;
	int r;

	if (!copy)
		return CL_ENOMEM;
	memcpy(copy, buf, len);
	if (len >= CL_SHA256_LEN)
		cl_sha256(copy, len - CL_SHA256_LEN, copy + len - CL_SHA256_LEN);
	r = cl_key_parse(copy, len, &k);
	if (r == 0) {
		for (int i = 0; i <= 4; i++) /* every tier cut walks the records */
			cl_key_foreach_restore(k, k->alpha * i / 4, count_unit, &n);
		cl_key_free(k);
	}
	free(copy);
	return r;
}
