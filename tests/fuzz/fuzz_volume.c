/*
 * fuzz_volume.c - libFuzzer target for the key volume: parse, Ed25519 verify
 * and apply onto in-memory shards (cl_volume_apply).
 *
 * Input: one flag byte, then the volume.  The low two bits pick the mode:
 *
 *   0  raw      the volume as given: the pre-signature parse (cl_volume_parse,
 *               cl_fuzz_volume) sees every mutation; apply almost always
 *               stops at the signature.
 *   1  signed   re-signed with the harness's fixed test key, so that
 *               mutations reach the parser behind the signature and the
 *               shard checks of apply.
 *   2, 3  fit   also rewrites the header's shard digests (locked_sha256,
 *               and original_sha256 for the full tier) to match the shards
 *               the harness builds, then re-signs: apply can accept.
 *
 * Flags: 0x04 pass the nonce "fuzz-nonce"; 0x08 flip a byte of the last
 * shard after the digests were taken; 0x10 give the key as PEM; 0x20 pass
 * one shard too few; 0x40 give no base digests; 0x80 make shard 0 one
 * byte short.  The shards are the volume's sizes (up to 1 MiB in
 * all), a header length word, then a fixed pattern.
 *
 * Oracles.  Refused: every shard is byte-identical to its copy from before
 * the call (memcmp), the code is a documented one and the message says why.
 * Any accepted parse (versions 1, 2 and 3), rebuilt by cl_volume_build()
 * (the server's writer) in version 2 and in version 3 from its header and
 * entries, parses back to the same entries and header and verifies.
 * Accepted: the volume authenticates and parses on its own; each shard is
 * its copy with every entry written at its offset; the reported digests
 * are the SHA-256 of the shards; the shards hashed, before, to the locked
 * model (an upgrade builds on the given base instead); the full tier ends
 * at the original; nonce, expiry and the info block agree.  Any accepted parse also satisfies the
 * format's invariants (sorted, disjoint entries inside their shard's data,
 * counts and sums exact, nothing between the last entry and the signature).
 * Read as it arrives (lib/volread.c, in pieces of 1 to 61 bytes) it gets
 * the same verdict, the same entries and the same signature verdict.
 *
 * REPLAY_VERBOSE=1 also prints what apply said of each input.
 * CL_FUZZ_VOLUME_EMIT=DIR writes each fitted, signed volume to DIR as a raw
 * mode input (tests/fuzz/seeds.py uses it to make raw seeds that apply
 * accepts).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "corelocker.h"
#include "cursor.h"
#include "digest.h"
#include "error.h"
#include "volread.h"
#include "volume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                         \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_volume: input breaks '%s' (%s:%d)\n", #cond, \
				__FILE__, __LINE__);                                        \
			abort();                                                            \
		}                                                                           \
	} while (0)

#define MODE_RAW 0
#define MODE_SIGNED 1
#define F_NONCE 0x04
#define F_FLIP 0x08
#define F_PEM 0x10
#define F_SHORT 0x20
#define F_NOBASE 0x40
#define F_TRUNC 0x80
#define MAX_BYTES (1u << 20) /* all shards together */
#define NOW 1800000000        /* 2027-01-15: the expiry check's "now" */
#define NONCE "fuzz-nonce"
#define CONTEXT "corelocker-volume-v2" /* docs/formats.md: signed with its NUL */

/* The test key: a fixed Ed25519 seed, never a real server's. */
static const uint8_t seed[32] = "corelocker fuzz test key seed!!";
static EVP_PKEY *key;
static uint8_t pub[CL_PUB_LEN];
static char *pem;
static struct cl_signkey *sk; /* the same key, as the server loads it */

/* cl_signkey_load() reads a PKCS#8 file of mode 0600: write one, load it, remove it. */
static void load_signkey(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	BIO *b;
	int fd;

	snprintf(path, sizeof(path), "%s/clfuzzkey.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK((fd = mkstemp(path)) >= 0);
	CHECK((b = BIO_new_fd(fd, BIO_CLOSE)) != NULL);
	CHECK(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1);
	BIO_free(b);
	CHECK(cl_signkey_load(path, &sk) == 0);
	unlink(path);
}

static void init(void)
{
	size_t n = CL_PUB_LEN;
	BIO *b;
	char *p;
	long len;

	CHECK((key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed))) != NULL);
	CHECK(EVP_PKEY_get_raw_public_key(key, pub, &n) == 1 && n == CL_PUB_LEN);
	CHECK((b = BIO_new(BIO_s_mem())) != NULL && PEM_write_bio_PUBKEY(b, key) == 1);
	len = BIO_get_mem_data(b, &p);
	CHECK(len > 0 && (pem = malloc((size_t)len + 1)) != NULL);
	memcpy(pem, p, (size_t)len);
	pem[len] = 0;
	BIO_free(b);
	load_signkey();
}

