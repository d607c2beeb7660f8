/*
 * test_volstream.c - a streamed volume (lib/volstream.c) is byte for byte
 * what cl_volume_build() writes, in versions 2 and 3, whatever sizes the
 * reader asks for and whether its entries come from a table or from packed
 * bytes read in place (lib/entries.c, a tier slice's layout): empty volumes,
 * one entry, many entries of odd lengths over two shards, entries over 40
 * shards (some empty) ending at their shard's end, reads of 1, 7, 16, 4096
 * bytes and of random sizes; and it parses back, and verifies, to the very
 * entries it was built from.  Packed bytes that are truncated, unsorted,
 * overlapping or empty are refused.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "entries.h"
#include "error.h"
#include "sign.h"
#include "volstream.h"
#include "testutil.h"

#define SHARD_SIZE (1u << 20)
#define MANY 40 /* shards of the many-shard case */

static json_t *header(void)
{
	return json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:f,s:s,s:f,s:s,s:[{s:s,s:I,s:I,s:s},{s:s,s:I,s:I,s:s}],"
			 "s:I,s:n,s:s,s:s}",
			 "format",
			 "clvol", "model", (json_int_t)1, "model_name", "m", "model_version", "1", "unit", "neuron",
			 "scope", "layer", "alpha", 0.25, "tier", "t", "beta", 0.1, "locked_sha256",
			 "00000000000000000000000000000000000000000000000000000000000000aa", "shards", "file",
			 "model.safetensors", "header_len", (json_int_t)8, "size", (json_int_t)(1 << 20),
			 "locked_sha256", "00000000000000000000000000000000000000000000000000000000000000bb", "file",
			 "model-2.safetensors", "header_len", (json_int_t)100, "size", (json_int_t)(1 << 20),
			 "locked_sha256", "00000000000000000000000000000000000000000000000000000000000000cc", "license",
			 (json_int_t)7, "expires_at", "nonce", "n0", "ts", "2026-01-01T00:00:00Z");
}

/* The header of a model in MANY shards of SHARD_SIZE bytes, each with an 8-byte safetensors header. */
static json_t *header_many(void)
{
	json_t *h = header(), *shards = json_array();

	for (int i = 0; i < MANY; i++) {
		char file[32];
		snprintf(file, sizeof(file), "model-%02d.safetensors", i);
		json_array_append_new(shards, json_pack("{s:s,s:I,s:I,s:s}", "file", file, "header_len", (json_int_t)8,
							"size", (json_int_t)SHARD_SIZE, "locked_sha256",
							"00000000000000000000000000000000000000000000000000000000000000dd"));
	}
	json_object_set_new(h, "shards", shards);
	return h;
}

/* E's N entries packed as a tier slice holds them (version 2 heads and bytes), written here independently. */
static uint8_t *pack(const struct cl_volume_entry *e, size_t n, size_t *len)
{
	size_t total = 0;
	uint8_t *buf, *p;

	for (size_t i = 0; i < n; i++)
		total += 16 + e[i].len;
	if (!(buf = p = malloc(total + 1)))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		cl_put_le(p, e[i].shard, 4);
		cl_put_le(p + 4, e[i].off, 8);
		cl_put_le(p + 12, e[i].len, 4);
		memcpy(p + 16, e[i].bytes, e[i].len);
		p += 16 + e[i].len;
	}
	*len = total;
	return buf;
}

/* Stream SRC with reads of STEP bytes (0: random sizes) into one buffer; MANY: the many-shard header. */
static uint8_t *stream(const struct cl_entries *src, int many, unsigned version, const struct cl_signkey *sk,
		       size_t step, size_t *len)
{
	json_t *h = many ? header_many() : header();
	struct cl_volstream *s = NULL;
	uint8_t *buf;
	size_t at = 0;
	ssize_t got;

	if (cl_volstream_new(h, src, version, sk, &s) < 0 || !(buf = malloc(cl_volstream_size(s) + 1))) {
		json_decref(h);
		return NULL;
	}
	json_decref(h);
	for (;;) {
		size_t want = step ? step : 1 + (size_t)(rand() % 9000);
		if (at + want > cl_volstream_size(s) + 1)
			want = cl_volstream_size(s) + 1 - at; /* ask past the end once: it must say 0 */
		if ((got = cl_volstream_read(s, buf + at, want)) <= 0)
			break;
		at += (size_t)got;
	}
	CHECK(got == 0, "read error %zd", got);
	CHECK(at == cl_volstream_size(s), "streamed %zu of %llu bytes", at, (unsigned long long)cl_volstream_size(s));
	cl_volstream_free(s);
	*len = at;
	return buf;
}

