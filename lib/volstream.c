/* volstream.c - a key volume produced in order, hashed as it goes, signed at the end. */
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "error.h"
#include "volstream.h"

struct cl_volstream {
	uint8_t *head; /* prefix and JSON header */
	size_t head_len;
	const struct cl_volume_entry *e;
	size_t n;
	unsigned version;
	const struct cl_signkey *sk;
	struct cl_sha *sha;
	uint64_t size, pos;
	/* where the reader is: in head, in entry i (off bytes into head + bytes), or in sig */
	size_t i;
	uint64_t off;
	uint8_t ehead[CL_VOLUME_HEAD_MAX];
	size_t ehead_len, ehead_of; /* the head of entry ehead_of - 1 (0: none yet) */
	uint8_t sig[CL_SIG_LEN];
	int signed_;
};

int cl_volstream_new(json_t *header, const struct cl_volume_entry *e, size_t n, unsigned version,
		     const struct cl_signkey *sk, struct cl_volstream **out)
{
	struct cl_volstream *s;
	uint64_t bytes = 0;
	char *text = NULL;
	size_t hlen;
	int r;

	if (version != 2 && version != 3)
		return cl_fail(CL_EINVAL, "cannot write key volume version %u", version);
	if ((r = cl_volume_entries_check(e, n, &bytes)) < 0)
		return r;
	if (!(s = calloc(1, sizeof(*s))) || json_object_set_new(header, "entries", json_integer((json_int_t)n)) < 0 ||
	    json_object_set_new(header, "bytes", json_integer((json_int_t)bytes)) < 0 ||
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
	s->e = e;
	s->n = n;
	s->version = version;
	s->sk = sk;
	s->size = s->head_len + bytes + CL_SIG_LEN;
	for (size_t i = 0; i < n; i++) /* the heads' sizes, for Content-Length */
		s->size += cl_volume_head(version, i ? &e[i - 1] : NULL, &e[i], s->ehead);
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

/* The piece the reader is in: a pointer to its next bytes and how many are left. */
static const uint8_t *piece(struct cl_volstream *s, size_t *left)
{
	uint64_t at = s->pos;

	if (at < s->head_len) {
		*left = s->head_len - (size_t)at;
		return s->head + at;
	}
	while (s->i < s->n) {
		const struct cl_volume_entry *e = &s->e[s->i];
		if (s->ehead_of != s->i + 1) {
			s->ehead_len = cl_volume_head(s->version, s->i ? e - 1 : NULL, e, s->ehead);
			s->ehead_of = s->i + 1;
		}
		if (s->off < s->ehead_len) {
			*left = s->ehead_len - (size_t)s->off;
			return s->ehead + s->off;
		}
		if (s->off < s->ehead_len + (uint64_t)e->len) {
			*left = (size_t)(s->ehead_len + e->len - s->off);
			return e->bytes + (s->off - s->ehead_len);
		}
		s->i++;
		s->off = 0;
	}
	*left = (size_t)(s->size - at);
	return s->sig + (CL_SIG_LEN - *left);
}

ssize_t cl_volstream_read(struct cl_volstream *s, uint8_t *buf, size_t max)
{
	size_t done = 0;

	while (done < max && s->pos < s->size) {
		size_t left, k;
		const uint8_t *p;
		if (s->pos == s->size - CL_SIG_LEN && !s->signed_) {
			/* Everything before the signature has been hashed: sign the digest. */
			uint8_t msg[CL_VOLUME_SIGNED_LEN];
			int r;
			memcpy(msg, CL_VOLUME_SIGN_CONTEXT, sizeof(CL_VOLUME_SIGN_CONTEXT));
			cl_sha_final(s->sha, msg + sizeof(CL_VOLUME_SIGN_CONTEXT));
			if ((r = cl_sign(s->sk, msg, sizeof(msg), s->sig)) < 0)
				return r;
			s->signed_ = 1;
		}
		p = piece(s, &left);
		k = left < max - done ? left : max - done;
		memcpy(buf + done, p, k);
		if (!s->signed_)
			cl_sha_update(s->sha, p, k);
		if (s->pos >= s->head_len && s->i < s->n)
			s->off += k;
		s->pos += k;
		done += k;
	}
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
