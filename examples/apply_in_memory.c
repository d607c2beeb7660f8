/*
 * apply_in_memory.c - how an inference server unlocks a model without ever
 * writing the unlocked weights to disk: read the locked model into memory,
 * apply the signed key volume with cl_volume_apply(), and hand the buffer
 * to the runtime (here: report, and optionally write it out for a test).
 *
 *   apply_in_memory LOCKED VOLUME PUBKEY.pem [--nonce N] [--base-sha256 HEX] [-o OUT]
 *
 * --base-sha256 gives the SHA-256 of LOCKED when it is already a tier and
 * VOLUME an upgrade from that tier (the digest a previous apply printed).
 *
 * It uses only the public API (corelocker.h) and links libcorelocker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corelocker.h>

/* The whole file in a malloc'd buffer, or NULL. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = 0; /* PEM text is used as a string */
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	struct cl_apply_opts opts = {0};
	struct cl_apply_info info;
	struct cl_membuf model;
	uint8_t digest[1][32], base[1][32], *vol, *pem;
	size_t vlen, plen;
	const char *out = NULL;
	int r;

	if (argc < 4) {
		fprintf(stderr, "usage: apply_in_memory LOCKED VOLUME PUBKEY.pem [--nonce N] [--base-sha256 "
				"HEX] [-o OUT]\n");
		return 2;
	}
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--nonce") && i + 1 < argc)
			opts.nonce = argv[++i];
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--base-sha256") && i + 1 < argc && strlen(argv[i + 1]) == 64) {
			const char *h = argv[++i];
			for (int k = 0; k < 32; k++)
				if (sscanf(h + 2 * k, "%2hhx", &base[0][k]) != 1)
					return 2;
			opts.base_sha256 = (const uint8_t(*)[32])base;
		} else
			return 2;
	}
	if (!(model.data = slurp(argv[1], &model.len)) || !(vol = slurp(argv[2], &vlen)) ||
	    !(pem = slurp(argv[3], &plen))) {
		fprintf(stderr, "apply_in_memory: cannot read the inputs\n");
		return 1;
	}
	opts.pubkey_pem = (const char *)pem;
	r = cl_volume_apply(vol, vlen, &opts, &model, 1, &info, digest);
	if (r < 0) {
		fprintf(stderr, "apply_in_memory: %s (%s)\n", cl_errmsg(), cl_strerror(r));
		return 1;
	}
	printf("%s %s tier %s (beta %g): %llu spans, %llu bytes patched in memory%s\nsha256 ",
	       info.model_name, info.model_version, info.tier, info.beta, (unsigned long long)info.entries,
	       (unsigned long long)info.bytes,
	       info.original_verified ? ", the original (SHA-256 verified)" : "");
	for (int i = 0; i < 32; i++)
		printf("%02x", digest[0][i]);
	printf("\n");
	if (out) {
		FILE *f = fopen(out, "wb");
		if (!f || fwrite(model.data, 1, model.len, f) != model.len || fclose(f)) {
			fprintf(stderr, "apply_in_memory: cannot write %s\n", out);
			return 1;
		}
	}
	free(model.data);
	free(vol);
	free(pem);
	return 0;
}