/*
 * Build E's first N entries with cl_volume_build() and stream them from a
 * table and from packed bytes, at every read size: the same bytes, and they
 * parse back to E.
 */
static void compare(const struct cl_volume_entry *e, size_t n, int many, const struct cl_signkey *sk,
		    const uint8_t pub[CL_PUB_LEN])
{
	static const size_t steps[] = {1, 7, 16, 4096, 0};
	size_t plen = 0;
	uint8_t *packed = pack(e, n, &plen);

	for (unsigned version = 2; version <= 3; version++) {
		json_t *h = many ? header_many() : header();
		uint8_t *built = NULL;
		size_t blen = 0;
		CHECK(cl_volume_build(h, e, n, version, sk, &built, &blen) == 0, "build: %s", cl_errmsg());
		json_decref(h);
		for (int packed_src = 0; packed_src < 2; packed_src++) {
			struct cl_entries src;
			int r = packed_src ? cl_entries_packed(&src, packed, plen) : cl_entries_table(&src, e, n);
			CHECK(r == 0 && src.n == n, "%s source of %zu entries: %s", packed_src ? "packed" : "table", n,
			      cl_errmsg());
			if (r < 0)
				continue;
			for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
				size_t slen = 0;
				uint8_t *s = stream(&src, many, version, sk, steps[k], &slen);
				struct cl_volume *v = NULL;
				CHECK(s && slen == blen && !memcmp(s, built, blen),
				      "v%u, %s, %zu entries%s, reads of %zu: streamed bytes differ from cl_volume_build's",
				      version, packed_src ? "packed" : "table", n, many ? " in 40 shards" : "", steps[k]);
				CHECK(s && cl_volume_parse(s, slen, &v) == 0 && cl_volume_verify(v, pub) == 0 && v->n == n &&
					      v->version == version,
				      "v%u, %zu entries: the streamed volume does not parse or verify: %s", version, n,
				      cl_errmsg());
				struct cl_volume_entry *t = NULL;
				CHECK(!v || cl_volume_entries(v, &t) == 0, "entries: %s", cl_errmsg());
				for (size_t i = 0; t && i < v->n; i++)
					CHECK(t[i].shard == e[i].shard && t[i].off == e[i].off && t[i].len == e[i].len &&
						      !memcmp(t[i].bytes, e[i].bytes, e[i].len),
					      "v%u: entry %zu parses back differently", version, i);
				free(t);
				cl_volume_free(v);
				free(s);
			}
		}
		free(built);
	}
	free(packed);
}

/* E's N entries packed and cut to CUT bytes are refused with CL_EFORMAT, and nothing is set. */
static void refused(const struct cl_volume_entry *e, size_t n, size_t cut, const char *what)
{
	size_t plen = 0;
	uint8_t *p = pack(e, n, &plen);
	struct cl_entries src = {0};

	CHECK(p && cut <= plen, "%s: cannot pack", what);
	if (p && cut <= plen) {
		int r = cl_entries_packed(&src, p, cut);
		CHECK(r == CL_EFORMAT && src.n == 0 && !src.packed, "%s: packed entries accepted (%d)", what, r);
	}
	free(p);
}

