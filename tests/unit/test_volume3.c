/*
 * test_volume3.c - key volume version 3 (docs/formats.md, "Key volume"):
 * entries written out by hand from the format (LEB128 shard delta, gap,
 * length, bytes; never produced by the code under test) parse to the spans
 * they name, and every malformed one is refused with CL_EFORMAT: overlong
 * or 65-bit numbers, a shard past the last, a span before a shard's data or
 * past its end, an empty or 4 GiB entry, bytes left over, too many entries.
 * Then cl_volume_accept(): which version a daemon writes for an Accept header.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "error.h"
#include "volume.h"
#include "testutil.h"

#define SIZE 100000 /* each shard's size; its data starts at 8 + 8 */

static uint8_t *held; /* the last volume parsed: its entries borrow from it until the next */

/* A version VERSION volume of N entries, BYTES entry bytes, and the LEN bytes at BODY; parsed. */
static int parse(unsigned version, size_t n, size_t bytes, const uint8_t *body, size_t len, struct cl_volume **v)
{
	json_t *h = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:f,s:s,s:f,s:s,s:s,s:[{s:s,s:I,s:I,s:s},{s:s,s:I,s:I,s:s}],"
			      "s:I,s:n,s:s,s:s,s:I,s:I}",
			      "format", "clvol", "model", (json_int_t)1, "model_name", "m", "model_version", "1",
			      "unit", "element", "scope", "global", "alpha", 0.25, "tier", "full", "beta", 0.0,
			      "locked_sha256", "00000000000000000000000000000000000000000000000000000000000000aa",
			      "original_sha256", "00000000000000000000000000000000000000000000000000000000000000dd",
			      "shards", "file", "a.safetensors", "header_len", (json_int_t)8, "size", (json_int_t)SIZE,
			      "locked_sha256", "00000000000000000000000000000000000000000000000000000000000000bb", "file",
			      "b.safetensors", "header_len", (json_int_t)8, "size", (json_int_t)SIZE, "locked_sha256",
			      "00000000000000000000000000000000000000000000000000000000000000cc", "license",
			      (json_int_t)7, "expires_at", "nonce", "n0", "ts", "2026-01-01T00:00:00Z", "entries",
			      (json_int_t)n, "bytes", (json_int_t)bytes);
	char *text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t hl = strlen(text), total = CL_VOLUME_PREFIX + hl + len + CL_SIG_LEN;
	uint8_t *buf = calloc(1, total);
	int r;

	memcpy(buf, CL_VOLUME_MAGIC, 8);
	cl_put_le(buf + 8, version, 4);
	cl_put_le(buf + 12, hl, 4);
	memcpy(buf + CL_VOLUME_PREFIX, text, hl);
	memcpy(buf + CL_VOLUME_PREFIX + hl, body, len);
	*v = NULL;
	r = cl_volume_parse(buf, total, v);
	if (r < 0)
		cl_volume_free(*v), *v = NULL;
	json_decref(h);
	free(text);
	free(held);
	held = buf;
	return r;
}

/* Refused, with one line naming the problem. */
#define REFUSED(n, bytes, what, ...)                                                                       \
	do {                                                                                               \
		static const uint8_t b_[] = {__VA_ARGS__};                                                 \
		struct cl_volume *v_;                                                                      \
		int r_ = parse(3, n, bytes, b_, sizeof(b_), &v_);                                          \
		CHECK(r_ == CL_EFORMAT, "%s: accepted (%d)", what, r_);                                    \
	} while (0)

