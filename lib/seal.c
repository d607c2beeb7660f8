/* seal.c - AES-256-GCM, HMAC-SHA256 and randomness through OpenSSL. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <limits.h>
#include <string.h>

#include "error.h"
#include "seal.h"

#define SEAL_VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16

int cl_random(void *p, size_t n)
{
	if (n > INT_MAX || RAND_bytes(p, (int)n) != 1)
		return cl_fail(CL_ESYS, "the random number generator failed");
	return 0;
}

static int gcm(int enc, const uint8_t *key, const uint8_t *nonce, const void *aad, size_t aadlen,
	       const uint8_t *in, size_t n, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0, r = CL_EINTEGRITY;

	if (!c)
		return cl_fail(CL_ENOMEM, "out of memory");
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1)
		goto out;
	if (aadlen && EVP_CipherUpdate(c, NULL, &len, aad, (int)aadlen) != 1)
		goto out;
	/* EVP takes int lengths: feed big buffers in pieces. */
	for (size_t done = 0; done < n;) {
		int piece = n - done > (1u << 30) ? (1 << 30) : (int)(n - done);
		if (EVP_CipherUpdate(c, out + done, &len, in + done, piece) != 1)
			goto out;
		done += (size_t)piece;
	}
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &len) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return r;
}

int cl_seal(const uint8_t key[CL_SEAL_KEY_LEN], const void *aad, size_t aadlen, const uint8_t *pt, size_t n,
	    uint8_t *out)
{
	int r;

	if (aadlen > INT_MAX)
		return cl_fail(CL_EINVAL, "associated data too long");
	out[0] = SEAL_VERSION;
	if ((r = cl_random(out + 1, NONCE_LEN)) < 0)
		return r;
	if (gcm(1, key, out + 1, aad, aadlen, pt, n, out + 1 + NONCE_LEN, out + 1 + NONCE_LEN + n) < 0)
		return cl_fail(CL_ESYS, "AES-256-GCM encryption failed");
	return 0;
}

int cl_unseal(const uint8_t key[CL_SEAL_KEY_LEN], const void *aad, size_t aadlen, const uint8_t *in, size_t n,
	      uint8_t *out)
{
	size_t len;
	uint8_t tag[TAG_LEN];

	if (n < CL_SEAL_OVERHEAD || in[0] != SEAL_VERSION || aadlen > INT_MAX)
		return cl_fail(CL_EINTEGRITY, "sealed blob is truncated or of an unknown version");
	len = n - CL_SEAL_OVERHEAD;
	memcpy(tag, in + 1 + NONCE_LEN + len, TAG_LEN);
	if (gcm(0, key, in + 1, aad, aadlen, in + 1 + NONCE_LEN, len, out, tag) < 0) {
		OPENSSL_cleanse(out, len);
		return cl_fail(CL_EINTEGRITY, "sealed blob does not open: wrong master key, data moved or corrupted");
	}
	return 0;
}

int cl_unseal_inplace(const uint8_t key[CL_SEAL_KEY_LEN], const void *aad, size_t aadlen,
		      const uint8_t head[CL_SEAL_HEAD], uint8_t *buf, size_t len, const uint8_t tag[CL_SEAL_TAG])
{
	uint8_t t[TAG_LEN];

	if (head[0] != SEAL_VERSION || aadlen > INT_MAX)
		return cl_fail(CL_EINTEGRITY, "sealed blob of an unknown version");
	memcpy(t, tag, TAG_LEN);
	if (gcm(0, key, head + 1, aad, aadlen, buf, len, buf, t) < 0) { /* GCM allows in == out */
		OPENSSL_cleanse(buf, len);
		return cl_fail(CL_EINTEGRITY, "sealed blob does not open: wrong master key, data moved or corrupted");
	}
	return 0;
}

int cl_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t n, uint8_t out[32])
{
	unsigned len = 32;

	if (keylen > INT_MAX || !HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &len))
		return cl_fail(CL_ESYS, "HMAC-SHA256 failed");
	return 0;
}

int cl_memeq_ct(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n);
}
