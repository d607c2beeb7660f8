/* model.c - open single-file and sharded safetensors models. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jsonx.h"
#include "model.h"

#define INDEX_MAX (64u << 20)
/* Any .json is read as an index: one that is not says what a model is. */
#define NOT_INDEX                                                                                          \
	"not a sharded safetensors index (a model is a .safetensors file, or the *.safetensors.index.json "  \
	"of a sharded one)"

int cl_path_is_index(const char *path)
{
	size_t n = strlen(path);
	return n >= 5 && strcmp(path + n - 5, ".json") == 0;
}

static int by_name(const void *a, const void *b, void *model)
{
	const struct cl_model *m = model;
	return strcmp(m->t[*(const size_t *)a].name, m->t[*(const size_t *)b].name);
}

long cl_model_find(const struct cl_model *m, const char *name)
{
	size_t lo = 0, hi = m->nt;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(m->t[m->by_name[mid]].name, name);
		if (c == 0)
			return (long)m->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int open_shard(struct cl_shard *s, const char *path, const char *name, uint32_t idx)
{
	int r;

	if (!(s->path = strdup(path)) || !(s->name = strdup(name)))
		return cl_fail(CL_ENOMEM, "out of memory");
	if ((r = cl_map_open(path, &s->map)) < 0)
		return r;
	if ((r = cl_st_parse(s->map.data, s->map.size, idx, &s->st)) < 0)
		return cl_fail(r, "%s: %s", path, cl_errmsg());
	return 0;
}

static int shard_name_ok(const char *f)
{
	return *f && !strchr(f, '/') && strcmp(f, ".") && strcmp(f, "..") && strlen(f) < 256;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Shard file names from weight_map, sorted and unique. */
static int index_shards(struct cl_model *m, json_t *wmap, const char ***names, uint32_t *n)
{
	const char **v = calloc(json_object_size(wmap) + 1, sizeof(*v));
	const char *key;
	json_t *f;
	size_t k = 0, u = 0;

	if (!v)
		return cl_fail(CL_ENOMEM, "out of memory");
	json_object_foreach(wmap, key, f) {
		if (!json_is_string(f) || !shard_name_ok(json_string_value(f))) {
			free(v);
			return cl_fail(CL_EFORMAT, "%s: weight_map entry '%s' is not a plain shard file name",
				       m->path, key);
		}
		v[k++] = json_string_value(f);
	}
	qsort(v, k, sizeof(*v), cmp_str);
	for (size_t i = 0; i < k; i++)
		if (u == 0 || strcmp(v[u - 1], v[i]))
			v[u++] = v[i];
	*names = v;
	*n = (uint32_t)u;
	return 0;
}

static int open_index(struct cl_model *m)
{
	char why[200], *dir = NULL, *tmp = NULL;
	const char **names = NULL;
	json_t *wmap;
	int r;

	if ((r = cl_map_open(m->path, &m->index)) < 0)
		return r;
	if (m->index.size > INDEX_MAX)
		return cl_fail(CL_EFORMAT, "%s: index larger than %u bytes", m->path, INDEX_MAX);
	m->index_json = cl_json_parse((const char *)m->index.data, m->index.size, 3, why, sizeof(why));
	if (!m->index_json)
		return cl_fail(CL_EFORMAT, "%s: " NOT_INDEX ": %s", m->path, why);
	wmap = json_object_get(m->index_json, "weight_map");
	if (!json_is_object(m->index_json) || !json_is_object(wmap) || json_object_size(wmap) == 0)
		return cl_fail(CL_EFORMAT, "%s: " NOT_INDEX ": no weight_map object", m->path);
	if ((r = index_shards(m, wmap, &names, &m->nshards)) < 0)
		return r;
	m->shards = calloc(m->nshards, sizeof(*m->shards));
	if (!m->shards || !(tmp = strdup(m->path))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	dir = dirname(tmp);
	for (uint32_t i = 0; i < m->nshards; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((r = open_shard(&m->shards[i], path, names[i], i)) < 0)
			goto out;
	}
out:
	free(names);
	free(tmp);
	return r;
}

/* Every tensor of a shard is in weight_map under that shard, and vice versa. */
static int check_weight_map(const struct cl_model *m)
{
	json_t *wmap = json_object_get(m->index_json, "weight_map");
	const char *key;
	json_t *f;

	for (size_t i = 0; i < m->nt; i++) {
		const char *want = m->shards[m->t[i].shard].name;
		f = json_object_get(wmap, m->t[i].name);
		if (!f || strcmp(json_string_value(f), want))
			return cl_fail(CL_EFORMAT, "%s: tensor '%s' of shard %s is not mapped to it", m->path,
				       m->t[i].name, want);
	}
	json_object_foreach(wmap, key, f)
		if (cl_model_find(m, key) < 0)
			return cl_fail(CL_EFORMAT, "%s: weight_map names tensor '%s', which %s lacks", m->path,
				       key, json_string_value(f));
	return 0;
}

static int gather_tensors(struct cl_model *m)
{
	size_t n = 0;

	for (uint32_t s = 0; s < m->nshards; s++) {
		n += m->shards[s].st.n;
		m->bytes += m->shards[s].map.size;
	}
	m->t = calloc(n + 1, sizeof(*m->t));
	m->by_name = calloc(n + 1, sizeof(*m->by_name));
	if (!m->t || !m->by_name)
		return cl_fail(CL_ENOMEM, "out of memory");
	for (uint32_t s = 0; s < m->nshards; s++) {
		memcpy(m->t + m->nt, m->shards[s].st.t, m->shards[s].st.n * sizeof(*m->t));
		m->nt += m->shards[s].st.n;
	}
	for (size_t i = 0; i < n; i++)
		m->by_name[i] = i;
	qsort_r(m->by_name, n, sizeof(*m->by_name), by_name, m);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(m->t[m->by_name[i]].name, m->t[m->by_name[i - 1]].name))
			return cl_fail(CL_EFORMAT, "%s: tensor '%s' appears in two shards", m->path,
				       m->t[m->by_name[i]].name);
	return 0;
}

int cl_model_open(const char *path, struct cl_model **out)
{
	struct cl_model *m = calloc(1, sizeof(*m));
	int r;

	if (!m || !(m->path = strdup(path))) {
		free(m);
		return cl_fail(CL_ENOMEM, "out of memory");
	}
	if (cl_path_is_index(path)) {
		m->sharded = 1;
		r = open_index(m);
	} else {
		char *tmp = strdup(path);
		m->nshards = 1;
		m->shards = calloc(1, sizeof(*m->shards));
		r = (!tmp || !m->shards) ? cl_fail(CL_ENOMEM, "out of memory")
					 : open_shard(&m->shards[0], path, basename(tmp), 0);
		free(tmp);
	}
	if (r == 0)
		r = gather_tensors(m);
	if (r == 0 && m->sharded)
		r = check_weight_map(m);
	if (r < 0) {
		cl_model_free(m);
		return r;
	}
	*out = m;
	return 0;
}

void cl_model_free(struct cl_model *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; m->shards && i < m->nshards; i++) {
		cl_st_free(&m->shards[i].st);
		cl_map_close(&m->shards[i].map);
		free(m->shards[i].path);
		free(m->shards[i].name);
	}
	free(m->shards);
	free(m->t);
	free(m->by_name);
	json_decref(m->index_json);
	cl_map_close(&m->index);
	free(m->path);
	free(m);
}
