/* digest.c - SHA-256 through OpenSSL. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "error.h"

struct cl_sha {
	EVP_MD_CTX *ctx;
};

int cl_sha_new(struct cl_sha **out)
{
	struct cl_sha *s = calloc(1, sizeof(*s));

	if (!s || !(s->ctx = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
		cl_sha_free(s);
		return cl_fail(CL_ENOMEM, "cannot create a SHA-256 context");
	}
	*out = s;
	return 0;
}

void cl_sha_update(struct cl_sha *s, const void *p, size_t n)
{
	EVP_DigestUpdate(s->ctx, p, n);
}

void cl_sha_final(struct cl_sha *s, uint8_t out[CL_SHA256_LEN])
{
	unsigned len = CL_SHA256_LEN;
	EVP_DigestFinal_ex(s->ctx, out, &len);
}

void cl_sha_free(struct cl_sha *s)
{
	if (!s)
		return;
	EVP_MD_CTX_free(s->ctx);
	free(s);
}

void cl_sha256(const void *p, size_t n, uint8_t out[CL_SHA256_LEN])
{
	unsigned len = CL_SHA256_LEN;
	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void cl_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cl_unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return CL_EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return CL_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
