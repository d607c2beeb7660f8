/* sign.c - Ed25519 through OpenSSL's EVP_PKEY interface. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "sign.h"

struct cl_signkey {
	EVP_PKEY *pkey;
};

int cl_signkey_generate(const char *path)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *pkey = NULL;
	FILE *f = NULL;
	int fd = -1, r;

	if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1) {
		r = cl_fail(CL_ESYS, "cannot generate an Ed25519 key");
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = cl_fail_errno("%s", path);
		goto out;
	}
	if (!(f = fdopen(fd, "w"))) {
		r = cl_fail_errno("%s", path);
		goto out;
	}
	fd = -1;
	if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		r = cl_fail(CL_ESYS, "%s: cannot write the signing key", path);
		unlink(path);
		goto out;
	}
	r = 0;
out:
	if (f && fclose(f) != 0 && r == 0)
		r = cl_fail_errno("%s", path);
	if (fd >= 0)
		close(fd);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int cl_signkey_load(const char *path, struct cl_signkey **out)
{
	struct cl_signkey *k = NULL;
	struct stat st;
	FILE *f = fopen(path, "re");
	int r;

	if (!f)
		return cl_fail_errno("%s", path);
	if (fstat(fileno(f), &st) != 0) {
		r = cl_fail_errno("%s", path);
		goto out;
	}
	if (st.st_mode & 077) {
		r = cl_fail(CL_EINVAL, "%s: the signing key is readable by group or others (mode %04o); chmod 600 it",
			    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (!(k = calloc(1, sizeof(*k)))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	k->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (!k->pkey || EVP_PKEY_get_id(k->pkey) != EVP_PKEY_ED25519) {
		r = cl_fail(CL_EKEY, "%s: not an Ed25519 private key in PEM", path);
		goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
out:
	cl_signkey_free(k);
	fclose(f);
	return r;
}

void cl_signkey_free(struct cl_signkey *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey); /* OpenSSL clears private key material on free */
	free(k);
}

int cl_signkey_public(const struct cl_signkey *k, uint8_t pub[CL_PUB_LEN])
{
	size_t len = CL_PUB_LEN;

	if (EVP_PKEY_get_raw_public_key(k->pkey, pub, &len) != 1 || len != CL_PUB_LEN)
		return cl_fail(CL_ESYS, "cannot extract the public key");
	return 0;
}

int cl_signkey_public_pem(const struct cl_signkey *k, char **pem)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *s;
	long len;
	int r = CL_ENOMEM;

	if (!b)
		return cl_fail(CL_ENOMEM, "out of memory");
	if (PEM_write_bio_PUBKEY(b, k->pkey) != 1) {
		r = cl_fail(CL_ESYS, "cannot encode the public key");
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	if (len <= 0 || !(s = malloc((size_t)len + 1))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(s, data, (size_t)len);
	s[len] = 0;
	*pem = s;
	r = 0;
out:
	BIO_free(b);
	return r;
}

int cl_sign(const struct cl_signkey *k, const void *msg, size_t n, uint8_t sig[CL_SIG_LEN])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t len = CL_SIG_LEN;
	int r = 0;

	if (!c || EVP_DigestSignInit(c, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(c, sig, &len, msg, n) != 1 || len != CL_SIG_LEN)
		r = cl_fail(CL_ESYS, "Ed25519 signing failed");
	EVP_MD_CTX_free(c);
	return r;
}

static int pub_from_pkey(EVP_PKEY *p, uint8_t pub[CL_PUB_LEN])
{
	size_t len = CL_PUB_LEN;

	if (!p || EVP_PKEY_get_id(p) != EVP_PKEY_ED25519 || EVP_PKEY_get_raw_public_key(p, pub, &len) != 1 ||
	    len != CL_PUB_LEN)
		return cl_fail(CL_EKEY, "not an Ed25519 public key in PEM");
	return 0;
}

int cl_pubkey_from_pem(const char *pem, size_t len, uint8_t pub[CL_PUB_LEN])
{
	BIO *b;
	EVP_PKEY *p;
	int r;

	if (len > 65536 || !(b = BIO_new_mem_buf(pem, (int)len)))
		return cl_fail(CL_EKEY, "not an Ed25519 public key in PEM");
	p = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	r = pub_from_pkey(p, pub);
	EVP_PKEY_free(p);
	BIO_free(b);
	return r;
}

int cl_pubkey_load(const char *path, uint8_t pub[CL_PUB_LEN])
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *p;
	int r;

	if (!f)
		return cl_fail_errno("%s", path);
	p = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	r = pub_from_pkey(p, pub);
	EVP_PKEY_free(p);
	if (r < 0)
		return cl_fail(r, "%s: %s", path, cl_errmsg());
	return 0;
}

int cl_verify(const uint8_t pub[CL_PUB_LEN], const void *msg, size_t n, const uint8_t sig[CL_SIG_LEN])
{
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, CL_PUB_LEN);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int r = 0;

	if (!p || !c || EVP_DigestVerifyInit(c, NULL, NULL, NULL, p) != 1 ||
	    EVP_DigestVerify(c, sig, CL_SIG_LEN, msg, n) != 1)
		r = cl_fail(CL_EINTEGRITY, "Ed25519 signature does not verify");
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(p);
	return r;
}

size_t cl_b64_encode(const uint8_t *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = a[v >> 18];
		out[o++] = a[v >> 12 & 63];
		out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = 0;
	return o;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int cl_b64_decode(const char *s, size_t slen, uint8_t *out, size_t outlen)
{
	size_t o = 0;

	if (slen % 4 || slen / 4 * 3 < outlen || slen / 4 * 3 > outlen + 2)
		return cl_fail(CL_EINVAL, "base64 text has the wrong length");
	for (size_t i = 0; i < slen; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == slen && j >= 2) {
				v[j] = 0;
				pad++;
			} else if (pad || (v[j] = b64_val(s[i + j])) < 0) {
				return cl_fail(CL_EINVAL, "invalid base64");
			}
		}
		uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		uint8_t b[3] = {(uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x};
		for (int j = 0; j < 3 - pad; j++) {
			if (o >= outlen)
				return cl_fail(CL_EINVAL, "base64 text has the wrong length");
			out[o++] = b[j];
		}
	}
	return o == outlen ? 0 : cl_fail(CL_EINVAL, "base64 text has the wrong length");
}
