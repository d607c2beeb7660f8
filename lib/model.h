/*
 * model.h - an opened model: one safetensors file, or a sharded model (a
 * *.index.json naming its shards).  Every file is mmapped read-only and fully
 * validated.  Tensors of all shards are in one array ordered by (shard, data
 * offset), which is also the "file order" the ranking rules use.
 */
#ifndef CL_MODEL_H
#define CL_MODEL_H

#include "mapfile.h"
#include "safetensors.h"

struct cl_shard {
	char *path;  /* as opened */
	char *name;  /* file name (the index's spelling for shards) */
	struct cl_map map;
	struct cl_st st;
};

struct cl_model {
	int sharded;
	char *path;
	struct cl_map index;   /* the index file (sharded only) */
	json_t *index_json;
	struct cl_shard *shards;
	uint32_t nshards;
	struct cl_tensor *t;   /* all tensors, file order */
	size_t nt;
	size_t *by_name;       /* indices into t, sorted by name */
	uint64_t bytes;        /* sum of all file sizes */
};

int cl_model_open(const char *path, struct cl_model **out);
void cl_model_free(struct cl_model *m);
/* Tensor index by name, or -1. */
long cl_model_find(const struct cl_model *m, const char *name);
/* 1 when PATH names a sharded index rather than a single file. */
int cl_path_is_index(const char *path);

#endif
