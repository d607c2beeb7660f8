/*
 * test_volstream.c - a streamed volume (lib/volstream.c) is byte for byte
 * what cl_volume_build() writes, in versions 2 and 3, whatever sizes the
 * reader asks for: empty volumes, one entry, many entries of odd lengths
 * over two shards, reads of 1, 7, 16, 4096 bytes and of random sizes; and
 * it parses back, and verifies, to the very entries it was built from.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "sign.h"
#include "volstream.h"
#include "testutil.h"

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

/* Stream with reads of STEP bytes (0: random sizes) into one buffer. */
static uint8_t *stream(const struct cl_volume_entry *e, size_t n, unsigned version, const struct cl_signkey *sk,
		       size_t step, size_t *len)
{
	json_t *h = header();
	struct cl_volstream *s = NULL;
	uint8_t *buf;
	size_t at = 0;
	ssize_t got;

	if (cl_volstream_new(h, e, n, version, sk, &s) < 0 || !(buf = malloc(cl_volstream_size(s) + 1))) {
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

int main(void)
{
	char dir[] = "/tmp/test_volstream.XXXXXX", path[64];
	static uint8_t data[300000];
	struct cl_volume_entry e[600];
	struct cl_signkey *sk = NULL;
	static const size_t counts[] = {0, 1, 2, 600};
	static const size_t steps[] = {1, 7, 16, 4096, 0};
	uint8_t pub[CL_PUB_LEN];

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
	for (unsigned version = 2; version <= 3; version++)
		for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
			json_t *h = header();
			uint8_t *built = NULL;
			size_t blen = 0;
			CHECK(cl_volume_build(h, e, counts[c], version, sk, &built, &blen) == 0, "build: %s",
			      cl_errmsg());
			json_decref(h);
			for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
				size_t slen = 0;
				uint8_t *s = stream(e, counts[c], version, sk, steps[k], &slen);
				struct cl_volume *v = NULL;
				CHECK(s && slen == blen && !memcmp(s, built, blen),
				      "v%u, %zu entries, reads of %zu: streamed bytes differ from cl_volume_build's",
				      version, counts[c], steps[k]);
				CHECK(s && cl_volume_parse(s, slen, &v) == 0 && cl_volume_verify(v, pub) == 0 &&
					      v->n == counts[c] && v->version == version,
				      "v%u, %zu entries: the streamed volume does not parse or verify: %s", version,
				      counts[c], cl_errmsg());
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
			free(built);
		}
	/* Unsorted entries are refused like cl_volume_build refuses them. */
	struct cl_volume_entry bad[2] = {e[1], e[0]};
	struct cl_volstream *s = NULL;
	json_t *h = header();
	CHECK(cl_volstream_new(h, bad, 2, 3, sk, &s) == CL_EINVAL && !s, "unsorted entries accepted");
	CHECK(cl_volstream_new(h, e, 2, 1, sk, &s) == CL_EINVAL && !s, "version 1 written");
	json_decref(h);
	cl_signkey_free(sk);
	if (!t_fail)
		printf("ok - streamed volumes (v2, v3) equal cl_volume_build's bytes for 0/1/2/600 entries and any "
		       "read size\n");
	return test_end("volstream");
}
