/*
 * seal.h - AES-256-GCM authenticated encryption and random bytes (OpenSSL).
 *
 * A sealed blob is: u8 version (1), a 12-byte random nonce, the ciphertext
 * (as long as the plaintext) and a 16-byte tag.  The associated data (AAD)
 * binds a blob to its place (e.g. "model 3 slice ab12..."), so a blob moved
 * to another row no longer opens.  Buffers are the caller's.
 */
#ifndef CL_SEAL_H
#define CL_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define CL_SEAL_KEY_LEN 32
#define CL_SEAL_OVERHEAD (1 + 12 + 16)

/* Fill P with N cryptographically random bytes. */
int cl_random(void *p, size_t n);

/* OUT receives N + CL_SEAL_OVERHEAD bytes. */
int cl_seal(const uint8_t key[CL_SEAL_KEY_LEN], const void *aad, size_t aadlen, const uint8_t *pt, size_t n,
	    uint8_t *out);
/* OUT receives N - CL_SEAL_OVERHEAD bytes; CL_EINTEGRITY if the tag, key or AAD do not match. */
int cl_unseal(const uint8_t key[CL_SEAL_KEY_LEN], const void *aad, size_t aadlen, const uint8_t *in, size_t n,
	      uint8_t *out);

/*
 * cl_unseal() without a second copy of a large blob: the caller has read its
 * ciphertext (LEN bytes) into BUF, which is decrypted in place.  HEAD is the
 * blob's first CL_SEAL_HEAD bytes (version and nonce), TAG its last 16.  On
 * failure BUF is wiped.
 */
#define CL_SEAL_HEAD (1 + 12)
#define CL_SEAL_TAG 16
int cl_unseal_inplace(const uint8_t key[CL_SEAL_KEY_LEN], const void *aad, size_t aadlen,
		      const uint8_t head[CL_SEAL_HEAD], uint8_t *buf, size_t len, const uint8_t tag[CL_SEAL_TAG]);

/* HMAC-SHA256 of MSG under KEY. */
int cl_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t n, uint8_t out[32]);

/* Constant-time comparison; 0 when equal. */
int cl_memeq_ct(const void *a, const void *b, size_t n);

#endif
