/*
 * volcheck.c - test helper: parse and verify a key volume with lib/volume.c,
 * print its header as JSON, and optionally apply it to a single-file model.
 *
 *   volcheck VOLUME PUBKEY.pem [--nonce N] [--apply IN OUT] [--rebuild SIGNING_KEY]
 *
 * Exit 0 when the volume parses, its signature verifies and (with --nonce)
 * the nonce matches; 1 otherwise, with one line on stderr.  --rebuild builds
 * the parsed header and entries again with cl_volume_build() and the
 * server's signing key, in the volume's own version (2 or 3), and requires
 * the very same bytes (Ed25519 is deterministic): a streamed volume must be
 * what the builder writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mapfile.h"
#include "volume.h"

static int apply(const struct cl_volume *v, const char *in, const char *out)
{
	FILE *f = fopen(in, "rb");
	uint8_t *buf;
	long size;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc((size_t)size + 1)) || fread(buf, 1, (size_t)size, f) != (size_t)size)
		return -1;
	fclose(f);
	if (v->nshards != 1 || (uint64_t)size != v->shards[0].size)
		return -1;
	struct cl_volume_iter it;
	struct cl_volume_entry e;
	for (cl_volume_iter_all(v, &it); cl_volume_next(&it, &e);)
		memcpy(buf + e.off, e.bytes, e.len);
	if (!(f = fopen(out, "wb")) || fwrite(buf, 1, (size_t)size, f) != (size_t)size || fclose(f))
		return -1;
	free(buf);
	return 0;
}

static int same_as_built(const struct cl_volume *v, const uint8_t *buf, size_t len, const char *keypath)
{
	struct cl_signkey *sk = NULL;
	json_t *h = json_deep_copy(v->header);
	uint8_t *built = NULL;
	struct cl_volume_entry *t = NULL;
	size_t blen = 0, at = 0;

	if (!h || cl_signkey_load(keypath, &sk) < 0 || cl_volume_entries(v, &t) < 0 ||
	    cl_volume_build(h, t, v->n, v->version, sk, &built, &blen) < 0) {
		fprintf(stderr, "volcheck: cannot rebuild: %s\n", cl_errmsg());
		return -1;
	}
	while (at < blen && at < len && built[at] == buf[at])
		at++;
	json_decref(h);
	cl_signkey_free(sk);
	free(built);
	free(t);
	if (at != blen || blen != len) {
		fprintf(stderr, "volcheck: differs from cl_volume_build's %zu bytes at byte %zu (volume: %zu bytes)\n",
			blen, at, len);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t pub[CL_PUB_LEN];
	struct cl_volume *v = NULL;
	struct cl_map m;
	const char *nonce = NULL, *in = NULL, *out = NULL, *rebuild = NULL;
	char *text;

	if (argc < 3) {
		fprintf(stderr, "usage: volcheck VOLUME PUBKEY.pem [--nonce N] [--apply IN OUT] [--rebuild SIGNING_KEY]\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--nonce") && i + 1 < argc)
			nonce = argv[++i];
		else if (!strcmp(argv[i], "--apply") && i + 2 < argc) {
			in = argv[++i];
			out = argv[++i];
		} else if (!strcmp(argv[i], "--rebuild") && i + 1 < argc)
			rebuild = argv[++i];
		else
			return 2;
	}
	if (cl_map_open(argv[1], &m) < 0 || cl_pubkey_load(argv[2], pub) < 0 ||
	    cl_volume_parse(m.data ? m.data : (const uint8_t *)"", (size_t)m.size, &v) < 0 ||
	    cl_volume_verify(v, pub) < 0) {
		fprintf(stderr, "volcheck: %s\n", cl_errmsg());
		return 1;
	}
	if (nonce && strcmp(nonce, v->nonce)) {
		fprintf(stderr, "volcheck: nonce mismatch\n");
		return 1;
	}
	if (in && apply(v, in, out) < 0) {
		fprintf(stderr, "volcheck: cannot apply the volume to %s\n", in);
		return 1;
	}
	if (rebuild && same_as_built(v, m.data, (size_t)m.size, rebuild) < 0)
		return 1;
	text = json_dumps(v->header, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("%s\n", text);
	free(text);
	cl_volume_free(v);
	cl_map_close(&m);
	return 0;
}
