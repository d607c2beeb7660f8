/*
 * inplace.c - patch a model file in place, crash-safe through an undo
 * journal, PATH.cljournal (docs/formats.md):
 *
 *   0   8  magic "CLJRNL\r\n"
 *   8   4  version (2)
 *   12  4  flags: 1 = a state file existed
 *   16  8  size of PATH
 *   24  8  device of PATH (st_dev)
 *   32  8  inode of PATH (st_ino)
 *   40  8  length S of the old state file text
 *   48  S  the old state file text
 *   ..     per span: u64 offset, u32 length L, the L old bytes
 *   ..  8  span count
 *   ..  32 HMAC-SHA256 under the user's journal key (jkey.c) of
 *          "corelocker-journal-v2" NUL and the SHA-256 of every byte before it
 *
 * The journal is written as a temp file (mode 0600), fsynced and renamed
 * into place, so it exists whole or not at all.  Only then is PATH patched
 * (and fsynced); then the new state file is written and the journal
 * removed.  A journal found on start means an interrupted patch: its old
 * bytes and old state go back first, so PATH always ends up with either its
 * old or its new bytes.  Roll-back writes into PATH, so a journal counts
 * only when it is a file of the user's own, carries a MAC under the user's
 * key and names PATH's device and inode, and PATH is no symbolic link: a
 * journal planted beside a symlinked output never writes through it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "cursor.h"
#include "error.h"
#include "mapfile.h"
#include "outfile.h"
#include "seal.h"

#define JMAGIC "CLJRNL\r\n"
#define JVERSION 2
#define JHEAD 48
#define JTAIL (8 + CL_SHA256_LEN) /* span count, MAC */
#define MAC_CONTEXT "corelocker-journal-v2" /* with its NUL, then the digest */
#define RUN_MAX (4u << 20) /* bytes written by one pwrite */
#define RUN_GAP 4096	   /* untouched bytes bridged between two spans */

static char *journal_path(const char *path)
{
	char *s;
	return asprintf(&s, "%s.cljournal", path) < 0 ? NULL : s;
}

