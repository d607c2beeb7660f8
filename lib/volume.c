/* volume.c - building, parsing and verifying signed key volumes. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cursor.h"
#include "digest.h"
#include "error.h"
#include "jsonx.h"
#include "volume.h"

#define VOL_DEPTH 3 /* root -> shards -> shard */

/*
 * What a version 2 or 3 signature covers: the context and the SHA-256 of
 * DATA.  Version 3 keeps version 2's context: the version number is among
 * the hashed bytes, so a signature can never pass for the other version.
 */
static void signed_digest(const uint8_t *data, size_t len, uint8_t msg[CL_VOLUME_SIGNED_LEN])
{
	memcpy(msg, CL_VOLUME_SIGN_CONTEXT, sizeof(CL_VOLUME_SIGN_CONTEXT));
	cl_sha256(data, len, msg + sizeof(CL_VOLUME_SIGN_CONTEXT));
}
#define MAX_SHARDS 65535

int cl_volume_entries_check(const struct cl_volume_entry *e, size_t n, uint64_t *bytes)
{
	*bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && !cl_volume_entry_follows(&e[i - 1], &e[i]))
			return cl_fail(CL_EINVAL, "volume entries are not sorted or overlap (entry %zu)", i);
		*bytes += e[i].len;
	}
	return 0;
}

size_t cl_volume_head(unsigned version, const struct cl_volume_entry *prev, const struct cl_volume_entry *e,
		      uint8_t out[CL_VOLUME_HEAD_MAX])
{
	size_t k;

	if (version < 3) {
		cl_put_le(out, e->shard, 4);
		cl_put_le(out + 4, e->off, 8);
		cl_put_le(out + 12, e->len, 4);
		return CL_VOLUME_ENTRY_HEAD;
	}
	/* a new shard starts from offset 0: the writer needs no shard header lengths */
	uint32_t shard = prev ? prev->shard : 0;
	uint64_t base = prev && prev->shard == e->shard ? prev->off + prev->len : 0;
	k = cl_put_varint(out, e->shard - shard);
	k += cl_put_varint(out + k, e->off - base);
	return k + cl_put_varint(out + k, e->len);
}

/* The entries' total size in VERSION: heads and bytes. */
static uint64_t entries_size(unsigned version, const struct cl_volume_entry *e, size_t n, uint64_t bytes)
{
	uint8_t head[CL_VOLUME_HEAD_MAX];
	uint64_t total = bytes;

	for (size_t i = 0; i < n; i++)
		total += cl_volume_head(version, i ? &e[i - 1] : NULL, &e[i], head);
	return total;
}

