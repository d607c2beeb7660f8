/*
 * sign.h - Ed25519 signing keys and signatures (OpenSSL), plus base64.
 *
 * The private key lives in a PKCS#8 PEM file of mode 0600; the public key is
 * handed out as SubjectPublicKeyInfo PEM.  A cl_signkey belongs to its
 * loader and is wiped by cl_signkey_free().
 */
#ifndef CL_SIGN_H
#define CL_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define CL_SIG_LEN 64
#define CL_PUB_LEN 32

struct cl_signkey;

/* Create a new key in PATH (O_EXCL, mode 0600). */
int cl_signkey_generate(const char *path);
/* Load a private key; refuses a file readable by group or others. */
int cl_signkey_load(const char *path, struct cl_signkey **out);
void cl_signkey_free(struct cl_signkey *k);
int cl_signkey_public(const struct cl_signkey *k, uint8_t pub[CL_PUB_LEN]);
/* The public key as PEM text (NUL-terminated, caller frees). */
int cl_signkey_public_pem(const struct cl_signkey *k, char **pem);
int cl_sign(const struct cl_signkey *k, const void *msg, size_t n, uint8_t sig[CL_SIG_LEN]);

/* A raw public key from PEM text (SubjectPublicKeyInfo), or from a file. */
int cl_pubkey_from_pem(const char *pem, size_t len, uint8_t pub[CL_PUB_LEN]);
int cl_pubkey_load(const char *path, uint8_t pub[CL_PUB_LEN]);
/* 0 when SIG is PUB's signature of MSG, else CL_EINTEGRITY. */
int cl_verify(const uint8_t pub[CL_PUB_LEN], const void *msg, size_t n, const uint8_t sig[CL_SIG_LEN]);

/* Standard base64 with padding.  OUT holds 4 * ceil(n / 3) + 1 bytes. */
size_t cl_b64_encode(const uint8_t *p, size_t n, char *out);
/* Decode exactly OUTLEN bytes; CL_EINVAL on bad input or another length. */
int cl_b64_decode(const char *s, size_t slen, uint8_t *out, size_t outlen);

#endif
