/* volstream.c - a key volume produced in order, hashed as it goes, signed at the end. */
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "error.h"
#include "volstream.h"

struct cl_volstream {
	uint8_t *head; /* prefix and JSON header */
	size_t head_len;
	struct cl_entries src;
	struct cl_entries_iter it;
	/*
	 * Version 2 over packed entries: the entry section is the packed bytes
	 * themselves, copied in large pieces.  Otherwise entry by entry.
	 */
	int verbatim;
	unsigned version;
	const struct cl_signkey *sk;
	struct cl_sha *sha;
	uint64_t size, pos, body_end; /* body_end: where the signature starts */
	/* where the reader is, entry by entry: in entry i - 1 (off bytes into head + bytes) */
	size_t i;
	uint64_t off;
	struct cl_volume_entry cur, prev;
	uint8_t ehead[CL_VOLUME_HEAD_MAX];
	size_t ehead_len;
	uint8_t sig[CL_SIG_LEN];
	int signed_;
};

int cl_volstream_new(json_t *header, const struct cl_entries *src, unsigned version,
		     const struct cl_signkey *sk, struct cl_volstream **out)
{
	struct cl_volstream *s;
	char *text = NULL;
	size_t hlen;
	int r;

	if (version != 2 && version != 3)
		return cl_fail(CL_EINVAL, "cannot write key volume version %u", version);
	if (!(s = calloc(1, sizeof(*s))) ||
	    json_object_set_new(header, "entries", json_integer((json_int_t)src->n)) < 0 ||
	    json_object_set_new(header, "bytes", json_integer((json_int_t)src->bytes)) < 0 ||
	    !(text = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER)) || cl_sha_new(&s->sha) < 0) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto fail;
	}
	hlen = strlen(text);
	if (hlen > CL_VOLUME_MAX_HEADER) {
		r = cl_fail(CL_ELIMIT, "volume header too long (%zu bytes)", hlen);
		goto fail;
	}
	if (!(s->head = malloc(CL_VOLUME_PREFIX + hlen))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(s->head, CL_VOLUME_MAGIC, 8);
	cl_put_le(s->head + 8, version, 4);
	cl_put_le(s->head + 12, hlen, 4);
	memcpy(s->head + CL_VOLUME_PREFIX, text, hlen);
	free(text);
	s->head_len = CL_VOLUME_PREFIX + hlen;
	s->src = *src;
	cl_entries_begin(&s->src, &s->it);
	s->verbatim = !src->e && version == 2;
	s->version = version;
	s->sk = sk;
	/* the heads' sizes come with the source: Content-Length needs no pass here */
	s->body_end =
	    s->head_len + src->bytes + (version == 3 ? src->heads3 : (uint64_t)src->n * CL_VOLUME_ENTRY_HEAD);
	s->size = s->body_end + CL_SIG_LEN;
	*out = s;
	return 0;
fail:
	free(text);
	cl_volstream_free(s);
	return r;
}

uint64_t cl_volstream_size(const struct cl_volstream *s)
{
	return s->size;
}

/* The piece the reader is in: a pointer to its next bytes and how many are left; NULL: entries missing. */
static const uint8_t *piece(struct cl_volstream *s, size_t *left)
{
	uint64_t at = s->pos;

	if (at < s->head_len) {
		*left = s->head_len - (size_t)at;
		return s->head + at;
	}
	if (s->verbatim && at < s->body_end) {
		*left = (size_t)(s->body_end - at);
		return s->src.packed + (at - s->head_len);
	}
	while (at < s->body_end) {
		if (!s->i || s->off >= s->ehead_len + (uint64_t)s->cur.len) { /* on to the next entry */
			s->prev = s->cur;
			if (!cl_entries_next(&s->it, &s->cur))
				return NULL; /* not reached: the size counts the source's entries */
			s->ehead_len = cl_volume_head(s->version, s->i ? &s->prev : NULL, &s->cur, s->ehead);
			s->i++;
			s->off = 0;
		}
		if (s->off < s->ehead_len) {
			*left = s->ehead_len - (size_t)s->off;
			return s->ehead + s->off;
		}
		if (s->off < s->ehead_len + (uint64_t)s->cur.len) {
			*left = (size_t)(s->ehead_len + s->cur.len - s->off);
			return s->cur.bytes + (s->off - s->ehead_len);
		}
	}
	*left = (size_t)(s->size - at);
	return s->sig + (CL_SIG_LEN - *left);
}

ssize_t cl_volstream_read(struct cl_volstream *s, uint8_t *buf, size_t max)
{
	size_t done = 0, hashed = 0; /* BUF's bytes up to HASHED are in the digest */

	while (done < max && s->pos < s->size) {
		size_t left, k;
		const uint8_t *p;
		if (s->pos == s->body_end && !s->signed_) {
			/* Everything before the signature has been hashed: sign the digest. */
			uint8_t msg[CL_VOLUME_SIGNED_LEN];
			int r;
			cl_sha_update(s->sha, buf + hashed, done - hashed);
			hashed = done;
			memcpy(msg, CL_VOLUME_SIGN_CONTEXT, sizeof(CL_VOLUME_SIGN_CONTEXT));
			cl_sha_final(s->sha, msg + sizeof(CL_VOLUME_SIGN_CONTEXT));
			if ((r = cl_sign(s->sk, msg, sizeof(msg), s->sig)) < 0)
				return r;
			s->signed_ = 1;
		}
		if (!(p = piece(s, &left)))
			return cl_fail(CL_EINVAL, "volume stream: fewer entries than counted");
		k = left < max - done ? left : max - done;
		memcpy(buf + done, p, k);
		if (s->pos >= s->head_len && s->pos < s->body_end)
			s->off += k;
		s->pos += k;
		done += k;
	}
	/* one digest update per read: a version 3 entry is pieces of a few bytes */
	if (!s->signed_)
		cl_sha_update(s->sha, buf + hashed, done - hashed);
	return (ssize_t)done;
}

void cl_volstream_free(struct cl_volstream *s)
{
	if (!s)
		return;
	free(s->head);
	cl_sha_free(s->sha);
	free(s);
}