int main(void)
{
	char dir[] = "/tmp/test_volstream.XXXXXX", path[64];
	static uint8_t data[300000];
	static struct cl_volume_entry e[600], m[2400]; /* m: at most 27 shards of 80 */
	struct cl_signkey *sk = NULL;
	static const size_t counts[] = {0, 1, 2, 600};
	uint8_t pub[CL_PUB_LEN];
	size_t nm = 0;

	if (!mkdtemp(dir))
		return 99;
	snprintf(path, sizeof(path), "%s/k.pem", dir);
	if (cl_signkey_generate(path) < 0 || cl_signkey_load(path, &sk) < 0 || cl_signkey_public(sk, pub) < 0) {
		fprintf(stderr, "signing key: %s\n", cl_errmsg());
		return 99;
	}
	unlink(path);
	rmdir(dir);
	srand(9);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	/* Odd lengths and gaps, sorted by offset; the second half in shard 1, gaps up to ~64 KiB. */
	uint64_t off = 8 + 8;
	for (size_t i = 0; i < 600; i++) {
		uint32_t len = 1 + (uint32_t)(rand() % 997), shard = i >= 300;
		if (i == 300)
			off = 8 + 100 + (uint64_t)(rand() % 3);
		e[i] = (struct cl_volume_entry){shard, off, len, data + (i * 491) % (sizeof(data) - 1000)};
		off += len + (uint64_t)(rand() % 3) * (i % 50 ? 5 : 60000);
	}
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
		compare(e, counts[c], 0, sk, pub);
	/*
	 * 40 shards: every third one empty (a shard delta above 1 in version 3),
	 * the others with 1 to 80 spans, the last one ending at the shard's end
	 * in every other shard, and the very last entry at the last shard's end.
	 */
	for (uint32_t sh = 0; sh < MANY; sh++) {
		if (sh % 3 == 1)
			continue;
		size_t k = 1 + (size_t)(rand() % 80);
		off = 8 + 8 + (uint64_t)(rand() % 5);
		for (size_t j = 0; j < k && nm < sizeof(m) / sizeof(m[0]); j++) {
			uint32_t len = 1 + (uint32_t)(rand() % 300);
			int at_end = j + 1 == k && (sh % 2 == 0 || sh == MANY - 1);
			if (at_end)
				off = SHARD_SIZE - len;
			m[nm] = (struct cl_volume_entry){sh, off, len, data + (nm * 733) % (sizeof(data) - 1000)};
			nm++;
			off += len + (uint64_t)(rand() % 4) * (j % 7 ? 1 : 3000);
		}
	}
	CHECK(m[nm - 1].shard == MANY - 1 && m[nm - 1].off + m[nm - 1].len == SHARD_SIZE,
	      "the many-shard case does not end at the last shard's end");
	compare(m, nm, 1, sk, pub);

	/* Unsorted entries are refused like cl_volume_build refuses them; so is version 1. */
	struct cl_volume_entry bad[2] = {e[1], e[0]};
	struct cl_volstream *s = NULL;
	struct cl_entries src;
	json_t *h = header();
	CHECK(cl_entries_table(&src, bad, 2) == CL_EINVAL, "unsorted table accepted");
	CHECK(cl_entries_table(&src, e, 2) == 0 && cl_volstream_new(h, &src, 1, sk, &s) == CL_EINVAL && !s,
	      "version 1 written");
	json_decref(h);

	/* A corrupted slice: cut short anywhere, unsorted, overlapping, empty or past 2^64. */
	size_t full = 0;
	free(pack(e, 3, &full));
	refused(e, 3, 10, "a head cut short");
	refused(e, 3, full - 1, "the last entry's bytes cut short");
	refused(e, 3, 16 + e[0].len + 15, "the second head cut short");
	refused(bad, 2, 32 + bad[0].len + bad[1].len, "unsorted offsets");
	struct cl_volume_entry ov[2] = {e[0], e[1]}, rev[2] = {e[300], e[0]}, empty[1] = {e[0]}, wrap[1] = {e[0]};
	ov[1].off = ov[0].off + ov[0].len - 1;
	refused(ov, 2, 32 + ov[0].len + ov[1].len, "overlapping spans");
	refused(rev, 2, 32 + rev[0].len + rev[1].len, "shards out of order");
	empty[0].len = 0;
	refused(empty, 1, 16, "an empty entry");
	wrap[0].off = UINT64_MAX - 2;
	wrap[0].len = 5;
	refused(wrap, 1, 16 + wrap[0].len, "a span past 2^64");
	CHECK(cl_entries_packed(&src, NULL, 0) == 0 && src.n == 0 && src.bytes == 0, "an empty slice refused");

	cl_signkey_free(sk);
	if (!t_fail)
		printf("ok - streamed volumes (v2, v3; from a table and from packed entries) equal cl_volume_build's "
		       "bytes for 0/1/2/600 entries and %zu entries in 40 shards, at any read size; 8 corrupt slices "
		       "refused\n",
		       nm);
	return test_end("volstream");
}
