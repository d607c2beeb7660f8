/* digest.h - SHA-256 (OpenSSL EVP) with hex helpers. */
#ifndef CL_DIGEST_H
#define CL_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define CL_SHA256_LEN 32
#define CL_SHA256_HEX 65

struct cl_sha;
int cl_sha_new(struct cl_sha **out);
void cl_sha_update(struct cl_sha *s, const void *p, size_t n);
void cl_sha_final(struct cl_sha *s, uint8_t out[CL_SHA256_LEN]);
void cl_sha_free(struct cl_sha *s);

void cl_sha256(const void *p, size_t n, uint8_t out[CL_SHA256_LEN]);
void cl_hex(const uint8_t *p, size_t n, char *out); /* out: 2n+1 bytes */
int cl_unhex(const char *s, uint8_t *out, size_t n); /* 0 or CL_EINVAL */

#endif
