/* fingerprint.c - model fingerprints over one or many files. */
#include <string.h>

#include "fingerprint.h"

void cl_fingerprint(const uint8_t *index_sha, uint32_t nshards, const char *const *names,
		    const uint8_t (*digests)[CL_SHA256_LEN], uint8_t out[CL_SHA256_LEN])
{
	struct cl_sha *s;
	char hex[CL_SHA256_HEX];

	if (!index_sha) {
		memcpy(out, digests[0], CL_SHA256_LEN);
		return;
	}
	if (cl_sha_new(&s) < 0) {
		memset(out, 0, CL_SHA256_LEN);
		return;
	}
	cl_sha_update(s, "corelocker-sharded-v1\n", 22);
	cl_hex(index_sha, CL_SHA256_LEN, hex);
	cl_sha_update(s, hex, 64);
	cl_sha_update(s, "\n", 1);
	for (uint32_t i = 0; i < nshards; i++) {
		cl_hex(digests[i], CL_SHA256_LEN, hex);
		cl_sha_update(s, names[i], strlen(names[i]));
		cl_sha_update(s, " ", 1);
		cl_sha_update(s, hex, 64);
		cl_sha_update(s, "\n", 1);
	}
	cl_sha_final(s, out);
	cl_sha_free(s);
}
