/*
 * test_volread.c - a key volume read as it arrives (lib/volread.c) gives
 * what cl_volume_parse() gives for the whole: versions 2 and 3, 0, 1 and 400
 * entries over 4 shards (one without any), fed 1 byte at a time, in random
 * chunks, and whole.  The bytes not yet arrived are poison, so a reader that
 * looked ahead would see it.  A shard counts as ready only once all its
 * entries arrived, and then they are exactly the parsed ones; the signature
 * verifies only when whole and unchanged.  Every single-byte change is
 * refused at least as the whole-volume parse and signature check refuse it
 * (the same structural verdict; never a verified volume); truncated
 * volumes, a byte too many, bad magic and version 4 are refused.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "error.h"
#include "sign.h"
#include "volread.h"
#include "testutil.h"

#define NSHARDS 4
#define POISON 0xa5

static json_t *header(void)
{
	json_t *shards = json_array();
	for (int i = 0; i < NSHARDS; i++)
		json_array_append_new(
		    shards, json_pack("{s:s,s:I,s:I,s:s}", "file", i ? "b.safetensors" : "a.safetensors",
				      "header_len", (json_int_t)(8 + 10 * i), "size", (json_int_t)(1 << 20),
				      "locked_sha256",
				      "00000000000000000000000000000000000000000000000000000000000000bb"));
	return json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:f,s:s,s:f,s:s,s:o,s:I,s:n,s:s,s:s}", "format", "clvol",
			 "model", (json_int_t)1, "model_name", "m", "model_version", "1", "unit", "element",
			 "scope", "global", "alpha", 0.25, "tier", "t", "beta", 0.1, "locked_sha256",
			 "00000000000000000000000000000000000000000000000000000000000000aa", "shards", shards,
			 "license", (json_int_t)7, "expires_at", "nonce", "n0", "ts", "2026-01-01T00:00:00Z");
}

/* Shard S's entries in A and B are the same spans and bytes. */
static int same_shard(const struct cl_volume *a, const struct cl_volume *b, uint32_t s)
{
	struct cl_volume_iter ia, ib;
	struct cl_volume_entry ea, eb;
	int more;

	if (a->shards[s].n != b->shards[s].n)
		return 0;
	cl_volume_iter_shard(a, s, &ia);
	cl_volume_iter_shard(b, s, &ib);
	while ((more = cl_volume_next(&ia, &ea)) == cl_volume_next(&ib, &eb) && more)
		if (ea.shard != eb.shard || ea.off != eb.off || ea.len != eb.len ||
		    memcmp(ea.bytes, eb.bytes, ea.len))
			return 0;
	return !more;
}

/*
 * Feed VOL (LEN bytes) in pieces of STEP (0: random) into a poisoned buffer,
 * checking each shard when it turns ready against REF (NULL: no reference).
 * The result of feed and end; *VERIFIED when the signature verified with PUB.
 */
static int feed(const uint8_t *vol, size_t len, size_t step, const struct cl_volume *ref, const uint8_t *pub,
		int *verified, const char *what)
{
	uint8_t *buf = malloc(len + 1);
	struct cl_volread r;
	uint32_t ready = 0;
	size_t at = 0;
	int rc = 0;

	memset(buf, POISON, len + 1);
	cl_volread_init(&r);
	*verified = 0;
	while (at < len && rc == 0) {
		size_t k = step ? step : 1 + (size_t)(rand() % 3000);
		if (k > len - at)
			k = len - at;
		memcpy(buf + at, vol + at, k);
		at += k;
		if ((rc = cl_volread_feed(&r, buf, at)) < 0)
			break;
		CHECK(r.ready >= ready, "%s: ready went back from %u to %u", what, ready, r.ready);
		CHECK(!r.done || at == len, "%s: done after %zu of %zu bytes", what, at, len);
		for (; ref && r.v && ready < r.ready; ready++)
			CHECK(ready < ref->nshards && same_shard(r.v, ref, ready),
			      "%s: shard %u ready at byte %zu but not the parsed one", what, ready, at);
	}
	if (rc == 0)
		rc = cl_volread_end(&r);
	if (rc == 0) {
		CHECK(r.done && r.ready == r.v->nshards, "%s: whole but not done", what);
		*verified = cl_volread_verify(&r, pub) == 0;
		if (ref)
			CHECK(r.v->n == ref->n && r.v->bytes == ref->bytes && r.v->version == ref->version &&
				  r.v->signed_len == ref->signed_len &&
				  !memcmp(r.v->sig, ref->sig, CL_SIG_LEN),
			      "%s: %zu entries, %llu bytes; parsed %zu, %llu", what, r.v->n,
			      (unsigned long long)r.v->bytes, ref->n, (unsigned long long)ref->bytes);
	}
	cl_volread_free(&r, 0);
	free(buf);
	return rc;
}

