/*
 * inplace.c - patch a model file in place, crash-safe through an undo
 * journal, PATH.cljournal:
 *
 *   0   8  magic "CLJRNL\r\n"
 *   8   4  version (1)
 *   12  4  flags: 1 = a state file existed
 *   16  8  size of PATH
 *   24  8  length S of the old state file text
 *   32  S  the old state file text
 *   ..     per span: u64 offset, u32 length L, the L old bytes
 *   ..  8  span count
 *   ..  32 SHA-256 of every byte before it
 *
 * The journal is written as a temp file, fsynced and renamed into place, so
 * it exists whole or not at all.  Only then is PATH patched (and fsynced);
 * then the new state file is written and the journal removed.  A journal
 * found on start means an interrupted patch: its old bytes and old state go
 * back first, so PATH always ends up with either its old or its new bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cursor.h"
#include "error.h"
#include "mapfile.h"
#include "outfile.h"

#define JMAGIC "CLJRNL\r\n"
#define JVERSION 1
#define JHEAD 32
#define RUN_MAX (4u << 20) /* bytes written by one pwrite */
#define RUN_GAP 4096	   /* untouched bytes bridged between two spans */

static char *journal_path(const char *path)
{
	char *s;
	return asprintf(&s, "%s.cljournal", path) < 0 ? NULL : s;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off, const char *path)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return cl_fail_errno("%s: write", path);
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

int ag_journal_recover(const char *path, int quiet)
{
	char *jp = journal_path(path);
	struct cl_map m = {0};
	struct cl_cursor c;
	uint8_t d[CL_SHA256_LEN];
	uint64_t size, slen, count, n = 0;
	const uint8_t *state;
	int fd = -1, r;

	if (!jp)
		return cl_fail(CL_ENOMEM, "out of memory");
	if (access(jp, F_OK) < 0) {
		free(jp);
		return 0;
	}
	if ((r = cl_map_open(jp, &m)) < 0)
		goto out;
	if (m.size < JHEAD + 8 + CL_SHA256_LEN || memcmp(m.data, JMAGIC, 8) ||
	    cl_le(m.data + 8, 4) != JVERSION) {
		r = cl_fail(CL_EINTEGRITY, "%s: not a journal this agent wrote; %s may be half-patched", jp,
			    path);
		goto out;
	}
	cl_sha256(m.data, (size_t)m.size - CL_SHA256_LEN, d);
	if (memcmp(d, m.data + m.size - CL_SHA256_LEN, CL_SHA256_LEN)) {
		r = cl_fail(CL_EINTEGRITY, "%s: the journal is damaged; %s may be half-patched", jp, path);
		goto out;
	}
	size = cl_le(m.data + 16, 8);
	slen = cl_le(m.data + 24, 8);
	count = cl_le(m.data + m.size - CL_SHA256_LEN - 8, 8);
	c = (struct cl_cursor){m.data + JHEAD, (size_t)m.size - JHEAD - 8 - CL_SHA256_LEN, 0};
	state = cl_cur_take(&c, (size_t)slen);
	if (c.bad) {
		r = cl_fail(CL_EINTEGRITY, "%s: the journal is damaged", jp);
		goto out;
	}
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		r = cl_fail_errno("%s: cannot roll back the interrupted patch", path);
		goto out;
	}
	off_t cur = lseek(fd, 0, SEEK_END);
	if (cur < 0 || (uint64_t)cur != size) {
		r = cl_fail(CL_EINTEGRITY,
			    "%s: its size changed since the journal %s was written; not rolling back", path,
			    jp);
		goto out;
	}
	while (c.left && !c.bad) {
		uint64_t off = cl_cur_uint(&c, 8), len = cl_cur_uint(&c, 4);
		const uint8_t *old = cl_cur_take(&c, (size_t)len);
		if (c.bad || off > size || len > size - off)
			break;
		if ((r = pwrite_all(fd, old, (size_t)len, off, path)) < 0)
			goto out;
		n++;
	}
	if (c.bad || n != count) {
		r = cl_fail(CL_EINTEGRITY, "%s: the journal is damaged after %llu spans", jp,
			    (unsigned long long)n);
		goto out;
	}
	if (fsync(fd) < 0) {
		r = cl_fail_errno("%s: fsync", path);
		goto out;
	}
	if ((r = ag_state_restore_raw(path, (m.data[12] & 1) ? (const char *)state : NULL, (size_t)slen)) < 0)
		goto out;
	if (unlink(jp) < 0) {
		r = cl_fail_errno("%s", jp);
		goto out;
	}
	r = cl_sync_dir_of(path);
	if (r == 0) {
		if (!quiet)
			fprintf(stderr,
				"corelocker-agent: rolled back an interrupted in-place patch of %s (%llu "
				"spans)\n",
				path, (unsigned long long)n);
		r = 1;
	}
out:
	if (fd >= 0)
		close(fd);
	cl_map_close(&m);
	free(jp);
	return r;
}