int cl_volume_build(json_t *header, const struct cl_volume_entry *e, size_t n, unsigned version,
		    const struct cl_signkey *sk, uint8_t **out, size_t *outlen)
{
	uint64_t bytes = 0, total;
	char *text = NULL;
	uint8_t *buf = NULL, *p;
	size_t hlen;
	int r;

	if (version != 2 && version != 3)
		return cl_fail(CL_EINVAL, "cannot write key volume version %u", version);
	if ((r = cl_volume_entries_check(e, n, &bytes)) < 0)
		return r;
	if (json_object_set_new(header, "entries", json_integer((json_int_t)n)) < 0 ||
	    json_object_set_new(header, "bytes", json_integer((json_int_t)bytes)) < 0 ||
	    !(text = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		return cl_fail(CL_ENOMEM, "out of memory");
	hlen = strlen(text);
	if (hlen > CL_VOLUME_MAX_HEADER) {
		r = cl_fail(CL_ELIMIT, "volume header too long (%zu bytes)", hlen);
		goto out;
	}
	total = CL_VOLUME_PREFIX + hlen + entries_size(version, e, n, bytes) + CL_SIG_LEN;
	if (total > SIZE_MAX || !(buf = malloc((size_t)total))) {
		r = cl_fail(CL_ENOMEM, "out of memory for a %llu-byte volume", (unsigned long long)total);
		goto out;
	}
	memcpy(buf, CL_VOLUME_MAGIC, 8);
	cl_put_le(buf + 8, version, 4);
	cl_put_le(buf + 12, hlen, 4);
	memcpy(buf + CL_VOLUME_PREFIX, text, hlen);
	p = buf + CL_VOLUME_PREFIX + hlen;
	for (size_t i = 0; i < n; i++) {
		p += cl_volume_head(version, i ? &e[i - 1] : NULL, &e[i], p);
		memcpy(p, e[i].bytes, e[i].len);
		p += e[i].len;
	}
	uint8_t msg[CL_VOLUME_SIGNED_LEN];
	signed_digest(buf, (size_t)(p - buf), msg);
	if ((r = cl_sign(sk, msg, sizeof(msg), p)) < 0)
		goto out;
	*out = buf;
	*outlen = (size_t)total;
	buf = NULL;
out:
	free(text);
	free(buf);
	return r;
}

/* ---- negotiation ---- */

/* S (LEN bytes) with the blanks around it trimmed. */
static const char *trim(const char *s, size_t *len)
{
	while (*len && (*s == ' ' || *s == '\t'))
		s++, (*len)--;
	while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	return s;
}

static int word_is(const char *s, size_t len, const char *w)
{
	return len == strlen(w) && !strncasecmp(s, w, len);
}

/*
 * The version one media range (up to its comma) asks for: its "version"
 * parameter when the type is ours and q is not 0, else 0.
 */
static unsigned range_version(const char *s, size_t len)
{
	const char *semi = memchr(s, ';', len);
	size_t tl = semi ? (size_t)(semi - s) : len;
	const char *t = trim(s, &tl);
	unsigned version = 0;

	if (!word_is(t, tl, CL_VOLUME_MEDIA))
		return 0;
	while (semi) {
		const char *p = semi + 1, *end = s + len, *eq;
		semi = memchr(p, ';', (size_t)(end - p));
		size_t pl = (semi ? semi : end) - p, nl, vl;
		if (!(eq = memchr(p, '=', pl)))
			continue;
		nl = (size_t)(eq - p), vl = pl - nl - 1;
		const char *name = trim(p, &nl), *val = trim(eq + 1, &vl);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"')
			val++, vl -= 2;
		if (word_is(name, nl, "q") && vl && strspn(val, "0.") >= vl)
			return 0; /* q=0: not acceptable */
		if (word_is(name, nl, "version") && vl == 1 && val[0] >= '0' && val[0] <= '9')
			version = (unsigned)(val[0] - '0');
	}
	return version;
}

unsigned cl_volume_accept(const char *accept)
{
	unsigned best = CL_VOLUME_VERSION_DEFAULT;

	while (accept && *accept) {
		const char *comma = strchr(accept, ',');
		size_t len = comma ? (size_t)(comma - accept) : strlen(accept);
		unsigned v = range_version(accept, len);
		if (v > best && v <= CL_VOLUME_VERSION)
			best = v;
		accept = comma ? comma + 1 : NULL;
	}
	return best;
}

/* ---- parsing ---- */

static int vbad(const char *field)
{
	return cl_fail(CL_EFORMAT, "volume header: '%s' missing or invalid", field);
}

static int vstr(json_t *h, const char *name, const char **out, size_t maxlen)
{
	json_t *v = json_object_get(h, name);
	if (!json_is_string(v) || json_string_length(v) > maxlen)
		return vbad(name);
	*out = json_string_value(v);
	return 0;
}

static int vint(json_t *h, const char *name, int64_t *out)
{
	uint64_t u;
	if (cl_json_u64(json_object_get(h, name), &u) < 0)
		return vbad(name);
	*out = (int64_t)u;
	return 0;
}

static int vnum(json_t *h, const char *name, double *out)
{
	json_t *v = json_object_get(h, name);
	if (!json_is_number(v) || !(json_number_value(v) >= 0) || json_number_value(v) > 0.5)
		return vbad(name);
	*out = json_number_value(v);
	return 0;
}

static int vdigest(json_t *h, const char *name, uint8_t out[CL_SHA256_LEN])
{
	const char *s;
	if (vstr(h, name, &s, 64) < 0 || cl_unhex(s, out, CL_SHA256_LEN) < 0)
		return vbad(name);
	return 0;
}

static int parse_shards(struct cl_volume *v, json_t *arr)
{
	size_t i;
	json_t *s;
	int64_t hl = 0, size = 0;

	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > MAX_SHARDS)
		return vbad("shards");
	v->nshards = (uint32_t)json_array_size(arr);
	if (!(v->shards = calloc(v->nshards, sizeof(*v->shards))))
		return cl_fail(CL_ENOMEM, "out of memory");
	json_array_foreach(arr, i, s) {
		struct cl_volume_shard *d = &v->shards[i];
		if (!json_is_object(s) || vstr(s, "file", &d->file, 4096) < 0 || vint(s, "header_len", &hl) < 0 ||
		    vint(s, "size", &size) < 0 || vdigest(s, "locked_sha256", d->locked) < 0 ||
		    (uint64_t)size < 8 + (uint64_t)hl)
			return cl_fail(CL_EFORMAT, "volume header: shard %zu is invalid", i);
		d->header_len = (uint64_t)hl;
		d->size = (uint64_t)size;
	}
	return 0;
}

static int header_fields(struct cl_volume *v)
{
	json_t *h = v->header, *x;
	const char *s;
	int r;

	if (!json_is_object(h) || vstr(h, "format", &s, 16) < 0 || strcmp(s, "clvol"))
		return cl_fail(CL_EFORMAT, "volume header: not a key volume header");
	if ((r = vint(h, "model", &v->model)) < 0 || (r = vstr(h, "model_name", &v->model_name, 1024)) < 0 ||
	    (r = vstr(h, "model_version", &v->model_version, 1024)) < 0 || (r = vstr(h, "tier", &v->tier, 1024)) < 0 ||
	    (r = vnum(h, "alpha", &v->alpha)) < 0 || (r = vnum(h, "beta", &v->beta)) < 0 ||
	    (r = vdigest(h, "locked_sha256", v->locked)) < 0 || (r = vint(h, "license", &v->license)) < 0 ||
	    (r = vstr(h, "nonce", &v->nonce, 1024)) < 0 || (r = vstr(h, "ts", &v->ts, 64)) < 0)
		return r;
	if ((r = vstr(h, "unit", &s, 32)) < 0 || (v->unit = cl_unit_parse(s)) < 0)
		return vbad("unit");
	if ((r = vstr(h, "scope", &s, 32)) < 0 || (v->scope = cl_scope_parse(s)) < 0)
		return vbad("scope");
	if (v->beta > v->alpha)
		return vbad("beta");
	x = json_object_get(h, "expires_at");
	if (x && !json_is_null(x) && (r = vstr(h, "expires_at", &v->expires_at, 64)) < 0)
		return r;
	/* An upgrade names the ratio it builds on (from_beta); from_tier is optional. */
	x = json_object_get(h, "from_tier");
	if (x && !json_is_null(x) && (r = vstr(h, "from_tier", &v->from_tier, 1024)) < 0)
		return r;
	x = json_object_get(h, "from_beta");
	if ((x && !json_is_null(x)) || v->from_tier) {
		if ((r = vnum(h, "from_beta", &v->from_beta)) < 0)
			return r;
		if (v->from_beta < v->beta || v->from_beta > v->alpha)
			return vbad("from_beta");
		v->upgrade = 1;
	} else {
		v->from_beta = v->alpha;
	}
	x = json_object_get(h, "original_sha256");
	if (x && !json_is_null(x)) {
		if ((r = vdigest(h, "original_sha256", v->original)) < 0)
			return r;
		v->has_original = 1;
	}
	/* A marked full tier is no longer the original, so it names none. */
	x = json_object_get(h, "fingerprint");
	if (x && !json_is_boolean(x))
		return vbad("fingerprint");
	v->fingerprint = json_is_true(x);
	if (v->fingerprint && v->has_original)
		return vbad("original_sha256");
	if (v->beta == 0 && !v->has_original && !v->fingerprint)
		return vbad("original_sha256");
	v->exact = v->beta == 0 && !v->fingerprint;
	return parse_shards(v, json_object_get(h, "shards"));
}

/* One entry's head in V's version after PREV (NULL for the first): 0, or a message's code. */
static int read_head(const struct cl_volume *v, struct cl_cursor *c, const struct cl_volume_entry *prev,
		     struct cl_volume_entry *e, size_t i)
{
	uint64_t ds, gap, len, base;

	if (v->version < 3) {
		e->shard = (uint32_t)cl_cur_uint(c, 4);
		e->off = cl_cur_uint(c, 8);
		e->len = (uint32_t)cl_cur_uint(c, 4);
		return c->bad ? cl_fail(CL_EFORMAT, "volume: entry %zu is truncated", i) : 0;
	}
	ds = cl_cur_varint_min(c);
	gap = cl_cur_varint_min(c);
	len = cl_cur_varint_min(c);
	if (c->bad)
		return cl_fail(CL_EFORMAT, "volume: entry %zu is truncated or has an overlong number", i);
	e->shard = prev ? prev->shard : 0;
	if (ds >= v->nshards - e->shard)
		return cl_fail(CL_EFORMAT, "volume: entry %zu names no shard", i);
	if (len > UINT32_MAX)
		return cl_fail(CL_EFORMAT, "volume: entry %zu is longer than 4 GiB", i);
	e->shard += (uint32_t)ds;
	base = prev && !ds ? prev->off + prev->len : 0; /* at most the shard's size: checked */
	if (gap > v->shards[e->shard].size - base)
		return cl_fail(CL_EFORMAT, "volume: entry %zu lies outside the data of shard %u", i, e->shard);
	e->off = base + gap;
	e->len = (uint32_t)len;
	return 0;
}

int cl_volume_parse_entry(struct cl_volume *v, struct cl_cursor *c, const struct cl_volume_entry *prev,
			  struct cl_volume_entry *e, size_t i)
{
	const uint8_t *head = c->p;
	int r;

	if ((r = read_head(v, c, prev, e, i)) < 0)
		return r;
	e->bytes = cl_cur_take(c, e->len);
	if (c->bad)
		return cl_fail(CL_EFORMAT, "volume: entry %zu is truncated", i);
	if (e->shard >= v->nshards || e->len == 0)
		return cl_fail(CL_EFORMAT, "volume: entry %zu names no shard or is empty", i);
	struct cl_volume_shard *s = &v->shards[e->shard];
	if (e->off < 8 + s->header_len || e->off > s->size || e->len > s->size - e->off)
		return cl_fail(CL_EFORMAT, "volume: entry %zu lies outside the data of shard %u", i, e->shard);
	if (prev && !cl_volume_entry_follows(prev, e))
		return cl_fail(CL_EFORMAT, "volume: entry %zu is out of order or overlaps the one before", i);
	if (!s->n++)
		s->at = head;
	return 0;
}

static int parse_entries(struct cl_volume *v, const uint8_t *p, size_t len)
{
	struct cl_cursor c = {p, len, 0};
	struct cl_volume_entry prev = {0}, cur;
	int64_t n = 0, bytes = 0;
	uint64_t sum = 0;
	size_t min = v->version < 3 ? CL_VOLUME_ENTRY_HEAD : CL_VOLUME_ENTRY_MIN3;
	int r;

	if (vint(v->header, "entries", &n) < 0 || vint(v->header, "bytes", &bytes) < 0)
		return vbad("entries");
	if ((uint64_t)n > len / min)
		return cl_fail(CL_EFORMAT, "volume: %lld entries cannot fit in %zu bytes", (long long)n, len);
	v->n = (size_t)n;
	v->entries = p;
	for (size_t i = 0; i < v->n; i++) {
		if ((r = cl_volume_parse_entry(v, &c, i ? &prev : NULL, &cur, i)) < 0)
			return r;
		sum += cur.len;
		prev = cur;
	}
	if (c.left)
		return cl_fail(CL_EFORMAT, "volume: %zu unexpected bytes after the entries", c.left);
	if (sum != (uint64_t)bytes)
		return vbad("bytes");
	v->bytes = sum;
	return 0;
}

/* ---- reading the entries of a parsed (so valid) volume ---- */

void cl_volume_iter_shard(const struct cl_volume *v, uint32_t s, struct cl_volume_iter *it)
{
	*it = (struct cl_volume_iter){v->shards[s].at, v->shards[s].n, v->version, s, 0, 1};
}

void cl_volume_iter_at(const struct cl_volume *v, uint32_t s, const uint8_t *at, size_t n, struct cl_volume_iter *it)
{
	*it = (struct cl_volume_iter){at, n, v->version, s, 0, 1};
}

void cl_volume_iter_all(const struct cl_volume *v, struct cl_volume_iter *it)
{
	*it = (struct cl_volume_iter){v->entries, v->n, v->version, 0, 0, 0};
}

/* A LEB128 integer the parser has checked. */
static uint64_t varint(const uint8_t **p)
{
	uint64_t x = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return x;
	}
}