static void test_parse(void)
{
	struct cl_volume *v;
	/*
	 * shard 0: 2 bytes at 16 (gap 16 from offset 0), 1 byte at 16 + 2 + 300
	 * (gap 300 = 0xac 0x02); shard 1 (delta 1): 3 bytes at 99997 (gap from 0,
	 * 0x9d 0x8d 0x06), ending at the shard's size.
	 */
	static const uint8_t good[] = {0x00, 0x10, 0x02, 0xaa, 0xbb, 0x00, 0xac, 0x02, 0x01, 0xcc,
				       0x01, 0x9d, 0x8d, 0x06, 0x03, 0x01, 0x02, 0x03};
	CHECK(parse(3, 3, 6, good, sizeof(good), &v) == 0, "good v3 volume: %s", cl_errmsg());
	if (v) {
		struct cl_volume_entry e[3];
		struct cl_volume_iter it;
		size_t k = 0;
		CHECK(v->version == 3 && v->n == 3 && v->bytes == 6, "v3: version %u, %zu entries", v->version, v->n);
		for (cl_volume_iter_all(v, &it); k < 3 && cl_volume_next(&it, &e[k]); k++)
			;
		CHECK(k == 3 && !cl_volume_next(&it, &e[0]), "read %zu entries, or more than 3", k);
		CHECK(e[0].shard == 0 && e[0].off == 16 && e[0].len == 2 && e[0].bytes[1] == 0xbb, "entry 0: %u %llu %u",
		      e[0].shard, (unsigned long long)e[0].off, e[0].len);
		CHECK(e[1].shard == 0 && e[1].off == 318 && e[1].len == 1 && e[1].bytes[0] == 0xcc, "entry 1: %u %llu %u",
		      e[1].shard, (unsigned long long)e[1].off, e[1].len);
		CHECK(e[2].shard == 1 && e[2].off == 99997 && e[2].len == 3 && e[2].bytes[2] == 3, "entry 2: %u %llu %u",
		      e[2].shard, (unsigned long long)e[2].off, e[2].len);
		/* shard 1 alone: its first entry counts from 0, whatever delta it was written with */
		cl_volume_iter_shard(v, 1, &it);
		CHECK(v->shards[0].n == 2 && v->shards[1].n == 1, "shard counts %zu %zu", v->shards[0].n, v->shards[1].n);
		CHECK(cl_volume_next(&it, &e[0]) && e[0].shard == 1 && e[0].off == 99997 && e[0].len == 3 &&
			      !cl_volume_next(&it, &e[1]),
		      "shard 1 alone: %u %llu %u", e[0].shard, (unsigned long long)e[0].off, e[0].len);
		cl_volume_free(v);
	}
	/* the same bytes as a version 2 volume are not 16-byte heads */
	CHECK(parse(2, 3, 6, good, sizeof(good), &v) == CL_EFORMAT, "v3 entries accepted as version 2");
	CHECK(parse(4, 3, 6, good, sizeof(good), &v) == CL_EUNSUPPORTED, "version 4 accepted");
	CHECK(parse(3, 0, 0, good, 0, &v) == 0 && v && v->n == 0, "an empty v3 volume: %s", cl_errmsg());
	cl_volume_free(v);

	REFUSED(1, 1, "overlong gap", 0x00, 0x90, 0x00, 0x01, 0xaa);
	REFUSED(1, 1, "overlong shard delta", 0x80, 0x00, 0x10, 0x01, 0xaa);
	REFUSED(1, 1, "overlong length", 0x00, 0x10, 0x81, 0x00, 0xaa);
	REFUSED(1, 1, "65-bit gap", 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0xaa);
	REFUSED(1, 1, "gap of 2^64 - 1", 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01,
		0xaa);
	REFUSED(1, 1, "shard delta past the last shard", 0x02, 0x10, 0x01, 0xaa);
	REFUSED(2, 2, "second shard delta past the last shard", 0x01, 0x10, 0x01, 0xaa, 0x01, 0x10, 0x01, 0xbb);
	REFUSED(1, 1, "span in the shard's header", 0x00, 0x0f, 0x01, 0xaa);
	REFUSED(1, 2, "span past the shard's end", 0x00, 0x9f, 0x8d, 0x06, 0x02, 0xaa, 0xbb); /* 99999 + 2 */
	REFUSED(1, 1, "gap past the shard's end", 0x00, 0xa0, 0x8d, 0x06, 0x01, 0xaa);        /* 100000 */
	REFUSED(1, 0, "empty entry", 0x00, 0x10, 0x00, 0x00);
	REFUSED(1, 1, "4 GiB entry", 0x00, 0x10, 0x80, 0x80, 0x80, 0x80, 0x10, 0xaa);
	REFUSED(1, 2, "truncated bytes", 0x00, 0x10, 0x02, 0xaa);
	REFUSED(1, 1, "truncated number", 0x00, 0x90);
	REFUSED(1, 1, "a byte after the entries", 0x00, 0x10, 0x01, 0xaa, 0x00);
	REFUSED(2, 1, "more entries than the bytes hold", 0x00, 0x10, 0x01, 0xaa);
	REFUSED(1, 2, "'bytes' not the sum", 0x00, 0x10, 0x01, 0xaa);
}

static void test_accept(void)
{
	static const struct {
		const char *accept;
		unsigned want;
	} cases[] = {
		{NULL, 2},
		{"", 2},
		{"*/*", 2},
		{"application/json", 2},
		{"application/vnd.corelocker.volume", 2},
		{"application/vnd.corelocker.volume; version=3", 3},
		{"application/json, application/vnd.corelocker.volume; version=3, */*", 3}, /* the agent's */
		{"APPLICATION/VND.CORELOCKER.VOLUME;VERSION=\"3\"", 3},
		{"application/vnd.corelocker.volume ; q=0.5 ; version = 3", 3},
		{"application/vnd.corelocker.volume; version=4", 2},
		{"application/vnd.corelocker.volume;version=4, application/vnd.corelocker.volume;version=3", 3},
		{"application/vnd.corelocker.volume; version=3; q=0", 2},
		{"application/vnd.corelocker.volume; version=3; q=0.000", 2},
		{"application/vnd.corelocker.volume; version=1", 2},
		{"application/vnd.corelocker.volume; version=33", 2},
		{"application/vnd.corelocker.volumes; version=3", 2},
		{"text/plain; version=3", 2},
		{"application/vnd.corelocker.volume; version", 2},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = cl_volume_accept(cases[i].accept);
		CHECK(got == cases[i].want, "Accept '%s': version %u, want %u",
		      cases[i].accept ? cases[i].accept : "(none)", got, cases[i].want);
	}
}

int main(void)
{
	test_parse();
	test_accept();
	free(held);
	return test_end("test_volume3");
}
