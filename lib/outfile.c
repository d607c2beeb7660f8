/*
 * outfile.c - outputs that appear whole or not at all: temp file, fsync,
 * rename.  Where the file system allows, the temp file is unnamed
 * (O_TMPFILE) and gets a name only at commit, so a killed process leaves
 * nothing behind; otherwise it is a hidden ".NAME.tmp.XXXXXX" beside NAME
 * (mkostemp: O_EXCL, never through a link).  rename() replaces a symbolic
 * link at NAME instead of writing through it.  The mode is set exactly.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "outfile.h"

#define BUF_SIZE (256u << 10) /* bigger write()s hit the large-folio trap (docs/bench.md) */
#define KICK_SIZE (8u << 20)  /* start writeback every this many bytes written */

struct cl_out {
	int fd, unnamed; /* unnamed: an O_TMPFILE, linked at commit */
	char *path, *tmp;
	struct cl_sha *sha;
	uint8_t *buf;
	size_t len;
	uint64_t size;
	uint64_t written, kicked; /* bytes handed to write(), and those whose writeback was started */
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
	const char *dir = dirname(d); /* dirname() works in place: call it once */
	if (asprintf(&o->tmp, "%s/.%s.tmp.XXXXXX", dir, basename(b)) < 0) {
		o->tmp = NULL;
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto fail;
	}
	if (!(mode & CL_OUT_NOHASH) && (r = cl_sha_new(&o->sha)) < 0)
		goto fail;
	/* Linking an O_TMPFILE without CAP_DAC_READ_SEARCH goes through /proc. */
	if (access("/proc/self/fd", X_OK) == 0 &&
	    (o->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode & 07777)) >= 0)
		o->unnamed = 1;
	else
		o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		r = cl_fail_errno("%s: cannot create a temporary file", path);
		free(o->tmp);
		o->tmp = NULL;
		goto fail;
	}
	/* The exact mode, whatever the umask: an unlocked model must not be group/world readable. */
	if (fchmod(o->fd, mode & 07777) < 0) {
		r = cl_fail_errno("%s: chmod of the temporary file", path);
		goto fail;
	}
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

int cl_out_open_memfd(const char *name, unsigned mode, struct cl_out **out)
{
	struct cl_out *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return cl_fail(CL_ENOMEM, "out of memory");
	o->fd = -1;
	if (!(o->path = strdup(name)) || !(o->buf = malloc(BUF_SIZE))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto fail;
	}
	o->unnamed = 1; /* nothing to unlink: it vanishes with its last descriptor */
	if ((o->fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) {
		r = cl_fail_errno("%s: memfd_create", name);
		goto fail;
	}
	if (!(mode & CL_OUT_NOHASH) && (r = cl_sha_new(&o->sha)) < 0)
		goto fail;
	*out = o;
	return 0;
fail:
	cl_out_abort(o);
	return r;
}

/*
 * Start the disk writes of what was written so far, without waiting for
 * them: the final fsync then finds little left, and the disk works while
 * the caller still computes.  Advisory: an error (a memfd, a file system
 * without it) changes nothing.
 */
static void kick(struct cl_out *o)
{
	if (o->written - o->kicked < KICK_SIZE)
		return;
	(void)sync_file_range(o->fd, (off_t)o->kicked, (off_t)(o->written - o->kicked), SYNC_FILE_RANGE_WRITE);
	o->kicked = o->written;
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
		o->written += (uint64_t)w;
	}
	kick(o);
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
	if (o->len == 0 && n >= BUF_SIZE / 2) /* big pieces go straight out: no copy */
		return write_all(o, p, n);
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
		o->written += (uint64_t)n;
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

unsigned cl_dir_mode(unsigned mode)
{
	mode &= 0777;
	return mode | ((mode & 0444) >> 2);
}

int cl_mkdir_mode(const char *path, unsigned mode)
{
	int fd, r = 1;

	if (mkdir(path, mode & 0777) < 0)
		return errno == EEXIST ? 0 : cl_fail_errno("%s: cannot create the output directory", path);
	/* mkdir() applied the umask (never wider than MODE); set it exactly, on what we made. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, mode & 0777) < 0)
		r = cl_fail_errno("%s: chmod of the output directory", path);
	if (fd >= 0)
		close(fd);
	return r;
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

/* Give the unnamed temp file its hidden name, for the rename that follows. */
static int link_unnamed(struct cl_out *o)
{
	char proc[64];
	size_t n = strlen(o->tmp);

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
	for (int tries = 0; tries < 100; tries++) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 20 ^ (uint64_t)tries;
		for (size_t i = n - 6; i < n; i++, x /= 36) /* the six X of the pattern */
			o->tmp[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[x % 36];
		if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0) {
			o->unnamed = 0; /* named now: abort unlinks it */
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	int r = cl_fail_errno("%s: cannot name the temporary file", o->path);
	free(o->tmp);
	o->tmp = NULL;
	return r;
}

int cl_out_commit(struct cl_out *o)
{
	int r;

	if ((r = cl_out_finish(o)) < 0)
		goto fail;
	if (o->unnamed && (r = link_unnamed(o)) < 0)
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

int cl_out_release(struct cl_out *o)
{
	int r = flush(o), fd = o->fd;

	o->fd = -1;
	cl_out_abort(o);
	if (r < 0)
		close(fd);
	return r < 0 ? r : fd;
}

void cl_out_abort(struct cl_out *o)
{
	if (!o)
		return;
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp && !o->unnamed) /* an unnamed file vanishes with its descriptor */
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	free(o->buf);
	cl_sha_free(o->sha);
	free(o);
}