/* The MAC of a journal whose bytes before the MAC hash to DIGEST. */
static int journal_mac(const uint8_t key[AG_JKEY_LEN], const uint8_t digest[CL_SHA256_LEN],
		       uint8_t mac[CL_SHA256_LEN])
{
	uint8_t msg[sizeof(MAC_CONTEXT) + CL_SHA256_LEN];

	memcpy(msg, MAC_CONTEXT, sizeof(MAC_CONTEXT));
	memcpy(msg + sizeof(MAC_CONTEXT), digest, CL_SHA256_LEN);
	return cl_hmac_sha256(key, AG_JKEY_LEN, msg, sizeof(msg), mac);
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

/* Open PATH for writing, never through a symbolic link; *ST its status. */
static int open_target(const char *path, struct stat *st, const char *why)
{
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC), r;

	if (fd < 0)
		return errno == ELOOP ? cl_fail(CL_EINTEGRITY, "%s is a symbolic link: %s", path, why)
				      : cl_fail_errno("%s", path);
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		r = S_ISREG(st->st_mode) ? cl_fail_errno("%s", path)
					 : cl_fail(CL_EINTEGRITY, "%s is not a regular file: %s", path, why);
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Open and authenticate the journal JP of the file open at FD (status FS):
 * mapped at *DATA, *LEN bytes.  Every refusal is one line and leaves both
 * files alone.
 */
static int journal_open(const char *jp, const char *path, const struct stat *fs, const uint8_t **data,
			size_t *len)
{
	struct stat js;
	uint8_t key[AG_JKEY_LEN], d[CL_SHA256_LEN], mac[CL_SHA256_LEN];
	const uint8_t *j;
	int jfd = open(jp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), r = 0;

	if (jfd < 0)
		return errno == ELOOP ? cl_fail(CL_EINTEGRITY,
						"%s is a symbolic link, not a journal this agent wrote; not "
						"rolling back %s (delete it if it is not yours)",
						jp, path)
				      : cl_fail_errno("%s", jp);
	if (fstat(jfd, &js) < 0) {
		r = cl_fail_errno("%s", jp);
		goto out;
	}
	if (!S_ISREG(js.st_mode) || js.st_uid != geteuid()) {
		r = cl_fail(CL_EINTEGRITY,
			    "%s belongs to uid %u, not to you (uid %u): not a journal you wrote; not rolling "
			    "back %s",
			    jp, (unsigned)js.st_uid, (unsigned)geteuid(), path);
		goto out;
	}
	if (js.st_size < JHEAD + JTAIL || (uint64_t)js.st_size > SIZE_MAX) {
		r = cl_fail(CL_EINTEGRITY, "%s: not a journal this agent wrote; %s may be half-patched", jp, path);
		goto out;
	}
	j = mmap(NULL, (size_t)js.st_size, PROT_READ, MAP_PRIVATE, jfd, 0);
	if (j == MAP_FAILED) {
		r = cl_fail_errno("%s: mmap", jp);
		goto out;
	}
	*data = j;
	*len = (size_t)js.st_size;
	if (memcmp(j, JMAGIC, 8) || cl_le(j + 8, 4) != JVERSION) {
		r = cl_fail(CL_EINTEGRITY,
			    memcmp(j, JMAGIC, 8) || cl_le(j + 8, 4) != 1
				? "%s: not a journal this agent wrote; %s may be half-patched"
				: "%s: a version 1 journal carries no MAC and cannot be authenticated; not "
				  "rolling back %s (check it by hand, then delete the journal)",
			    jp, path);
		goto out;
	}
	if ((r = ag_journal_key(key, 0)) < 0) {
		r = cl_fail(CL_EINTEGRITY, "%s cannot be authenticated (%s); not rolling back %s", jp,
			    cl_errmsg(), path);
		goto out;
	}
	cl_sha256(j, *len - CL_SHA256_LEN, d);
	r = journal_mac(key, d, mac);
	OPENSSL_cleanse(key, sizeof(key));
	if (r < 0)
		goto out;
	if (cl_memeq_ct(mac, j + *len - CL_SHA256_LEN, CL_SHA256_LEN)) {
		r = cl_fail(CL_EINTEGRITY,
			    "%s: the journal is damaged or not yours (its MAC does not verify with your "
			    "journal key); not rolling back, %s may be half-patched",
			    jp, path);
		goto out;
	}
	if (cl_le(j + 24, 8) != (uint64_t)fs->st_dev || cl_le(j + 32, 8) != (uint64_t)fs->st_ino) {
		r = cl_fail(CL_EINTEGRITY,
			    "%s was written for another file than %s (device or inode differ); not rolling "
			    "back",
			    jp, path);
		goto out;
	}
	if (cl_le(j + 16, 8) != (uint64_t)fs->st_size)
		r = cl_fail(CL_EINTEGRITY,
			    "%s: its size changed since the journal %s was written; not rolling back", path, jp);
out:
	close(jfd);
	return r;
}

int ag_journal_recover(const char *path, int quiet)
{
	char *jp = journal_path(path);
	struct stat ls, fs;
	struct cl_cursor c;
	const uint8_t *j = NULL, *state;
	size_t jlen = 0;
	uint64_t slen, count, n = 0;
	int fd = -1, r;

	if (!jp)
		return cl_fail(CL_ENOMEM, "out of memory");
	if (lstat(jp, &ls) < 0) { /* lstat: a planted symbolic link counts as a journal, and is refused */
		r = errno == ENOENT ? 0 : cl_fail_errno("%s", jp);
		free(jp);
		return r;
	}
	if ((fd = open_target(path, &fs, "not rolling back a journal into what it points to")) < 0) {
		r = fd;
		goto out;
	}
	if ((r = journal_open(jp, path, &fs, &j, &jlen)) < 0)
		goto out;
	slen = cl_le(j + 40, 8);
	count = cl_le(j + jlen - JTAIL, 8);
	c = (struct cl_cursor){j + JHEAD, jlen - JHEAD - JTAIL, 0};
	state = cl_cur_take(&c, (size_t)slen);
	if (c.bad) {
		r = cl_fail(CL_EINTEGRITY, "%s: the journal is damaged", jp);
		goto out;
	}
	/* Check every span before writing any. */
	struct cl_cursor spans = c;
	while (c.left && !c.bad) {
		uint64_t off = cl_cur_uint(&c, 8), len = cl_cur_uint(&c, 4);
		if (!cl_cur_take(&c, (size_t)len) || c.bad || off > (uint64_t)fs.st_size ||
		    len > (uint64_t)fs.st_size - off)
			c.bad = 1;
		else
			n++;
	}
	if (c.bad || n != count) {
		r = cl_fail(CL_EINTEGRITY, "%s: the journal is damaged after %llu spans", jp,
			    (unsigned long long)n);
		goto out;
	}
	while (spans.left) {
		uint64_t off = cl_cur_uint(&spans, 8), len = cl_cur_uint(&spans, 4);
		if ((r = pwrite_all(fd, cl_cur_take(&spans, (size_t)len), (size_t)len, off, path)) < 0)
			goto out;
	}
	if (fsync(fd) < 0) {
		r = cl_fail_errno("%s: fsync", path);
		goto out;
	}
	if ((r = ag_state_restore_raw(path, (j[12] & 1) ? (const char *)state : NULL, (size_t)slen)) < 0)
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
	if (j)
		munmap((void *)j, jlen);
	free(jp);
	return r;
}

static int write_journal(const char *jp, const struct cl_map *file, const struct stat *st,
			 const struct cl_volume *v, const char *state, size_t slen)
{
	struct cl_out *o;
	uint8_t head[JHEAD], e[12], d[CL_SHA256_LEN], key[AG_JKEY_LEN], mac[CL_SHA256_LEN];
	int r;

	if ((r = ag_journal_key(key, 1)) < 0)
		return cl_fail(r, "cannot patch in place: %s", cl_errmsg());
	if ((r = cl_out_open(jp, 0600, &o)) < 0)
		goto done;
	memcpy(head, JMAGIC, 8);
	cl_put_le(head + 8, JVERSION, 4);
	cl_put_le(head + 12, state ? 1 : 0, 4);
	cl_put_le(head + 16, file->size, 8);
	cl_put_le(head + 24, (uint64_t)st->st_dev, 8);
	cl_put_le(head + 32, (uint64_t)st->st_ino, 8);
	cl_put_le(head + 40, slen, 8);
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
	if ((r = journal_mac(key, d, mac)) < 0 || (r = cl_out_write(o, mac, sizeof(mac))) < 0)
		goto fail;
	r = cl_out_commit(o);
	goto done;
fail:
	cl_out_abort(o);
done:
	OPENSSL_cleanse(key, sizeof(key));
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

int ag_patch_in_place(const char *path, const struct cl_map *base, const struct cl_volume *v,
		      const struct ag_state *newstate, unsigned mode)
{
	char *jp = journal_path(path), *state = NULL;
	struct stat st, bs;
	size_t slen = 0;
	int fd = -1, r, journaled = 0;

	if (!jp)
		return cl_fail(CL_ENOMEM, "out of memory");
	if ((fd = open_target(path, &st, "--in-place patches a file itself; give the file")) < 0) {
		r = fd;
		goto out;
	}
	/* The file we write must be the one whose bytes were verified. */
	if (fstat(base->fd, &bs) < 0 || bs.st_dev != st.st_dev || bs.st_ino != st.st_ino ||
	    (uint64_t)st.st_size != base->size) {
		r = cl_fail(CL_EINTEGRITY, "%s was replaced while it was being checked; nothing written", path);
		goto out;
	}
	/* The unlocked model is a secret: keep the stricter of the file's mode and MODE, before any change. */
	if ((st.st_mode & 0777 & ~mode) && fchmod(fd, st.st_mode & 0777 & mode) < 0) {
		r = cl_fail_errno("%s: chmod", path);
		goto out;
	}
	/* A state file that is a link or not ours counts as none (ag_unlock ignored it too). */
	if ((r = ag_state_read_raw(path, &state, &slen)) == CL_EFORMAT)
		r = 0;
	if (r < 0 || (r = write_journal(jp, base, &st, v, state, slen)) < 0)
		goto out;
	journaled = 1;
	if ((r = apply_runs(fd, path, base, v)) < 0)
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
