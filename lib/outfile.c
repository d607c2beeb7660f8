/* outfile.c - temp file, fsync, rename. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "outfile.h"

#define BUF_SIZE (1u << 20)

struct cl_out {
	int fd;
	char *path, *tmp;
	struct cl_sha *sha;
	uint8_t *buf;
	size_t len;
	uint64_t size;
};

int cl_out_open(const char *path, unsigned mode, struct cl_out **out)
{
	struct cl_out *o = calloc(1, sizeof(*o));
	char *d = NULL, *b = NULL;
	int r;

	if (!o || !(o->path = strdup(path)) || !(d = strdup(path)) || !(b = strdup(path)) ||
	    !(o->buf = malloc(BUF_SIZE))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto fail;
	}
	o->fd = -1;
	if (asprintf(&o->tmp, "%s/.%s.tmp.XXXXXX", dirname(d), basename(b)) < 0) {
		o->tmp = NULL;
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto fail;
	}
	if (!(mode & CL_OUT_NOHASH) && (r = cl_sha_new(&o->sha)) < 0)
		goto fail;
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		r = cl_fail_errno("%s: cannot create a temporary file", path);
		free(o->tmp);
		o->tmp = NULL;
		goto fail;
	}
	fchmod(o->fd, mode & 07777);
	free(d);
	free(b);
	*out = o;
	return 0;
fail:
	free(d);
	free(b);
	cl_out_abort(o);
	return r;
}

static int write_all(struct cl_out *o, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(o->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return cl_fail_errno("%s", o->path);
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int flush(struct cl_out *o)
{
	int r = write_all(o, o->buf, o->len);
	o->len = 0;
	return r;
}

int cl_out_write(struct cl_out *o, const void *p, size_t n)
{
	int r;

	if (o->sha)
		cl_sha_update(o->sha, p, n);
	o->size += n;
	if (o->len + n <= BUF_SIZE) {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		return 0;
	}
	if ((r = flush(o)) < 0)
		return r;
	if (n >= BUF_SIZE / 2)
		return write_all(o, p, n);
	memcpy(o->buf, p, n);
	o->len = n;
	return 0;
}

int cl_out_copy(struct cl_out *o, const uint8_t *src, int fd, uint64_t off, uint64_t len)
{
	int r;

	if (fd < 0 || o->sha)
		return cl_out_write(o, src, (size_t)len);
	if ((r = flush(o)) < 0)
		return r;
	while (len) {
		loff_t in = (loff_t)off;
		ssize_t n = copy_file_range(fd, &in, o->fd, NULL, (size_t)len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* no in-kernel copy here (or a short source): copy by hand */
			if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
				return cl_fail_errno("%s", o->path);
			return cl_out_write(o, src, (size_t)len);
		}
		o->size += (uint64_t)n;
		src += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

uint8_t *cl_out_map(struct cl_out *o, uint64_t len)
{
	void *p;

	if (o->sha || len == 0 || flush(o) < 0 || o->size != len)
		return NULL; /* a hashed stream must see every byte it writes */
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void cl_out_unmap(uint8_t *p, uint64_t len)
{
	if (p)
		munmap(p, (size_t)len);
}

void cl_out_digest(struct cl_out *o, uint8_t out[CL_SHA256_LEN])
{
	cl_sha_final(o->sha, out);
	cl_sha_free(o->sha);
	o->sha = NULL;
	cl_sha_new(&o->sha); /* a digest ends the hash: later bytes are not hashed */
}

uint64_t cl_out_size(const struct cl_out *o)
{
	return o->size;
}

int cl_out_finish(struct cl_out *o)
{
	int r;

	if ((r = flush(o)) < 0)
		return r;
	if (fsync(o->fd) < 0)
		return cl_fail_errno("%s: fsync", o->path);
	return 0;
}

int cl_sync_dir_of(const char *path)
{
	char *d = strdup(path);
	int fd, r = 0;

	if (!d)
		return cl_fail(CL_ENOMEM, "out of memory");
	fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) < 0 && errno != EINVAL)
			r = cl_fail_errno("%s: fsync of directory", path);
		close(fd);
	}
	free(d);
	return r;
}

int cl_out_commit(struct cl_out *o)
{
	int r;

	if ((r = cl_out_finish(o)) < 0)
		goto fail;
	if (close(o->fd) < 0) {
		o->fd = -1;
		r = cl_fail_errno("%s: close", o->path);
		goto fail;
	}
	o->fd = -1;
	if (rename(o->tmp, o->path) < 0) {
		r = cl_fail_errno("%s: rename", o->path);
		goto fail;
	}
	free(o->tmp);
	o->tmp = NULL;
	r = cl_sync_dir_of(o->path);
fail:
	cl_out_abort(o);
	return r;
}

void cl_out_abort(struct cl_out *o)
{
	if (!o)
		return;
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	free(o->buf);
	cl_sha_free(o->sha);
	free(o);
}
