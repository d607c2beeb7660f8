/*
 * state.c - PATH.clstate: a small JSON file beside an unlocked model that
 * says which model and tier it holds and the SHA-256 of its bytes, so that
 * an upgrade fetches only the slices between two tiers.
 *
 *   {"format":"clstate","version":1,"model":1,"model_name":"fashion",
 *    "model_version":"1","tier":"basic","beta":0.004,"license":7,
 *    "locked_sha256":"...","sha256":"...","updated_at":"..."}
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "error.h"
#include "jsonx.h"
#include "outfile.h"
#include "timefmt.h"

#define STATE_MAX (64u << 10)

char *ag_state_path(const char *path)
{
	char *s;
	return asprintf(&s, "%s.clstate", path) < 0 ? NULL : s;
}

int ag_state_read_raw(const char *path, char **text, size_t *len)
{
	char *sp = ag_state_path(path), *buf = NULL;
	struct stat st;
	size_t n = 0;
	ssize_t got;
	int fd, r = 0;

	*text = NULL;
	*len = 0;
	if (!sp)
		return cl_fail(CL_ENOMEM, "out of memory");
	/* Never through a symbolic link, and only the user's own: it steers what an upgrade trusts. */
	fd = open(sp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ENOENT ? 0
		    : errno == ELOOP ? cl_fail(CL_EFORMAT, "%s: a symbolic link, not a state file", sp)
				     : cl_fail_errno("%s", sp);
		free(sp);
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		r = cl_fail(CL_EFORMAT, "%s: not a state file of yours (uid %u)", sp, (unsigned)geteuid());
		goto out;
	}
	if (!(buf = malloc(STATE_MAX + 1))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	while ((got = read(fd, buf + n, STATE_MAX + 1 - n)) > 0)
		n += (size_t)got;
	if (got < 0) {
		r = cl_fail_errno("%s", sp);
		goto out;
	}
	if (n > STATE_MAX) {
		r = cl_fail(CL_ELIMIT, "%s: larger than %u bytes", sp, STATE_MAX);
		goto out;
	}
	buf[n] = 0;
	*text = buf;
	*len = n;
	buf = NULL;
out:
	close(fd);
	free(buf);
	free(sp);
	return r;
}

static int get_str(json_t *j, const char *k, char *dst, size_t cap)
{
	json_t *v = json_object_get(j, k);
	if (!json_is_string(v) || json_string_length(v) >= cap)
		return -1;
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_digest(json_t *j, const char *k, uint8_t d[CL_SHA256_LEN])
{
	char hex[CL_SHA256_HEX];
	return get_str(j, k, hex, sizeof(hex)) < 0 || cl_unhex(hex, d, CL_SHA256_LEN) < 0 ? -1 : 0;
}

int ag_state_load(const char *path, struct ag_state *s)
{
	char *text, why[128];
	size_t len;
	json_t *j;
	uint64_t model, license;
	int r = ag_state_read_raw(path, &text, &len);

	if (r < 0 || !text)
		return r;
	memset(s, 0, sizeof(*s));
	j = cl_json_parse(text, len, 2, why, sizeof(why));
	if (!j || !json_is_object(j) || !json_is_string(json_object_get(j, "format")) ||
	    strcmp(json_string_value(json_object_get(j, "format")), "clstate") ||
	    cl_json_u64(json_object_get(j, "model"), &model) < 0 ||
	    cl_json_u64(json_object_get(j, "license"), &license) < 0 ||
	    get_str(j, "model_name", s->model_name, sizeof(s->model_name)) < 0 ||
	    get_str(j, "model_version", s->model_version, sizeof(s->model_version)) < 0 ||
	    get_str(j, "tier", s->tier, sizeof(s->tier)) < 0 || !json_is_number(json_object_get(j, "beta")) ||
	    get_digest(j, "locked_sha256", s->locked) < 0 || get_digest(j, "sha256", s->sha) < 0) {
		r = cl_fail(CL_EFORMAT,
			    "%s.clstate: not a valid state file (delete it to unlock from the locked model)",
			    path);
	} else {
		s->model = (int64_t)model;
		s->license = (int64_t)license;
		s->beta = json_number_value(json_object_get(j, "beta"));
		r = 1;
	}
	json_decref(j);
	free(text);
	return r;
}

int ag_write_atomic(const char *dest, const char *text, size_t len)
{
	struct cl_out *o;
	int r = cl_out_open(dest, 0644 | CL_OUT_NOHASH, &o);

	if (r < 0)
		return r;
	if ((r = cl_out_write(o, text, len)) < 0) {
		cl_out_abort(o);
		return r;
	}
	return cl_out_commit(o);
}

int ag_state_save(const char *path, const struct ag_state *s)
{
	char locked[CL_SHA256_HEX], sha[CL_SHA256_HEX], ts[32], *text, *sp = ag_state_path(path);
	json_t *j;
	int r;

	if (!sp)
		return cl_fail(CL_ENOMEM, "out of memory");
	cl_hex(s->locked, CL_SHA256_LEN, locked);
	cl_hex(s->sha, CL_SHA256_LEN, sha);
	cl_time_fmt((int64_t)time(NULL), ts);
	j = json_pack("{s:s,s:i,s:I,s:s,s:s,s:s,s:f,s:I,s:s,s:s,s:s}", "format", "clstate", "version", 1,
		      "model", (json_int_t)s->model, "model_name", s->model_name, "model_version",
		      s->model_version, "tier", s->tier, "beta", s->beta, "license", (json_int_t)s->license,
		      "locked_sha256", locked, "sha256", sha, "updated_at", ts);
	text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (!text) {
		free(sp);
		return cl_fail(CL_ENOMEM, "out of memory");
	}
	size_t n = strlen(text);
	text[n] = 0;
	char *line = realloc(text, n + 2);
	if (line) {
		text = line;
		text[n++] = '\n';
		text[n] = 0;
	}
	r = ag_write_atomic(sp, text, n);
	free(text);
	free(sp);
	return r;
}

int ag_state_restore_raw(const char *path, const char *text, size_t len)
{
	char *sp = ag_state_path(path);
	int r = 0;

	if (!sp)
		return cl_fail(CL_ENOMEM, "out of memory");
	if (text)
		r = ag_write_atomic(sp, text, len);
	else if (unlink(sp) < 0 && errno != ENOENT)
		r = cl_fail_errno("%s", sp);
	free(sp);
	return r;
}