int main(void)
{
	char dir[] = "/tmp/test_volread.XXXXXX", path[64];
	static uint8_t data[200000];
	struct cl_volume_entry e[400];
	struct cl_signkey *sk = NULL;
	static const size_t counts[] = {0, 1, 400};
	static const size_t steps[] = {1, 7, 0, 0, 0, SIZE_MAX};
	uint8_t pub[CL_PUB_LEN];
	int verified, flips = 0;

	if (!mkdtemp(dir))
		return 99;
	snprintf(path, sizeof(path), "%s/k.pem", dir);
	if (cl_signkey_generate(path) < 0 || cl_signkey_load(path, &sk) < 0 ||
	    cl_signkey_public(sk, pub) < 0) {
		fprintf(stderr, "signing key: %s\n", cl_errmsg());
		return 99;
	}
	unlink(path);
	rmdir(dir);
	srand(15);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	/* Shards 0, 1 and 3 (2 has none), odd lengths up to 2 KiB (v3 lengths of 1 and 2 bytes), odd gaps. */
	uint64_t off = 0;
	for (size_t i = 0; i < 400; i++) {
		uint32_t shard = i < 150 ? 0 : i < 300 ? 1 : 3, len = 1 + (uint32_t)(rand() % 2000);
		if (i == 0 || i == 150 || i == 300)
			off = 8 + 8 + 10 * shard + (uint64_t)(rand() % 5);
		e[i] = (struct cl_volume_entry){shard, off, len, data + (i * 397) % (sizeof(data) - 2000)};
		off += len + (uint64_t)(rand() % 4) * (i % 40 ? 3 : 3000);
	}
	for (unsigned version = 2; version <= 3; version++)
		for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
			json_t *h = header();
			uint8_t *vol = NULL;
			size_t len = 0;
			struct cl_volume *ref = NULL;
			char what[96];
			CHECK(cl_volume_build(h, e, counts[c], version, sk, &vol, &len) == 0, "build: %s",
			      cl_errmsg());
			json_decref(h);
			if (!vol)
				continue;
			CHECK(cl_volume_parse(vol, len, &ref) == 0, "parse: %s", cl_errmsg());
			for (size_t k = 0; ref && k < sizeof(steps) / sizeof(steps[0]); k++) {
				snprintf(what, sizeof(what), "v%u, %zu entries, pieces of %zu", version,
					 counts[c], steps[k]);
				CHECK(feed(vol, len, steps[k], ref, pub, &verified, what) == 0 && verified,
				      "%s: refused or not verified: %s", what, cl_errmsg());
			}
			/* cut anywhere: refused at the end, and never verified */
			for (size_t cut = 0; ref && cut < len; cut += cut < 600 ? 1 : 997) {
				snprintf(what, sizeof(what), "v%u, %zu entries, cut at %zu", version,
					 counts[c], cut);
				CHECK(feed(vol, cut, 0, NULL, pub, &verified, what) < 0 && !verified,
				      "%s: accepted", what);
			}
			/* one byte too many */
			uint8_t *more = malloc(len + 1);
			memcpy(more, vol, len);
			more[len] = 0;
			snprintf(what, sizeof(what), "v%u, %zu entries, a byte after the signature", version,
				 counts[c]);
			CHECK(feed(more, len + 1, 0, NULL, pub, &verified, what) == CL_EFORMAT,
			      "%s: accepted", what);
			/* each byte changed: the whole-volume verdict, never a verified volume */
			for (size_t i = 0; ref && i < len; i += i < 2000 ? 1 : 613) {
				struct cl_volume *pv = NULL;
				memcpy(more, vol, len);
				more[i] ^= (uint8_t)(1u << (i % 8));
				int whole = cl_volume_parse(more, len, &pv) == 0;
				cl_volume_free(pv);
				snprintf(what, sizeof(what), "v%u, %zu entries, byte %zu changed", version,
					 counts[c], i);
				int got = feed(more, len, 0, NULL, pub, &verified, what) == 0;
				CHECK(got == whole, "%s: streamed %s, parsed whole %s", what,
				      got ? "ok" : "refused", whole ? "ok" : "refused");
				CHECK(!verified, "%s: verified", what);
				flips++;
			}
			if (version == 3 && c == 2) {
				memcpy(more, vol, len);
				more[0] ^= 1;
				CHECK(feed(more, len, 0, NULL, pub, &verified, "bad magic") == CL_EFORMAT,
				      "bad magic accepted");
				memcpy(more, vol, len);
				cl_put_le(more + 8, 4, 4);
				CHECK(feed(more, len, 0, NULL, pub, &verified, "version 4") ==
					  CL_EUNSUPPORTED,
				      "version 4 accepted");
			}
			free(more);
			cl_volume_free(ref);
			free(vol);
		}
	cl_signkey_free(sk);
	if (!t_fail)
		printf("ok - volumes read as they arrive (v2, v3; 0/1/400 entries; 1-byte, random and whole "
		       "pieces) "
		       "match cl_volume_parse shard by shard; cuts, a byte too many and %d changed bytes "
		       "refused\n",
		       flips);
	return test_end("test_volread");
}