int cl_volume_next(struct cl_volume_iter *it, struct cl_volume_entry *e)
{
	if (!it->left)
		return 0;
	it->left--;
	if (it->version < 3) {
		e->shard = (uint32_t)cl_le(it->p, 4);
		e->off = cl_le(it->p + 4, 8);
		e->len = (uint32_t)cl_le(it->p + 12, 4);
		it->p += CL_VOLUME_ENTRY_HEAD;
	} else {
		uint64_t ds = varint(&it->p), gap = varint(&it->p);
		e->len = (uint32_t)varint(&it->p);
		if (it->fresh || ds) { /* a shard's first entry counts from offset 0 */
			it->shard += it->fresh ? 0 : (uint32_t)ds;
			it->end = 0;
		}
		it->fresh = 0;
		e->shard = it->shard;
		e->off = it->end + gap;
		it->end = e->off + e->len;
	}
	e->bytes = it->p;
	it->p += e->len;
	return 1;
}

int cl_volume_entries(const struct cl_volume *v, struct cl_volume_entry **out)
{
	struct cl_volume_iter it;

	if (!(*out = malloc((v->n ? v->n : 1) * sizeof(**out))))
		return cl_fail(CL_ENOMEM, "out of memory");
	cl_volume_iter_all(v, &it);
	for (size_t i = 0; cl_volume_next(&it, &(*out)[i]); i++)
		;
	return 0;
}

