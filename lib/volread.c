/* volread.c - a key volume checked and hashed as its bytes arrive (volread.h). */
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "error.h"
#include "jsonx.h"
#include "volread.h"


void cl_volread_init(struct cl_volread *r)
{
	memset(r, 0, sizeof(*r));
}

static int fail(struct cl_volread *r, int code)
{
	return r->err = code;
}

/*
 * The size of the entry at P (AVAIL bytes there) once its head arrived, else
 * 0.  A head too long or a length too large to be valid ends where it stops
 * making sense: cl_volume_parse_entry then names the fault.
 */
static size_t entry_size(unsigned version, const uint8_t *p, size_t avail)
{
	size_t k = 0;
	uint64_t len = 0;

	if (version < 3)
		return avail < CL_VOLUME_ENTRY_HEAD ? 0 : CL_VOLUME_ENTRY_HEAD + (size_t)cl_le(p + 12, 4);
	for (int n = 0; n < 3; n++) {
		len = 0;
		for (unsigned j = 0;; j++) {
			if (k >= avail)
				return 0;
			uint8_t b = p[k++];
			if (j < 10)
				len |= (uint64_t)(b & 0x7f) << (7 * j < 64 ? 7 * j : 0);
			if (!(b & 0x80))
				break;
			if (j == 9)
				return k;
		}
	}
	return len > UINT32_MAX ? k : k + (size_t)len;
}

/* The prefix and the JSON header, once they arrived: 1 read, 0 not yet, or <0. */
static int read_header(struct cl_volread *r, size_t len)
{
	const uint8_t *buf = r->buf;
	struct cl_volume *v;
	uint64_t n = 0;
	unsigned version;
	size_t hlen;
	int rc;

	if (len < CL_VOLUME_PREFIX)
		return 0;
	if ((rc = cl_volume_prefix(buf, &version, &hlen)) < 0)
		return rc;
	if (len < CL_VOLUME_PREFIX + hlen)
		return 0;
	if (!(v = r->v = calloc(1, sizeof(*v))) || (rc = cl_sha_new(&r->sha)) < 0)
		return cl_fail(CL_ENOMEM, "out of memory");
	v->version = version;
	if ((rc = cl_volume_parse_header(v, buf, hlen)) < 0)
		return rc;
	if (cl_json_u64(json_object_get(v->header, "entries"), &n) < 0 || n > SIZE_MAX ||
	    cl_json_u64(json_object_get(v->header, "bytes"), &r->bytes) < 0)
		return cl_fail(CL_EFORMAT, "volume header: 'entries' missing or invalid");
	v->n = (size_t)n; /* a promise until every one of them arrived */
	v->signed_data = buf;
	v->entries = buf + CL_VOLUME_PREFIX + hlen;
	r->pos = CL_VOLUME_PREFIX + hlen;
	cl_sha_update(r->sha, buf, r->pos);
	return 1;
}

int cl_volread_feed(struct cl_volread *r, const uint8_t *buf, size_t len)
{
	struct cl_volume *v;
	size_t from;
	int rc;

	if (r->err)
		return r->err;
	r->buf = buf;
	if (!r->v && (rc = read_header(r, len)) <= 0)
		return rc < 0 ? fail(r, rc) : 0;
	v = r->v;
	from = r->pos;
	while (r->i < v->n) {
		struct cl_volume_entry e;
		if (!r->next) {
			size_t size = entry_size(v->version, buf + r->pos, len - r->pos);
			if (!size)
				break;
			r->next = r->pos + size;
		}
		if (len < r->next)
			break;
		struct cl_cursor c = {buf + r->pos, r->next - r->pos, 0};
		if ((rc = cl_volume_parse_entry(v, &c, r->i ? &r->prev : NULL, &e, r->i)) < 0)
			return fail(r, rc);
		r->sum += e.len;
		r->prev = e;
		r->i++;
		r->pos = r->next;
		r->next = 0;
		r->ready = e.shard; /* the shards before this entry's are whole */
	}
	if (r->pos > from)
		cl_sha_update(r->sha, buf + from, r->pos - from);
	if (r->i < v->n)
		return 0;
	if (!r->done && r->sum != r->bytes)
		return fail(r, cl_fail(CL_EFORMAT, "volume header: 'bytes' missing or invalid"));
	v->bytes = r->sum;
	r->ready = v->nshards;
	if (len > r->pos + CL_SIG_LEN)
		return fail(r, cl_fail(CL_EFORMAT, "volume: %zu unexpected bytes after the signature",
				       len - r->pos - CL_SIG_LEN));
	if (len == r->pos + CL_SIG_LEN && !r->done) {
		v->signed_len = r->pos;
		v->sig = buf + r->pos;
		cl_sha_final(r->sha, r->digest);
		r->done = 1;
	}
	return 0;
}

int cl_volread_end(struct cl_volread *r)
{
	if (r->err)
		return r->err;
	if (!r->done)
		return fail(
		    r, cl_fail(CL_EFORMAT, "key volume truncated: it ends after %zu checked bytes", r->pos));
	return 0;
}

int cl_volread_verify(const struct cl_volread *r, const uint8_t pub[CL_PUB_LEN])
{
	uint8_t msg[CL_VOLUME_SIGNED_LEN];
	int bad;

	if (!r->done || r->err)
		return cl_fail(CL_EINTEGRITY, "key volume incomplete: its signature cannot be checked");
	if (r->v->version == 1) { /* signed bytes, not a digest: one more pass, for old volumes only */
		bad = cl_verify(pub, r->v->signed_data, r->v->signed_len, r->v->sig) < 0;
	} else {
		memcpy(msg, CL_VOLUME_SIGN_CONTEXT, sizeof(CL_VOLUME_SIGN_CONTEXT));
		memcpy(msg + sizeof(CL_VOLUME_SIGN_CONTEXT), r->digest, CL_SHA256_LEN);
		bad = cl_verify(pub, msg, sizeof(msg), r->v->sig) < 0;
	}
	return bad ? cl_fail(CL_EINTEGRITY, "key volume signature does not verify with the server key") : 0;
}

void cl_volread_free(struct cl_volread *r, int take)
{
	cl_sha_free(r->sha);
	if (!take)
		cl_volume_free(r->v);
	memset(r, 0, sizeof(*r));
}
