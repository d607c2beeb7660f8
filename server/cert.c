/*
 * cert.c - a self-signed TLS certificate for a first test, made with
 * OpenSSL's API (no openssl(1) to shell out to, no openssl.cnf to depend
 * on).  Production sites use a certificate from their own CA.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "log.h"
#include "owner.h"

#define CERT_DAYS 365

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (!(e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)))
		return -1;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

static X509 *make_cert(EVP_PKEY *pkey, const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];
	char san[300];
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	X509 *x = X509_new();
	X509_NAME *name;
	int is_ip = inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1, ok = 0;

	snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", host);
	if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f; /* a positive serial number */
	ok = X509_set_version(x, X509_VERSION_3) && (bn = BN_bin2bn(serial, sizeof(serial), NULL)) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) && X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 60L * 60 * 24 * CERT_DAYS) && X509_set_pubkey(x, pkey) &&
	     (name = X509_get_subject_name(x)) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0) &&
	     X509_set_issuer_name(x, name);
	/* Its own trust anchor (clients pass it as --cacert), so no CA:TRUE. */
	ok = ok && add_ext(x, NID_subject_alt_name, san) == 0 &&
	     add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
	     add_ext(x, NID_key_usage, "critical,digitalSignature") == 0 &&
	     add_ext(x, NID_ext_key_usage, "serverAuth") == 0 && add_ext(x, NID_subject_key_identifier, "hash") == 0 &&
	     X509_sign(x, pkey, EVP_sha256()) > 0;
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Open PATH for a new file of MODE; an existing one is replaced only with FORCE. */
static FILE *create(const char *path, mode_t mode, int force)
{
	int fd;
	FILE *f;

	if (force && unlink(path) != 0 && errno != ENOENT) {
		log_err("%s: cannot replace: %s", path, strerror(errno));
		return NULL;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
		if (errno == EEXIST)
			log_err("%s exists; refusing to overwrite it (--force replaces it)", path);
		else
			log_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!(f = fdopen(fd, "w")))
		close(fd);
	return f;
}

static int finish(FILE *f, const char *path, int wrote)
{
	int ok = wrote && fflush(f) == 0 && fsync(fileno(f)) == 0;

	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		log_err("%s: cannot write it", path);
		unlink(path);
		return -1;
	}
	return owner_chown(path);
}

int cert_self_signed(const char *host, const char *cert_path, const char *key_path, int force)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	FILE *f;
	struct stat st;
	int r = -1;

	if (!force && (stat(key_path, &st) == 0 || stat(cert_path, &st) == 0)) {
		log_err("%s exists; refusing to overwrite it (--force replaces it)",
			stat(key_path, &st) == 0 ? key_path : cert_path);
		return -1;
	}
	if (owner_mkdir_for(key_path) < 0 || owner_mkdir_for(cert_path) < 0)
		return -1;
	if (!(pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) || !(x = make_cert(pkey, host))) {
		log_err("cannot make a certificate for %s (OpenSSL)", host);
		goto out;
	}
	if (!(f = create(key_path, 0600, force)) ||
	    finish(f, key_path, PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)) < 0)
		goto out;
	if (!(f = create(cert_path, 0644, force)) || finish(f, cert_path, PEM_write_X509(f, x)) < 0) {
		unlink(key_path);
		goto out;
	}
	r = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return r;
}
