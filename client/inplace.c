/*
 * inplace.c - patch a model in place, crash-safe through an undo journal,
 * PATH.cljournal (PATH: the file, or a sharded model's index).  Version 3
 * (docs/formats.md), one journal for every file it touches:
 *
 *   0   8  magic "CLJRNL\r\n"
 *   8   4  version (3)
 *   12  4  flags: 1 = a state file existed
 *   16  8  length S of the old state file text
 *   24  4  file count K (1 for a single file; a sharded model's shards)
 *   28  S  the old state file text
 *   ..     per file: u16 name length N, N bytes of name (empty: PATH
 *          itself; else a shard's plain file name in PATH's directory),
 *          u64 size, u64 device, u64 inode, u64 span count C, then C spans:
 *          LEB128 gap from the previous span's end (the first: from 0),
 *          LEB128 length L, the L old bytes
 *   ..  32 HMAC-SHA256 under the user's journal key (jkey.c) of
 *          "corelocker-journal-v3" NUL and the SHA-256 of every byte before it
 *
 * Version 2 journals (one file, u64 offset and u32 length per span, the
 * span count after the spans) are still rolled back.
 *
 * The journal is written as a temp file (mode 0600), fsynced and renamed
 * into place, so it exists whole or not at all.  Only then are the files
 * patched (and fsynced); then the new state file is written and the journal
 * removed.  A journal found on start means an interrupted patch: its old
 * bytes and old state go back first, so every file always ends up with
 * either its old or its new bytes.  Only the pages that change are
 * written, and only the changed bytes journaled.  Roll-back writes into the files,
 * so a journal counts only when it is a file of the user's own, carries a
 * MAC under the user's key and names every file's device and inode, and no
 * file is a symbolic link: a journal planted beside a symlinked output
 * never writes through it.
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
#include "model.h"
#include "outfile.h"
#include "seal.h"

#define JMAGIC "CLJRNL\r\n"
#define JVERSION 3
#define JHEAD 28
#define JHEAD_V2 48
#define JTAIL_V2 8	   /* the span count, before the MAC */
#define JFILE 34	   /* name length, size, device, inode, span count */
#define RUN_MAX (4u << 20) /* bytes written by one pwrite */
#define RUN_GAP 4096	   /* a page: untouched bytes bridged between two spans */

/* The MAC's context per version (with its NUL, then the digest): a journal cannot pass as another version. */
static const char mac_context[][22] = {"corelocker-journal-v2", "corelocker-journal-v3"};

static char *journal_path(const char *path)
{
	char *s;
	return asprintf(&s, "%s.cljournal", path) < 0 ? NULL : s;
}

