/* patch.c - copy with patches, chunk by chunk; hash the result alongside. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "patch.h"

#define CHUNK (4u << 20)
#define SMALL_CHUNK (256u << 10) /* written pieces that stay clear of the large-folio trap (docs/bench.md) */

/*
 * Walk IN in chunks.  For each chunk, EMIT gets either the mapped bytes
 * (untouched chunk, patched == 0) or BUF with the spans applied.
 */
typedef int (*chunk_fn)(void *arg, const uint8_t *p, uint64_t pos, uint64_t len, int patched);

static int walk_by(const struct cl_map *in, uint64_t chunk, cl_span_next next, void *ctx, chunk_fn emit,
		   void *arg)
{
	const uint8_t *src = in->data;
	uint64_t size = in->size, last_end = 0;
	uint8_t *buf = malloc(chunk);
	struct cl_span s;
	int have = next(ctx, &s), r = 0;

	if (!buf)
		return cl_fail(CL_ENOMEM, "out of memory");
	for (uint64_t pos = 0; pos < size && r == 0; pos += chunk) {
		uint64_t end = size - pos < chunk ? size : pos + chunk;
		if (!have || s.off >= end) {
			r = emit(arg, src + pos, pos, end - pos, 0);
			continue;
		}
		memcpy(buf, src + pos, (size_t)(end - pos));
		while (have && s.off < end) {
			if (s.off < last_end || s.len > size - s.off) {
				r = cl_fail(CL_EINVAL, "patch span at offset %llu is out of order or out of range",
					    (unsigned long long)s.off);
				break;
			}
			uint64_t a = s.off, b = s.off + s.len < end ? s.off + s.len : end;
			if (s.src)
				memcpy(buf + (a - pos), s.src, (size_t)(b - a));
			else
				memset(buf + (a - pos), 0, (size_t)(b - a));
			if (b < s.off + s.len) { /* continues in the next chunk */
				if (s.src)
					s.src += b - a;
				s.len -= b - a;
				s.off = b;
				break;
			}
			last_end = s.off + s.len;
			have = next(ctx, &s);
		}
		if (r == 0)
			r = emit(arg, buf, pos, end - pos, 1);
	}
	if (r == 0 && have)
		r = cl_fail(CL_EINVAL, "patch span at offset %llu lies beyond the file (%llu bytes)",
			    (unsigned long long)s.off, (unsigned long long)size);
	free(buf);
	return r;
}

static int walk(const struct cl_map *in, cl_span_next next, void *ctx, chunk_fn emit, void *arg)
{
	return walk_by(in, CHUNK, next, ctx, emit, arg);
}

struct writer {
	struct cl_out *o;
	int fd;
};

static int emit_write(void *arg, const uint8_t *p, uint64_t pos, uint64_t len, int patched)
{
	struct writer *w = arg;
	if (patched)
		return cl_out_write(w->o, p, (size_t)len);
	return cl_out_copy(w->o, p, w->fd, pos, len);
}

static int emit_hash(void *arg, const uint8_t *p, uint64_t pos, uint64_t len, int patched)
{
	(void)pos, (void)patched;
	cl_sha_update(arg, p, (size_t)len);
	return 0;
}

/*
 * The fast way: copy the whole file in the kernel (as cp does), then map the
 * copy and patch the spans in place.  Falls back to streaming chunk by chunk
 * when the output cannot be copied in-kernel or mapped.
 */
int cl_patch_stream(const struct cl_map *in, cl_span_next next, void *ctx, struct cl_out *o)
{
	struct writer w = {o, in->fd};
	uint64_t start = cl_out_size(o), last_end = 0;
	struct cl_span s;
	uint8_t *dst;
	int r;

	if (start != 0 || in->size == 0 || in->fd < 0)
		return walk(in, next, ctx, emit_write, &w);
	if ((r = cl_out_copy(o, in->data, in->fd, 0, in->size)) < 0)
		return r;
	if (!(dst = cl_out_map(o, in->size)))
		return cl_fail(CL_ESYS, "cannot map the output for patching");
	while (next(ctx, &s)) {
		if (s.off < last_end || s.len > in->size - s.off) {
			r = cl_fail(CL_EINVAL, "patch span at offset %llu is out of order or out of range",
				    (unsigned long long)s.off);
			break;
		}
		if (s.src)
			memcpy(dst + s.off, s.src, (size_t)s.len);
		else
			memset(dst + s.off, 0, (size_t)s.len);
		last_end = s.off + s.len;
	}
	cl_out_unmap(dst, in->size);
	return r;
}

int cl_patch_digest(const struct cl_map *in, cl_span_next next, void *ctx, uint8_t out[CL_SHA256_LEN])
{
	struct cl_sha *s;
	int r = cl_sha_new(&s);

	if (r < 0)
		return r;
	r = walk(in, next, ctx, emit_hash, s);
	cl_sha_final(s, out);
	cl_sha_free(s);
	return r;
}

struct hash_job {
	const struct cl_map *in;
	cl_span_next next;
	void *ctx;
	uint8_t *digest;
	int r;
	char err[256];
};

static void *hash_thread(void *arg)
{
	struct hash_job *j = arg;
	j->r = cl_patch_digest(j->in, j->next, j->ctx, j->digest);
	if (j->r < 0) /* the reason lives in this thread's cl_errmsg(): carry it over */
		snprintf(j->err, sizeof(j->err), "%s", cl_errmsg());
	return NULL;
}

int cl_patch_copy(const struct cl_map *in, cl_span_next next, void *wctx, void *hctx, struct cl_out *o,
		  uint8_t digest[CL_SHA256_LEN])
{
	struct hash_job j = {in, next, hctx, digest, 0, ""};
	pthread_t t;
	int r;

	if (pthread_create(&t, NULL, hash_thread, &j) != 0) {
		hash_thread(&j);
		return j.r < 0 ? j.r : cl_patch_stream(in, next, wctx, o);
	}
	r = cl_patch_stream(in, next, wctx, o);
	pthread_join(t, NULL);
	if (r == 0 && j.r < 0)
		r = cl_fail(j.r, "%s", j.err);
	return r;
}

struct write_hash {
	struct writer w;
	struct cl_sha *sha;
};

static int emit_write_hash(void *arg, const uint8_t *p, uint64_t pos, uint64_t len, int patched)
{
	struct write_hash *x = arg;
	cl_sha_update(x->sha, p, (size_t)len);
	return emit_write(&x->w, p, pos, len, patched);
}

int cl_patch_write_digest(const struct cl_map *in, cl_span_next next, void *ctx, struct cl_out *o,
			  uint8_t digest[CL_SHA256_LEN])
{
	struct write_hash x = {{o, in->fd}, NULL};
	int r = cl_sha_new(&x.sha);

	if (r < 0)
		return r;
	r = walk_by(in, SMALL_CHUNK, next, ctx, emit_write_hash, &x);
	cl_sha_final(x.sha, digest);
	cl_sha_free(x.sha);
	return r;
}