int cl_volume_prefix(const uint8_t *buf, unsigned *version, size_t *hlen)
{
	if (memcmp(buf, CL_VOLUME_MAGIC, 8) != 0)
		return cl_fail(CL_EFORMAT, "not a key volume (bad magic or too short)");
	if (cl_le(buf + 8, 4) < 1 || cl_le(buf + 8, 4) > CL_VOLUME_VERSION)
		return cl_fail(CL_EUNSUPPORTED, "unsupported key volume version %llu",
			       (unsigned long long)cl_le(buf + 8, 4));
	*version = (unsigned)cl_le(buf + 8, 4);
	*hlen = (size_t)cl_le(buf + 12, 4);
	if (*hlen > CL_VOLUME_MAX_HEADER)
		return cl_fail(CL_EFORMAT, "volume header length %zu runs past the end", *hlen);
	return 0;
}

int cl_volume_parse_header(struct cl_volume *v, const uint8_t *buf, size_t hlen)
{
	char why[200];

	v->header = cl_json_parse((const char *)buf + CL_VOLUME_PREFIX, hlen, VOL_DEPTH, why, sizeof(why));
	if (!v->header)
		return cl_fail(CL_EFORMAT, "volume header: %s", why);
	return header_fields(v);
}

int cl_volume_parse(const uint8_t *buf, size_t len, struct cl_volume **out)
{
	struct cl_volume *v = calloc(1, sizeof(*v));
	size_t hlen;
	int r;

	if (!v)
		return cl_fail(CL_ENOMEM, "out of memory");
	if (len < CL_VOLUME_PREFIX + CL_SIG_LEN) {
		r = cl_fail(CL_EFORMAT, "not a key volume (bad magic or too short)");
		goto fail;
	}
	if ((r = cl_volume_prefix(buf, &v->version, &hlen)) < 0)
		goto fail;
	if (hlen > len - CL_VOLUME_PREFIX - CL_SIG_LEN) {
		r = cl_fail(CL_EFORMAT, "volume header length %zu runs past the end", hlen);
		goto fail;
	}
	if ((r = cl_volume_parse_header(v, buf, hlen)) < 0)
		goto fail;
	v->signed_data = buf;
	v->signed_len = len - CL_SIG_LEN;
	v->sig = buf + len - CL_SIG_LEN;
	if ((r = parse_entries(v, buf + CL_VOLUME_PREFIX + hlen, v->signed_len - CL_VOLUME_PREFIX - hlen)) < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	cl_volume_free(v);
	return r;
}

/* The signature of the LEN bytes of DATA, by the volume version. */
static int verify_signed(unsigned version, const uint8_t *data, size_t len, const uint8_t *sig,
			 const uint8_t pub[CL_PUB_LEN])
{
	uint8_t msg[CL_VOLUME_SIGNED_LEN];

	if (version == 1)
		return cl_verify(pub, data, len, sig);
	signed_digest(data, len, msg);
	return cl_verify(pub, msg, sizeof(msg), sig);
}

int cl_volume_authenticate(const uint8_t *buf, size_t len, const uint8_t pub[CL_PUB_LEN])
{
	unsigned version;

	if (len < CL_VOLUME_PREFIX + CL_SIG_LEN || memcmp(buf, CL_VOLUME_MAGIC, 8) != 0)
		return cl_fail(CL_EFORMAT, "not a key volume (bad magic or too short)");
	version = (unsigned)cl_le(buf + 8, 4);
	if (version < 1 || version > CL_VOLUME_VERSION)
		return cl_fail(CL_EUNSUPPORTED, "unsupported key volume version %u", version);
	if (verify_signed(version, buf, len - CL_SIG_LEN, buf + len - CL_SIG_LEN, pub) < 0)
		return cl_fail(CL_EINTEGRITY, "key volume signature does not verify with the server key");
	return 0;
}

int cl_volume_verify(const struct cl_volume *v, const uint8_t pub[CL_PUB_LEN])
{
	if (verify_signed(v->version, v->signed_data, v->signed_len, v->sig, pub) < 0)
		return cl_fail(CL_EINTEGRITY, "key volume signature does not verify with the server key");
	return 0;
}

void cl_volume_free(struct cl_volume *v)
{
	if (!v)
		return;
	json_decref(v->header);
	free(v->shards);
	free(v);
}

int cl_fuzz_volume(const uint8_t *buf, size_t len)
{
	struct cl_volume *v = NULL;
	int r = cl_volume_parse(buf, len, &v);

	cl_volume_free(v);
	return r;
}