static int write_journal(const char *jp, const struct cl_map *file, const struct cl_volume *v,
			 const char *state, size_t slen)
{
	struct cl_out *o;
	uint8_t head[JHEAD], e[12], d[CL_SHA256_LEN];
	int r = cl_out_open(jp, 0600, &o);

	if (r < 0)
		return r;
	memcpy(head, JMAGIC, 8);
	cl_put_le(head + 8, JVERSION, 4);
	cl_put_le(head + 12, state ? 1 : 0, 4);
	cl_put_le(head + 16, file->size, 8);
	cl_put_le(head + 24, slen, 8);
	if ((r = cl_out_write(o, head, JHEAD)) < 0 || (state && (r = cl_out_write(o, state, slen)) < 0))
		goto fail;
	for (size_t i = 0; i < v->n; i++) {
		cl_put_le(e, v->e[i].off, 8);
		cl_put_le(e + 8, v->e[i].len, 4);
		if ((r = cl_out_write(o, e, sizeof(e))) < 0 ||
		    (r = cl_out_write(o, file->data + v->e[i].off, v->e[i].len)) < 0)
			goto fail;
	}
	cl_put_le(e, v->n, 8);
	if ((r = cl_out_write(o, e, 8)) < 0)
		goto fail;
	cl_out_digest(o, d);
	if ((r = cl_out_write(o, d, sizeof(d))) < 0)
		goto fail;
	return cl_out_commit(o);
fail:
	cl_out_abort(o);
	return r;
}

uint64_t ag_pause_after(void)
{
	const char *s = getenv("CORELOCKER_TEST_PAUSE_AFTER_SPANS");
	return s && *s ? strtoull(s, NULL, 10) : 0;
}

void ag_test_pause(uint64_t spans)
{
	fprintf(stderr, "corelocker-agent: test pause after %llu spans\n", (unsigned long long)spans);
	fflush(stderr);
	for (;;)
		pause();
}

/*
 * Write V's spans in runs: neighbouring spans (less than RUN_GAP apart) go
 * out in one pwrite of at most RUN_MAX bytes, the bytes between them taken
 * from the file as it is.
 */
static int apply_runs(int fd, const char *path, const struct cl_map *file, const struct cl_volume *v)
{
	uint8_t *buf = malloc(RUN_MAX);
	uint64_t stop = ag_pause_after(), run_start = 0, run_end = 0;
	size_t i = 0;
	int r = 0, open_run = 0;

	if (!buf)
		return cl_fail(CL_ENOMEM, "out of memory");
	for (i = 0; i < v->n && r == 0; i++) {
		const struct cl_volume_entry *e = &v->e[i];
		if (open_run && (e->off - run_end > RUN_GAP || e->off + e->len - run_start > RUN_MAX)) {
			r = pwrite_all(fd, buf, (size_t)(run_end - run_start), run_start, path);
			open_run = 0;
		}
		if (r < 0)
			break;
		if (e->len > RUN_MAX) { /* a huge span goes straight from the volume */
			r = pwrite_all(fd, e->bytes, e->len, e->off, path);
		} else {
			if (!open_run) {
				run_start = run_end = e->off;
				open_run = 1;
			}
			memcpy(buf + (run_end - run_start), file->data + run_end, (size_t)(e->off - run_end));
			memcpy(buf + (e->off - run_start), e->bytes, e->len);
			run_end = e->off + e->len;
		}
		if (stop && i + 1 == stop) {
			if (open_run && r == 0)
				r = pwrite_all(fd, buf, (size_t)(run_end - run_start), run_start, path);
			open_run = 0;
			if (r == 0)
				ag_test_pause(stop);
		}
	}
	if (r == 0 && open_run)
		r = pwrite_all(fd, buf, (size_t)(run_end - run_start), run_start, path);
	free(buf);
	return r;
}

int ag_patch_in_place(const char *path, const struct cl_volume *v, const struct ag_state *newstate)
{
	char *jp = journal_path(path), *state = NULL;
	struct cl_map m = {0};
	size_t slen = 0;
	int fd = -1, r, journaled = 0;

	if (!jp)
		return cl_fail(CL_ENOMEM, "out of memory");
	if ((r = ag_state_read_raw(path, &state, &slen)) < 0 || (r = cl_map_open(path, &m)) < 0)
		goto out;
	if ((r = write_journal(jp, &m, v, state, slen)) < 0)
		goto out;
	journaled = 1;
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		r = cl_fail_errno("%s", path);
		goto out;
	}
	if ((r = apply_runs(fd, path, &m, v)) < 0)
		goto out;
	if (fsync(fd) < 0) {
		r = cl_fail_errno("%s: fsync", path);
		goto out;
	}
	if ((r = ag_state_save(path, newstate)) < 0)
		goto out;
	if (unlink(jp) < 0) {
		r = cl_fail_errno("%s", jp);
		goto out;
	}
	journaled = 0;
	r = cl_sync_dir_of(path);
out:
	if (fd >= 0)
		close(fd);
	cl_map_close(&m);
	if (r < 0 && journaled) { /* put the old bytes back now, keeping the first error's message */
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", cl_errmsg());
		if (ag_journal_recover(path, 1) < 0)
			fprintf(stderr, "corelocker-agent: rolling back %s failed too: %s\n", path,
				cl_errmsg());
		cl_fail(r, "%s", msg);
	}
	free(state);
	free(jp);
	return r;
}
