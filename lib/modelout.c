/* modelout.c - atomic outputs for single and sharded models. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "modelout.h"

static int same_file(const char *a, const char *b)
{
	struct stat x, y;
	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int cl_check_not_input(const struct cl_model *m, const char *out)
{
	char path[4096];

	for (uint32_t i = 0; i < m->nshards; i++) {
		const char *p = m->shards[i].path;
		if (m->sharded) {
			snprintf(path, sizeof(path), "%s/%s", out, m->shards[i].name);
			p = path;
		} else if (same_file(out, m->path)) {
			return cl_fail(CL_EINVAL, "%s: output would overwrite the input", out);
		}
		if (m->sharded && same_file(p, m->shards[i].path))
			return cl_fail(CL_EINVAL, "%s: output would overwrite the input", p);
	}
	return 0;
}

int cl_model_out_open(const struct cl_model *m, const char *out, struct cl_model_out *mo)
{
	return cl_model_out_open_mode(m, out, 0644, mo);
}

int cl_model_out_open_mode(const struct cl_model *m, const char *out, unsigned mode, struct cl_model_out *mo)
{
	char path[4096];
	const char *slash;
	int r;

	memset(mo, 0, sizeof(*mo));
	if ((r = cl_check_not_input(m, out)) < 0)
		return r;
	mo->shard = calloc(m->nshards, sizeof(*mo->shard));
	if (!mo->shard)
		return cl_fail(CL_ENOMEM, "out of memory");
	mo->n = m->nshards;
	if (!m->sharded)
		return cl_out_open(out, mode | CL_OUT_NOHASH, &mo->shard[0]);
	if ((r = cl_mkdir_mode(out, cl_dir_mode(mode))) < 0)
		return r;
	if (r == 1)
		mo->made_dir = strdup(out);
	slash = strrchr(m->path, '/');
	snprintf(path, sizeof(path), "%s/%s", out, slash ? slash + 1 : m->path);
	if ((r = cl_out_open(path, mode, &mo->index)) < 0 ||
	    (r = cl_out_write(mo->index, m->index.data, (size_t)m->index.size)) < 0)
		return r;
	for (uint32_t i = 0; i < m->nshards; i++) {
		snprintf(path, sizeof(path), "%s/%s", out, m->shards[i].name);
		if ((r = cl_out_open(path, mode | CL_OUT_NOHASH, &mo->shard[i])) < 0)
			return r;
	}
	return 0;
}

int cl_model_out_commit(struct cl_model_out *mo)
{
	int r = 0;

	for (uint32_t i = 0; i < mo->n && r == 0; i++)
		r = cl_out_finish(mo->shard[i]);
	if (r == 0 && mo->index)
		r = cl_out_finish(mo->index);
	for (uint32_t i = 0; i < mo->n && r == 0; i++) {
		r = cl_out_commit(mo->shard[i]);
		mo->shard[i] = NULL;
	}
	if (r == 0 && mo->index) {
		r = cl_out_commit(mo->index);
		mo->index = NULL;
	}
	if (r == 0) { /* keep the directory */
		free(mo->made_dir);
		mo->made_dir = NULL;
	}
	cl_model_out_abort(mo);
	return r;
}

void cl_model_out_abort(struct cl_model_out *mo)
{
	for (uint32_t i = 0; mo->shard && i < mo->n; i++)
		cl_out_abort(mo->shard[i]);
	cl_out_abort(mo->index);
	if (mo->made_dir)
		rmdir(mo->made_dir); /* only succeeds when empty: never removes a user's files */
	free(mo->made_dir);
	free(mo->shard);
	memset(mo, 0, sizeof(*mo));
}
