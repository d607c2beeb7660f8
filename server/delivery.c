/* delivery.c - streaming key volumes, at most max_deliveries at a time. */
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "error.h"
#include "log.h"
#include "mark.h"
#include "seal.h"
#include "server.h"
#include "tiercut.h"

struct delivery {
	struct cl_volstream *vs;
	struct slice *slice; /* owns the bytes the entries point to */
	void *own;           /* an upgrade's entry table, or a marked copy */
	size_t own_len;      /* bytes of OWN to wipe: a marked copy's */
	uint64_t pos;
};

static atomic_uint in_flight;

int delivery_take_slot(void)
{
	unsigned n = atomic_fetch_add(&in_flight, 1);

	if (n >= (unsigned)srv.cfg->max_deliveries) {
		atomic_fetch_sub(&in_flight, 1);
		return -1;
	}
	return 0;
}

void delivery_give_slot(void)
{
	atomic_fetch_sub(&in_flight, 1);
}

unsigned delivery_in_flight(void)
{
	return atomic_load(&in_flight);
}

static ssize_t on_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct delivery *d = cls;
	ssize_t n;

	if (pos != d->pos) { /* libmicrohttpd reads a reply in order, once */
		log_bug("volume stream asked for offset %llu at %llu", (unsigned long long)pos,
			(unsigned long long)d->pos);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if ((n = cl_volstream_read(d->vs, (uint8_t *)buf, max)) <= 0) {
		log_bug("volume stream at %llu: %s", (unsigned long long)pos, n < 0 ? cl_errmsg() : "ended early");
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	d->pos += (uint64_t)n;
	return n;
}

static void on_done(void *cls)
{
	struct delivery *d = cls;

	cl_volstream_free(d->vs);
	slice_release(d->slice);
	OPENSSL_cleanse(d->own, d->own_len);
	free(d->own);
	free(d);
	delivery_give_slot();
}

enum MHD_Result reply_volume(struct req *r, struct cl_volstream *vs, unsigned version, struct slice *s, void *own,
			     size_t own_len)
{
	/* version 2 keeps the type old agents know; a newer one names itself */
	const char *ctype = version == 3 ? CL_VOLUME_MEDIA "; version=3" : CL_VOLUME_MEDIA;
	struct delivery *d = calloc(1, sizeof(*d));

	if (!d) {
		cl_volstream_free(vs);
		slice_release(s);
		OPENSSL_cleanse(own, own_len);
		free(own);
		delivery_give_slot();
		return MHD_NO;
	}
	d->vs = vs;
	d->slice = s;
	d->own = own;
	d->own_len = own_len;
	return reply_stream(r, 200, ctype, cl_volstream_size(vs), on_read, d, on_done);
}

int delivery_mark_secret(int64_t model, uint8_t out[32])
{
	char label[64];

	snprintf(label, sizeof(label), "corelocker trace model %lld", (long long)model);
	return cl_hmac_sha256(srv.master, sizeof(srv.master), label, strlen(label), out);
}

int delivery_mark(struct db *db, int64_t model, int64_t license, double beta, const struct cl_volume_entry *e,
		  size_t n, struct cl_volume_entry **out, size_t *outlen)
{
	struct model_key mk;
	struct cl_volume_entry *m = NULL;
	uint8_t secret[CL_MARK_SECRET_LEN];
	uint64_t bytes = 0;
	size_t len;
	int r = -1;

	for (size_t i = 0; i < n; i++)
		bytes += e[i].len;
	/* The key names the tensor and dtype of every span; the slice does not. */
	if (model_key_open(db, model, &mk) < 0)
		return -1;
	if (bytes > SIZE_MAX - (n + 1) * sizeof(*m) || !(m = malloc(len = (n + 1) * sizeof(*m) + (size_t)bytes))) {
		log_err("license %lld: out of memory for a marked volume", (long long)license);
		goto out;
	}
	if (delivery_mark_secret(model, secret) < 0 ||
	    cl_mark_entries(mk.k, secret, license, beta, e, n, m, (uint8_t *)(m + n + 1)) < 0) {
		log_bug("license %lld: cannot mark the volume: %s", (long long)license, cl_errmsg());
		goto out;
	}
	*out = m;
	*outlen = len;
	m = NULL;
	r = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (m) {
		OPENSSL_cleanse(m, len);
		free(m);
	}
	model_key_close(&mk);
	return r;
}
