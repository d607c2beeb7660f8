/*
 * fuzz_index.c - libFuzzer target for the sharded model index
 * (*.safetensors.index.json, lib/model.c).
 *
 * The input is the index text.  It is written as m.safetensors.index.json
 * into a private directory that also holds a fixed set of shards, and the
 * model is opened with cl_model_open(), as lock, unlock and inspect do:
 *
 *   a.safetensors     tensors a.w, a.b        b.safetensors   tensor b.w
 *   c.safetensors     tensor a.w again        e.safetensors   no tensor
 *   bad.safetensors   not a safetensors file  l.safetensors   a symlink to a
 *
 * An accepted index must give a consistent model: its shards are the
 * distinct weight_map values, in strictly increasing name order, each a
 * plain file name in the index's directory; every tensor of every shard is
 * in weight_map under its own shard and every weight_map name is a tensor;
 * names are unique and cl_model_find() finds each; tensors are in file
 * order; the byte count is the sum of the files.  A refusal says why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corelocker.h"
#include "error.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_index: input breaks '%s' (%s:%d)\n", #cond, \
				__FILE__, __LINE__);                                       \
			abort();                                                           \
		}                                                                          \
	} while (0)

static char dir[4096], index_path[4200];

static void put(const char *name, const char *header, size_t data_len)
{
	char path[4200];
	size_t h = strlen(header);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK((f = fopen(path, "wb")) != NULL);
	for (unsigned i = 0; i < 8; i++)
		fputc((int)((uint64_t)h >> 8 * i & 0xff), f);
	fputs(header, f);
	for (size_t i = 0; i < data_len; i++)
		fputc((int)(i * 37 & 0xff), f);
	CHECK(fclose(f) == 0);
}

static void cleanup(void)
{
	static const char *names[] = {"a", "b", "c", "e", "bad", "l"};
	char path[4200];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.safetensors", dir, names[i]);
		unlink(path);
	}
	unlink(index_path);
	rmdir(dir);
}

static void init(void)
{
	const char *tmp = getenv("TMPDIR");
	char link[4200];

	snprintf(dir, sizeof(dir), "%s/clfuzzidx.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(index_path, sizeof(index_path), "%s/m.safetensors.index.json", dir);
	put("a.safetensors",
	    "{\"a.w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	    "\"a.b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
	    12);
	put("b.safetensors", "{\"b.w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", 8);
	put("c.safetensors", "{\"a.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
	put("e.safetensors", "{\"__metadata__\":{\"format\":\"pt\"}}", 0);
	put("bad.safetensors", "not json", 0);
	snprintf(link, sizeof(link), "%s/l.safetensors", dir);
	CHECK(symlink("a.safetensors", link) == 0);
	atexit(cleanup);
}

static void check_model(const struct cl_model *m)
{
	json_t *wmap = json_object_get(m->index_json, "weight_map"), *f;
	const char *key;
	size_t nt = 0, distinct = 0;
	uint64_t bytes = 0;

	CHECK(m->sharded && m->nshards >= 1 && json_is_object(wmap));
	/* the shards: the distinct weight_map values, sorted, plain names */
	json_object_foreach(wmap, key, f) {
		uint32_t i = 0;
		CHECK(json_is_string(f));
		while (i < m->nshards && strcmp(m->shards[i].name, json_string_value(f)))
			i++;
		CHECK(i < m->nshards);
	}
	for (uint32_t i = 0; i < m->nshards; i++) {
		const struct cl_shard *s = &m->shards[i];
		size_t dl = strlen(dir);
		int used = 0;
		CHECK(*s->name && !strchr(s->name, '/') && strcmp(s->name, ".") && strcmp(s->name, ".."));
		CHECK(i == 0 || strcmp(m->shards[i - 1].name, s->name) < 0);
		CHECK(!strncmp(s->path, dir, dl) && s->path[dl] == '/' && !strcmp(s->path + dl + 1, s->name));
		json_object_foreach(wmap, key, f)
			used |= !strcmp(json_string_value(f), s->name);
		CHECK(used);
		distinct++;
		nt += s->st.n;
		bytes += s->map.size;
	}
	CHECK(distinct == m->nshards && nt == m->nt && bytes == m->bytes);
	/* every tensor is mapped to its own shard, once, in file order */
	for (size_t i = 0; i < m->nt; i++) {
		const struct cl_tensor *t = &m->t[i];
		CHECK(t->shard < m->nshards);
		f = json_object_get(wmap, t->name);
		CHECK(json_is_string(f) && !strcmp(json_string_value(f), m->shards[t->shard].name));
		CHECK(cl_model_find(m, t->name) == (long)i);
		CHECK(i == 0 || t[-1].shard < t->shard || (t[-1].shard == t->shard && t[-1].begin <= t->begin));
	}
	/* and every mapped name is one of them */
	json_object_foreach(wmap, key, f) {
		long i = cl_model_find(m, key);
		CHECK(i >= 0 && !strcmp(m->t[i].name, key));
		CHECK(!strcmp(m->shards[m->t[i].shard].name, json_string_value(f)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct cl_model *m = NULL;
	FILE *f;
	int r;

	if (!inited) {
		init();
		inited = 1;
	}
	CHECK((f = fopen(index_path, "wb")) != NULL);
	CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0);
	r = cl_model_open(index_path, &m);
	if (r == 0) {
		check_model(m);
		cl_model_free(m);
	} else {
		CHECK(r < 0 && *cl_errmsg());
	}
	return 0;
}