/* Sign VOL[0, len - 64) into its last 64 bytes, as its version says. */
static void sign(uint8_t *vol, size_t len)
{
	uint8_t msg[sizeof(CONTEXT) + CL_SHA256_LEN];
	const uint8_t *m = msg;
	size_t n = sizeof(msg), siglen = CL_SIG_LEN;
	EVP_MD_CTX *ctx;

	if (len < CL_VOLUME_PREFIX + CL_SIG_LEN)
		return;
	if (cl_le(vol + 8, 4) == 1) {
		m = vol;
		n = len - CL_SIG_LEN;
	} else {
		memcpy(msg, CONTEXT, sizeof(CONTEXT));
		cl_sha256(vol, len - CL_SIG_LEN, msg + sizeof(CONTEXT));
	}
	CHECK((ctx = EVP_MD_CTX_new()) && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1);
	CHECK(EVP_DigestSign(ctx, vol + len - CL_SIG_LEN, &siglen, m, n) == 1 && siglen == CL_SIG_LEN);
	EVP_MD_CTX_free(ctx);
}

struct shards {
	struct cl_membuf *b, *copy;
	uint32_t n;
	uint8_t (*base)[CL_SHA256_LEN], (*after)[CL_SHA256_LEN];
};

static void shards_free(struct shards *s)
{
	for (uint32_t i = 0; i < s->n; i++) {
		free(s->b[i].data);
		free(s->copy[i].data);
	}
	free(s->b);
	free(s->copy);
	free(s->base);
	free(s->after);
	memset(s, 0, sizeof(*s));
}

static void shards_alloc(struct shards *s, uint32_t n)
{
	s->n = n;
	CHECK((s->b = calloc(n, sizeof(*s->b))) && (s->copy = calloc(n, sizeof(*s->copy))));
	CHECK((s->base = calloc(n, CL_SHA256_LEN)) && (s->after = calloc(n, CL_SHA256_LEN)));
}

/* Shard I's bytes: its header length word, then a pattern. */
static void pattern(struct cl_membuf *b, uint64_t header_len, uint32_t i)
{
	size_t len = b->len;

	for (size_t k = 0; k < len; k++)
		b->data[k] = (uint8_t)(k * 131 + i * 7 + 0x5a);
	if (len >= 8)
		cl_put_le(b->data, header_len, 8);
}

static void fill(struct cl_membuf *b, size_t len, uint64_t header_len, uint32_t i)
{
	CHECK((b->data = malloc(len ? len : 1)) != NULL);
	b->len = len;
	pattern(b, header_len, i);
}

/* V's entries in a table (cl_volume_entries: the parsed volume holds none); free() it. */
static struct cl_volume_entry *table(const struct cl_volume *v)
{
	struct cl_volume_entry *t = NULL;
	CHECK(cl_volume_entries(v, &t) == 0);
	return t;
}

/* The shards V describes, with their digests before and after V's entries. */
static int make_shards(const struct cl_volume *v, struct shards *s)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < v->nshards; i++)
		if ((total += v->shards[i].size) > MAX_BYTES)
			return -1;
	shards_alloc(s, v->nshards);
	for (uint32_t i = 0; i < v->nshards; i++) {
		struct cl_membuf *b = &s->b[i];
		fill(b, (size_t)v->shards[i].size, v->shards[i].header_len, i);
		cl_sha256(b->data, b->len, s->base[i]);
	}
	struct cl_volume_entry *t = table(v);
	for (size_t k = 0; k < v->n; k++)
		memcpy(s->b[t[k].shard].data + t[k].off, t[k].bytes, t[k].len);
	free(t);
	for (uint32_t i = 0; i < v->nshards; i++) {
		cl_sha256(s->b[i].data, s->b[i].len, s->after[i]);
		pattern(&s->b[i], v->shards[i].header_len, i);
	}
	return 0;
}

