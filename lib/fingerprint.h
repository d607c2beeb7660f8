/*
 * fingerprint.h - the SHA-256 that names a whole model.  For a single file it
 * is the file's SHA-256 (sha256sum agrees).  For a sharded model it is the
 * SHA-256 of the text "corelocker-sharded-v1\n<index sha>\n" followed by
 * "<shard file> <shard sha>\n" per shard in sorted-name order.
 */
#ifndef CL_FINGERPRINT_H
#define CL_FINGERPRINT_H

#include "digest.h"

void cl_fingerprint(const uint8_t *index_sha, uint32_t nshards, const char *const *names,
		    const uint8_t (*digests)[CL_SHA256_LEN], uint8_t out[CL_SHA256_LEN]);

#endif