/* The MAC of a version VERSION journal whose bytes before the MAC hash to DIGEST. */
static int journal_mac(const uint8_t key[AG_JKEY_LEN], unsigned version, const uint8_t digest[CL_SHA256_LEN],
		       uint8_t mac[CL_SHA256_LEN])
{
	uint8_t msg[sizeof(mac_context[0]) + CL_SHA256_LEN];

	memcpy(msg, mac_context[version - 2], sizeof(mac_context[0]));
	memcpy(msg + sizeof(mac_context[0]), digest, CL_SHA256_LEN);
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
 * Open and authenticate the journal JP of PATH: mapped at *DATA, *LEN
 * bytes; its version (2 or 3), or <0.  Every refusal is one line and leaves
 * the files alone.
 */
static int journal_open(const char *jp, const char *path, const uint8_t **data, size_t *len)
{
	struct stat js;
	uint8_t key[AG_JKEY_LEN], d[CL_SHA256_LEN], mac[CL_SHA256_LEN];
	const uint8_t *j;
	unsigned version;
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
	if (js.st_size < JHEAD + CL_SHA256_LEN || (uint64_t)js.st_size > SIZE_MAX) {
		r = cl_fail(CL_EINTEGRITY, "%s: not a journal this agent wrote; %s may be half-patched", jp,
			    path);
		goto out;
	}
	j = mmap(NULL, (size_t)js.st_size, PROT_READ, MAP_PRIVATE, jfd, 0);
	if (j == MAP_FAILED) {
		r = cl_fail_errno("%s: mmap", jp);
		goto out;
	}
	*data = j;
	*len = (size_t)js.st_size;
	version = (unsigned)cl_le(j + 8, 4);
	if (memcmp(j, JMAGIC, 8) || version < 2 || version > JVERSION) {
		r = cl_fail(CL_EINTEGRITY,
			    memcmp(j, JMAGIC, 8) || version != 1
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
	r = journal_mac(key, version, d, mac);
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
	r = (int)version;
out:
	close(jfd);
	return r;
}

/* One file a journal rolls back: its spans, still encoded. */
struct jfile {
	char *path; /* NULL: the journal's own PATH */
	int fd;
	struct cl_cursor spans;
	uint64_t count;
};

/*
 * The next span at C: *OFF, *LEN and its old bytes (NULL when C runs out).
 * Version 3 offsets count from *END, the previous span's end.
 */
static const uint8_t *next_span(struct cl_cursor *c, unsigned version, uint64_t *end, uint64_t *off,
				uint64_t *len)
{
	if (version == 2) {
		*off = cl_cur_uint(c, 8);
		*len = cl_cur_uint(c, 4);
	} else {
		uint64_t gap = cl_cur_varint(c);
		*off = *end + gap;
		*len = cl_cur_varint(c);
		if (*off < gap || *len > UINT32_MAX)
			c->bad = 1;
	}
	*end = *off + *len;
	return c->bad ? NULL : cl_cur_take(c, (size_t)*len);
}

/* Walk F's spans at C: they must be whole and inside a file of SIZE bytes; C ends after them. */
static int spans_ok(struct cl_cursor *c, unsigned version, uint64_t count, uint64_t size)
{
	uint64_t end = 0, off, len;

	for (uint64_t i = 0; i < count; i++)
		if (!next_span(c, version, &end, &off, &len) || off > size || len > size - off)
			return 0;
	return 1;
}

/* The file a journal entry names must be the one open at FD (status FS). */
static int same_file(const char *jp, const char *path, const struct stat *fs, uint64_t size, uint64_t dev,
		     uint64_t ino)
{
	if (dev != (uint64_t)fs->st_dev || ino != (uint64_t)fs->st_ino)
		return cl_fail(
		    CL_EINTEGRITY,
		    "%s was written for another file than %s (device or inode differ); not rolling "
		    "back",
		    jp, path);
	if (size != (uint64_t)fs->st_size)
		return cl_fail(CL_EINTEGRITY,
			       "%s: its size changed since the journal %s was written; not rolling back",
			       path, jp);
	return 0;
}

static char *sibling(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');
	char *s;
	return asprintf(&s, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, name) < 0 ? NULL : s;
}

/*
 * Parse a version 3 journal's files after the state text (at C), opening
 * each (PATH's own is TOPFD) into F[*NF]; every check before any write.
 */
static int parse_v3(struct cl_cursor *c, uint32_t k, const char *jp, const char *path, int topfd,
		    const struct stat *ts, struct jfile *f, uint32_t *nf)
{
	for (*nf = 0; *nf < k; (*nf)++) {
		struct jfile *e = &f[*nf];
		struct stat st;
		size_t nlen = (size_t)cl_cur_uint(c, 2);
		const char *name = (const char *)cl_cur_take(c, nlen);
		uint64_t size = cl_cur_uint(c, 8), dev = cl_cur_uint(c, 8), ino = cl_cur_uint(c, 8);
		char nm[256];
		int r;

		e->count = cl_cur_uint(c, 8);
		e->fd = -1;
		if (c->bad || nlen >= sizeof(nm) || (nlen == 0 && k != 1))
			return cl_fail(CL_EINTEGRITY, "%s: the journal is damaged", jp);
		memcpy(nm, name, nlen);
		nm[nlen] = 0;
		if (nlen &&
		    (memchr(nm, '/', nlen) || strlen(nm) != nlen || !strcmp(nm, ".") || !strcmp(nm, "..")))
			return cl_fail(CL_EINTEGRITY, "%s: the journal names a file outside %s's directory",
				       jp, path);
		if (nlen == 0) {
			e->fd = dup(topfd);
			st = *ts;
			if (e->fd < 0)
				return cl_fail_errno("%s", path);
		} else {
			if (!(e->path = sibling(path, nm)))
				return cl_fail(CL_ENOMEM, "out of memory");
			if ((e->fd = open_target(e->path, &st,
						 "not rolling back a journal into what it points to")) < 0)
				return e->fd;
		}
		if ((r = same_file(jp, e->path ? e->path : path, &st, size, dev, ino)) < 0)
			return r;
		e->spans = *c;
		if (!spans_ok(c, 3, e->count, size))
			return cl_fail(CL_EINTEGRITY, "%s: the journal is damaged in the spans of %s", jp,
				       e->path ? e->path : path);
		e->spans.left -= c->left;
	}
	return c->left ? cl_fail(CL_EINTEGRITY, "%s: the journal is damaged after its last file", jp) : 0;
}

int ag_journal_recover(const char *path, int quiet)
{
	char *jp = journal_path(path);
	struct stat ls, fs;
	struct cl_cursor c;
	struct jfile *f = NULL;
	const uint8_t *j = NULL, *state;
	size_t jlen = 0;
	uint64_t slen, total = 0;
	uint32_t nf = 0, k;
	unsigned version;
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
	if ((r = journal_open(jp, path, &j, &jlen)) < 0)
		goto out;
	version = (unsigned)r;
	if (version == 2) {
		if (jlen < JHEAD_V2 + JTAIL_V2 + CL_SHA256_LEN) {
			r = cl_fail(CL_EINTEGRITY, "%s: the journal is damaged", jp);
			goto out;
		}
		slen = cl_le(j + 40, 8);
		k = 1;
		c = (struct cl_cursor){j + JHEAD_V2, jlen - JHEAD_V2 - JTAIL_V2 - CL_SHA256_LEN, 0};
	} else {
		slen = cl_le(j + 16, 8);
		k = (uint32_t)cl_le(j + 24, 4);
		c = (struct cl_cursor){j + JHEAD, jlen - JHEAD - CL_SHA256_LEN, 0};
	}
	state = cl_cur_take(&c, (size_t)slen);
	if (c.bad || k == 0 || k > 65535) {
		r = cl_fail(CL_EINTEGRITY, "%s: the journal is damaged", jp);
		goto out;
	}
	if (!(f = calloc(k, sizeof(*f)))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	if (version == 2) { /* one file: PATH, every span up to the count */
		nf = 1;
		f[0] = (struct jfile){NULL, -1, c, cl_le(j + jlen - CL_SHA256_LEN - JTAIL_V2, 8)};
		if ((r = same_file(jp, path, &fs, cl_le(j + 16, 8), cl_le(j + 24, 8), cl_le(j + 32, 8))) < 0)
			goto out;
		if (!spans_ok(&c, 2, f[0].count, (uint64_t)fs.st_size) || c.left) {
			r = cl_fail(CL_EINTEGRITY, "%s: the journal is damaged in its spans", jp);
			goto out;
		}
		if ((f[0].fd = dup(fd)) < 0) {
			r = cl_fail_errno("%s", path);
			goto out;
		}
	} else if ((r = parse_v3(&c, k, jp, path, fd, &fs, f, &nf)) < 0) {
		nf++; /* close what the failing entry opened */
		goto out;
	}
	for (uint32_t i = 0; i < nf; i++) {
		const char *p = f[i].path ? f[i].path : path;
		uint64_t end = 0, off, len;
		for (uint64_t s = 0; s < f[i].count; s++) {
			const uint8_t *old = next_span(&f[i].spans, version, &end, &off, &len);
			if ((r = pwrite_all(f[i].fd, old, (size_t)len, off, p)) < 0)
				goto out;
		}
		if (fsync(f[i].fd) < 0) {
			r = cl_fail_errno("%s: fsync", p);
			goto out;
		}
		total += f[i].count;
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
				path, (unsigned long long)total);
		r = 1;
	}
out:
	for (uint32_t i = 0; f && i < nf && i < k; i++) {
		if (f[i].fd >= 0)
			close(f[i].fd);
		free(f[i].path);
	}
	free(f);
	if (fd >= 0)
		close(fd);
	if (j)
		munmap((void *)j, jlen);
	free(jp);
	return r;
}

static int write_journal(const char *jp, const struct cl_model *m, const struct stat *st,
			 const struct cl_volume *v, const char *state, size_t slen)
{
	struct cl_out *o;
	uint8_t head[JHEAD], e[JFILE + 256], d[CL_SHA256_LEN], key[AG_JKEY_LEN], mac[CL_SHA256_LEN];
	int r;

	if ((r = ag_journal_key(key, 1)) < 0)
		return cl_fail(r, "cannot patch in place: %s", cl_errmsg());
	if ((r = cl_out_open(jp, 0600, &o)) < 0)
		goto done;
	memcpy(head, JMAGIC, 8);
	cl_put_le(head + 8, JVERSION, 4);
	cl_put_le(head + 12, state ? 1 : 0, 4);
	cl_put_le(head + 16, slen, 8);
	cl_put_le(head + 24, m->nshards, 4);
	if ((r = cl_out_write(o, head, JHEAD)) < 0 || (state && (r = cl_out_write(o, state, slen)) < 0))
		goto fail;
	for (uint32_t s = 0; s < m->nshards; s++) {
		const struct cl_shard *sh = &m->shards[s];
		size_t n = v->shards[s].n, nlen = m->sharded ? strlen(sh->name) : 0;
		struct cl_volume_iter it;
		struct cl_volume_entry ve, *x = &ve;
		uint64_t end = 0;
		cl_put_le(e, nlen, 2);
		memcpy(e + 2, sh->name, nlen);
		cl_put_le(e + 2 + nlen, sh->map.size, 8);
		cl_put_le(e + 10 + nlen, (uint64_t)st[s].st_dev, 8);
		cl_put_le(e + 18 + nlen, (uint64_t)st[s].st_ino, 8);
		cl_put_le(e + 26 + nlen, n, 8);
		if ((r = cl_out_write(o, e, JFILE + nlen)) < 0)
			goto fail;
		for (cl_volume_iter_shard(v, s, &it); cl_volume_next(&it, x);) {
			unsigned h = cl_put_varint(e, x->off - end);
			h += cl_put_varint(e + h, x->len);
			end = x->off + x->len;
			/* a small span goes out in one write with its head */
			if (x->len <= sizeof(e) - h) {
				memcpy(e + h, sh->map.data + x->off, x->len);
				r = cl_out_write(o, e, h + x->len);
			} else if ((r = cl_out_write(o, e, h)) == 0) {
				r = cl_out_write(o, sh->map.data + x->off, x->len);
			}
			if (r < 0)
				goto fail;
		}
	}
	cl_out_digest(o, d);
	if ((r = journal_mac(key, JVERSION, d, mac)) < 0 || (r = cl_out_write(o, mac, sizeof(mac))) < 0)
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
 * Write shard S's spans of V in runs: spans less than RUN_GAP apart share one
 * pwrite of at most RUN_MAX bytes, the bytes between them taken from the
 * file as it is.  A gap shorter than a page holds no whole page the spans
 * leave alone, so a run dirties no page they would not dirty anyway, and
 * dense spans (ratio 0.01 in element units: one every few hundred bytes)
 * cost one syscall per run instead of one per span.  *DONE counts the spans
 * written, for the test pause after STOP.
 */
static int apply_spans(int fd, const char *path, const struct cl_map *file, const struct cl_volume *v,
		       uint32_t s, uint8_t *buf, uint64_t stop, uint64_t *done)
{
	struct cl_volume_iter it;
	struct cl_volume_entry ve, *e = &ve;
	uint64_t start = 0, end = 0;
	int r = 0, open_run = 0;

	for (cl_volume_iter_shard(v, s, &it); r == 0 && cl_volume_next(&it, e);) {
		if (open_run && (e->off - end >= RUN_GAP || e->off + e->len - start > RUN_MAX)) {
			r = pwrite_all(fd, buf, (size_t)(end - start), start, path);
			open_run = 0;
		}
		if (r < 0)
			break;
		if (e->len > RUN_MAX) { /* a huge span goes straight from the volume */
			r = pwrite_all(fd, e->bytes, e->len, e->off, path);
		} else {
			if (!open_run) {
				start = end = e->off;
				open_run = 1;
			}
			memcpy(buf + (end - start), file->data + end, (size_t)(e->off - end));
			memcpy(buf + (e->off - start), e->bytes, e->len);
			end = e->off + e->len;
		}
		if (stop && ++*done == stop) {
			if (open_run && r == 0)
				r = pwrite_all(fd, buf, (size_t)(end - start), start, path);
			if (r == 0)
				ag_test_pause(stop);
		}
	}
	if (r == 0 && open_run)
		r = pwrite_all(fd, buf, (size_t)(end - start), start, path);
	return r;
}

/* Open shard S of M for patching: the file whose bytes were verified, its mode the stricter of its own and
 * MODE. */
static int open_shard(const struct cl_model *m, uint32_t s, unsigned mode, struct stat *st)
{
	const struct cl_shard *sh = &m->shards[s];
	struct stat bs;
	int fd = open_target(sh->path, st, "--in-place patches a file itself; give the file");

	if (fd < 0)
		return fd;
	if (fstat(sh->map.fd, &bs) < 0 || bs.st_dev != st->st_dev || bs.st_ino != st->st_ino ||
	    (uint64_t)st->st_size != sh->map.size) {
		close(fd);
		return cl_fail(CL_EINTEGRITY, "%s was replaced while it was being checked; nothing written",
			       sh->path);
	}
	/* The unlocked model is a secret: keep the stricter mode, before any change. */
	if ((st->st_mode & 0777 & ~mode) && fchmod(fd, st->st_mode & 0777 & mode) < 0) {
		close(fd);
		return cl_fail_errno("%s: chmod", sh->path);
	}
	return fd;
}

int ag_patch_in_place(const struct cl_model *m, const struct cl_volume *v, const struct ag_state *newstate,
		      unsigned mode)
{
	const char *path = m->path;
	char *jp = journal_path(path), *state = NULL;
	struct stat *st = calloc(m->nshards, sizeof(*st));
	int *fd = malloc(m->nshards * sizeof(*fd));
	uint8_t *buf = malloc(RUN_MAX);
	size_t slen = 0;
	uint64_t stop = ag_pause_after(), done = 0;
	uint32_t nfd = 0;
	int r = 0, journaled = 0;

	if (!jp || !st || !fd || !buf) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	for (; nfd < m->nshards; nfd++)
		if ((fd[nfd] = open_shard(m, nfd, mode, &st[nfd])) < 0) {
			r = fd[nfd];
			goto out;
		}
	/* A state file that is a link or not ours counts as none (ag_unlock ignored it too). */
	if ((r = ag_state_read_raw(path, &state, &slen)) == CL_EFORMAT)
		r = 0;
	if (r < 0 || (r = write_journal(jp, m, st, v, state, slen)) < 0)
		goto out;
	journaled = 1;
	for (uint32_t s = 0; s < m->nshards && r == 0; s++)
		r = apply_spans(fd[s], m->shards[s].path, &m->shards[s].map, v, s, buf, stop, &done);
	for (uint32_t s = 0; s < m->nshards && r == 0; s++)
		if (fsync(fd[s]) < 0)
			r = cl_fail_errno("%s: fsync", m->shards[s].path);
	if (r < 0 || (r = ag_state_save(path, newstate)) < 0)
		goto out;
	if (unlink(jp) < 0) {
		r = cl_fail_errno("%s", jp);
		goto out;
	}
	journaled = 0;
	r = cl_sync_dir_of(path);
out:
	for (uint32_t s = 0; s < nfd; s++)
		close(fd[s]);
	if (r < 0 && journaled) { /* put the old bytes back now, keeping the first error's message */
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", cl_errmsg());
		if (ag_journal_recover(path, 1) < 0)
			fprintf(stderr, "corelocker-agent: rolling back %s failed too: %s\n", path,
				cl_errmsg());
		cl_fail(r, "%s", msg);
	}
	free(buf);
	free(fd);
	free(st);
	free(state);
	free(jp);
	return r;
}