static void set_hex(json_t *o, const char *name, const uint8_t d[CL_SHA256_LEN])
{
	char hex[CL_SHA256_HEX];
	cl_hex(d, CL_SHA256_LEN, hex);
	CHECK(json_object_set_new(o, name, json_string(hex)) == 0);
}

/* VOL with its header's digests set to match S; *OUT malloc'd, or -1. */
static int fit(const uint8_t *vol, size_t len, const struct cl_volume *v, const struct shards *s,
	       uint8_t **out, size_t *outlen)
{
	json_t *h = json_deep_copy(v->header), *arr = json_object_get(h, "shards");
	size_t hlen = (size_t)cl_le(vol + 12, 4), tail = len - CL_VOLUME_PREFIX - hlen, n;
	char *text;

	CHECK(h && json_array_size(arr) == v->nshards);
	for (uint32_t i = 0; i < v->nshards; i++) {
		json_t *o = json_array_get(arr, i);
		set_hex(o, "locked_sha256", s->base[i]);
		/* where the header has one: a single shard may rely on the top-level one */
		if (v->beta == 0 && json_object_get(o, "original_sha256"))
			set_hex(o, "original_sha256", s->after[i]);
	}
	if (v->beta == 0 && v->nshards == 1)
		set_hex(h, "original_sha256", s->after[0]);
	CHECK((text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL);
	json_decref(h);
	n = strlen(text);
	if (n > CL_VOLUME_MAX_HEADER) {
		free(text);
		return -1;
	}
	*outlen = CL_VOLUME_PREFIX + n + tail;
	CHECK((*out = malloc(*outlen)) != NULL);
	memcpy(*out, vol, 12);
	cl_put_le(*out + 12, n, 4);
	memcpy(*out + CL_VOLUME_PREFIX, text, n);
	memcpy(*out + CL_VOLUME_PREFIX + n, vol + CL_VOLUME_PREFIX + hlen, tail);
	free(text);
	sign(*out, *outlen);
	return 0;
}

/* The format's invariants, checked on any accepted parse of BUF. */
static void check_parsed(const uint8_t *buf, size_t len, const struct cl_volume *v)
{
	size_t hlen = (size_t)cl_le(buf + 12, 4);
	const uint8_t *p = buf + CL_VOLUME_PREFIX + hlen;
	uint64_t sum = 0;

	CHECK(len >= CL_VOLUME_PREFIX + CL_SIG_LEN && !memcmp(buf, CL_VOLUME_MAGIC, 8));
	CHECK(v->version >= 1 && v->version <= 3);
	CHECK(v->signed_data == buf && v->signed_len == len - CL_SIG_LEN && v->sig == buf + len - CL_SIG_LEN);
	CHECK(v->alpha <= 0.5 && v->beta >= 0 && v->beta <= v->alpha && v->from_beta >= v->beta);
	CHECK(v->from_beta <= v->alpha || v->from_tier); /* alpha when no from_tier */
	CHECK(v->beta > 0 || v->has_original);
	CHECK(v->model_name && v->model_version && v->tier && v->nonce && v->ts);
	CHECK(v->nshards >= 1 && v->nshards <= 65535);
	for (uint32_t i = 0; i < v->nshards; i++)
		CHECK(v->shards[i].file && v->shards[i].size >= 8 + v->shards[i].header_len);
	struct cl_volume_entry *t = table(v);
	for (size_t k = 0; k < v->n; k++) {
		const struct cl_volume_entry *e = &t[k];
		const struct cl_volume_shard *s;
		CHECK(e->shard < v->nshards && e->len > 0);
		s = &v->shards[e->shard];
		CHECK(e->off >= 8 + s->header_len && e->off <= s->size && e->len <= s->size - e->off);
		CHECK(k == 0 || e->shard > e[-1].shard || (e->shard == e[-1].shard && e->off >= e[-1].off + e[-1].len));
		/* the entry as written: its head, then its bytes, right after the one before */
		if (v->version < 3) {
			CHECK(p + CL_VOLUME_ENTRY_HEAD <= buf + len - CL_SIG_LEN);
			CHECK(cl_le(p, 4) == e->shard && cl_le(p + 4, 8) == e->off && cl_le(p + 12, 4) == e->len);
			p += CL_VOLUME_ENTRY_HEAD;
		} else {
			/* shard delta, gap from the previous end in the shard (else 0), length: minimal LEB128 */
			struct cl_cursor c = {p, (size_t)(buf + len - CL_SIG_LEN - p), 0};
			uint32_t prev = k ? e[-1].shard : 0;
			uint64_t ds = cl_cur_varint(&c), gap = cl_cur_varint(&c), l = cl_cur_varint(&c);
			uint64_t base = k && e[-1].shard == e->shard ? e[-1].off + e[-1].len : 0;
			CHECK(!c.bad && ds == e->shard - prev && gap == e->off - base && l == e->len);
			for (const uint8_t *q = p + 1; q < c.p; q++) /* no number ends in a 0 byte after its first */
				CHECK(*q || (q[-1] & 0x80) == 0);
			p = c.p;
		}
		CHECK(e->bytes == p);
		p += e->len;
		CHECK(p <= buf + len - CL_SIG_LEN);
		sum += e->len;
	}
	CHECK(p == buf + len - CL_SIG_LEN);
	CHECK(sum == v->bytes);
	/* each shard's reader gives that shard's run of the table, no more */
	size_t k = 0;
	for (uint32_t i = 0; i < v->nshards; i++) {
		struct cl_volume_iter it;
		struct cl_volume_entry e;
		CHECK(v->shards[i].n <= v->n - k);
		for (cl_volume_iter_shard(v, i, &it); cl_volume_next(&it, &e); k++)
			CHECK(k < v->n && t[k].shard == i && e.shard == i && e.off == t[k].off && e.len == t[k].len &&
			      e.bytes == t[k].bytes);
	}
	CHECK(k == v->n);
	free(t);
}

/* V rebuilt by cl_volume_build() in VERSION parses back to the same volume. */
static void check_rebuild_as(const struct cl_volume *v, unsigned version)
{
	json_t *h = json_deep_copy(v->header);
	struct cl_volume *w = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	struct cl_volume_entry *t = table(v), *u;
	CHECK(h != NULL);
	if (cl_volume_build(h, t, v->n, version, sk, &buf, &len) < 0) {
		/* only a header that grew past the limit when dumped again */
		CHECK(cl_errmsg()[0]);
		json_decref(h);
		free(t);
		return;
	}
	CHECK(cl_volume_parse(buf, len, &w) == 0 && cl_volume_verify(w, pub) == 0 && w->version == version);
	CHECK(w->n == v->n && w->bytes == v->bytes && w->nshards == v->nshards);
	u = table(w);
	for (size_t k = 0; k < v->n; k++)
		CHECK(u[k].shard == t[k].shard && u[k].off == t[k].off && u[k].len == t[k].len &&
		      !memcmp(u[k].bytes, t[k].bytes, t[k].len));
	free(t);
	free(u);
	for (uint32_t i = 0; i < v->nshards; i++)
		CHECK(w->shards[i].size == v->shards[i].size && w->shards[i].header_len == v->shards[i].header_len &&
		      !strcmp(w->shards[i].file, v->shards[i].file) &&
		      !memcmp(w->shards[i].locked, v->shards[i].locked, CL_SHA256_LEN));
	CHECK(w->model == v->model && w->license == v->license && w->alpha == v->alpha && w->beta == v->beta &&
	      w->from_beta == v->from_beta && w->unit == v->unit && w->scope == v->scope);
	CHECK(!strcmp(w->tier, v->tier) && !strcmp(w->nonce, v->nonce) && !strcmp(w->ts, v->ts));
	CHECK(!w->from_tier == !v->from_tier && (!v->from_tier || !strcmp(w->from_tier, v->from_tier)));
	CHECK(!w->expires_at == !v->expires_at && (!v->expires_at || !strcmp(w->expires_at, v->expires_at)));
	CHECK(!memcmp(w->locked, v->locked, CL_SHA256_LEN) && w->has_original == v->has_original);
	cl_volume_free(w);
	free(buf);
	json_decref(h);
}

/* Either written version (2, 3) holds the same volume: the writers and parser agree across versions. */
/*
 * The volume read as it arrives (lib/volread.c, the agent's overlap), in
 * pieces the input decides: the verdict of the whole parse R, and when both
 * accept, the same entries per shard and the same signature verdict.
 */
static void check_streamed(const uint8_t *vol, size_t len, int r, const struct cl_volume *v)
{
	struct cl_volread s;
	size_t at = 0, step = 1 + (len ? vol[len / 2] % 61 : 0);
	int rs = 0;

	cl_volread_init(&s);
	while (at < len && rs == 0) {
		at = len - at < step ? len : at + step;
		rs = cl_volread_feed(&s, vol, at);
	}
	if (rs == 0)
		rs = cl_volread_end(&s);
	CHECK((rs == 0) == (r == 0));
	if (r == 0 && rs == 0) {
		CHECK(s.v->n == v->n && s.v->bytes == v->bytes && s.v->nshards == v->nshards &&
		      s.v->version == v->version && s.v->signed_len == v->signed_len);
		for (uint32_t i = 0; i < v->nshards; i++)
			CHECK(s.v->shards[i].n == v->shards[i].n && (!v->shards[i].n || s.v->shards[i].at == v->shards[i].at));
		CHECK((cl_volread_verify(&s, pub) == 0) == (cl_volume_verify(v, pub) == 0));
	}
	cl_volread_free(&s, 0);
}

static void check_rebuild(const struct cl_volume *v)
{
	check_rebuild_as(v, 2);
	check_rebuild_as(v, 3);
}

/* The original digest of shard I, by the rule of docs/formats.md. */
static int original(const struct cl_volume *v, uint32_t i, uint8_t out[CL_SHA256_LEN])
{
	json_t *o = json_object_get(json_array_get(json_object_get(v->header, "shards"), i), "original_sha256");
	if (json_is_string(o) && cl_unhex(json_string_value(o), out, CL_SHA256_LEN) == 0)
		return 0;
	if (v->nshards != 1 || !v->has_original)
		return -1;
	memcpy(out, v->original, CL_SHA256_LEN);
	return 0;
}

static int given(json_t *h, const char *name)
{
	json_t *x = json_object_get(h, name);
	return x && !json_is_null(x);
}

static void check_accepted(const uint8_t *vol, size_t len, const struct shards *s, uint32_t n,
			   const struct cl_apply_opts *o, const struct cl_apply_info *info,
			   uint8_t (*out)[32])
{
	struct cl_volume *v = NULL;
	uint8_t d[CL_SHA256_LEN];
	int64_t exp;
	int upgrade;

	CHECK(cl_volume_authenticate(vol, len, pub) == 0);
	CHECK(cl_volume_parse(vol, len, &v) == 0);
	CHECK(cl_volume_verify(v, pub) == 0);
	CHECK(n == v->nshards);
	/* an upgrade builds on the given base: one that names from_tier or from_beta */
	upgrade = given(v->header, "from_tier") || given(v->header, "from_beta");
	struct cl_volume_entry *t = table(v);
	for (size_t k = 0; k < v->n; k++)
		memcpy(s->copy[t[k].shard].data + t[k].off, t[k].bytes, t[k].len);
	free(t);
	for (uint32_t i = 0; i < n; i++) {
		CHECK(s->b[i].len == s->copy[i].len && !memcmp(s->b[i].data, s->copy[i].data, s->b[i].len));
		cl_sha256(s->b[i].data, s->b[i].len, d);
		CHECK(!memcmp(d, out[i], CL_SHA256_LEN));
		CHECK(upgrade || !memcmp(s->base[i], v->shards[i].locked, CL_SHA256_LEN));
		if (v->beta == 0)
			CHECK(original(v, i, d) == 0 && !memcmp(d, out[i], CL_SHA256_LEN));
	}
	CHECK(!o->nonce || !strcmp(o->nonce, v->nonce));
	CHECK(!v->expires_at || ((exp = cl_time_parse(v->expires_at)) >= 0 && exp > NOW));
	CHECK(info->model == v->model && info->license == v->license && info->beta == v->beta);
	CHECK(info->entries == v->n && info->bytes == v->bytes);
	CHECK(!strncmp(info->tier, v->tier, sizeof(info->tier) - 1));
	CHECK(!strncmp(info->from_tier, v->from_tier ? v->from_tier : "", sizeof(info->from_tier) - 1));
	CHECK(info->original_verified == (v->beta == 0));
	cl_volume_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	static const char *emit;
	static int verbose;
	struct cl_volume *v = NULL;
	struct shards s = {0};
	struct cl_apply_opts o = {0};
	struct cl_apply_info info;
	uint8_t *vol = NULL, (*out)[32] = NULL;
	size_t len;
	unsigned flags, mode;
	uint32_t n;
	int r, fitted = 0;

	if (!inited) {
		init();
		emit = getenv("CL_FUZZ_VOLUME_EMIT");
		verbose = getenv("REPLAY_VERBOSE") && *getenv("REPLAY_VERBOSE") == '1';
		inited = 1;
	}
	if (size < 1)
		return 0;
	flags = data[0];
	mode = flags & 3;
	len = size - 1;
	CHECK((vol = malloc(len ? len : 1)) != NULL);
	memcpy(vol, data + 1, len);
	if (mode != MODE_RAW)
		sign(vol, len);

	/* the structure alone, as cl_fuzz_volume sees it */
	r = cl_volume_parse(vol, len, &v);
	CHECK(cl_fuzz_volume(vol, len) == r);
	check_streamed(vol, len, r, v);
	if (r == 0) {
		check_parsed(vol, len, v);
		check_rebuild(v);
		CHECK((cl_volume_verify(v, pub) == 0) == (cl_volume_authenticate(vol, len, pub) == 0));
		if (make_shards(v, &s) == 0 && mode > MODE_SIGNED) {
			uint8_t *f;
			size_t flen;
			if (fit(vol, len, v, &s, &f, &flen) == 0) {
				free(vol);
				vol = f;
				len = flen;
				fitted = 1;
			}
		}
	} else {
		CHECK(r < 0 && *cl_errmsg());
	}
	cl_volume_free(v);
	if (!s.n) {
		shards_alloc(&s, 1);
		fill(&s.b[0], 64, 0, 0);
	}
	if (fitted && emit) {
		char path[4096];
		uint8_t d[CL_SHA256_LEN];
		FILE *f;
		cl_sha256(vol, len, d);
		snprintf(path, sizeof(path), "%s/raw_%08x", emit, (unsigned)cl_le(d, 4));
		CHECK((f = fopen(path, "wb")) != NULL && fputc(0, f) == 0 && fwrite(vol, 1, len, f) == len);
		fclose(f);
	}
	if (flags & F_FLIP && s.b[s.n - 1].len)
		s.b[s.n - 1].data[s.b[s.n - 1].len - 1] ^= 1;
	if (flags & F_TRUNC && s.b[0].len)
		s.b[0].len--;
	for (uint32_t i = 0; i < s.n; i++) {
		CHECK((s.copy[i].data = malloc(s.b[i].len ? s.b[i].len : 1)) != NULL);
		memcpy(s.copy[i].data, s.b[i].data, s.b[i].len);
		s.copy[i].len = s.b[i].len;
	}
	n = flags & F_SHORT ? s.n - 1 : s.n;
	if (flags & F_PEM)
		o.pubkey_pem = pem;
	else
		o.pubkey = pub;
	o.nonce = flags & F_NONCE ? NONCE : NULL;
	o.base_sha256 = flags & F_NOBASE ? NULL : (const uint8_t(*)[32])s.base;
	o.now = NOW;
	CHECK((out = calloc(s.n, 32)) != NULL);

	r = cl_volume_apply(vol, len, &o, s.b, n, &info, out);
	if (verbose)
		fprintf(stderr, "fuzz_volume: mode %u flags 0x%02x: %s\n", mode, flags & ~3u,
			r == 0 ? "applied" : cl_errmsg());
	if (r == 0) {
		check_accepted(vol, len, &s, n, &o, &info, out);
	} else {
		/* the codes corelocker.h documents for cl_volume_apply */
		CHECK(r == CL_EFORMAT || r == CL_EINTEGRITY || r == CL_EMISMATCH || r == CL_EINVAL ||
		      r == CL_ENOMEM);
		CHECK(*cl_errmsg());
		for (uint32_t i = 0; i < s.n; i++)
			CHECK(!memcmp(s.b[i].data, s.copy[i].data, s.b[i].len));
	}
	free(out);
	free(vol);
	shards_free(&s);
	return 0;
}
