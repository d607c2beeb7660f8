/* delivery.c - streaming key volumes, at most max_deliveries at a time. */
#include <stdatomic.h>
#include <stdlib.h>

#include "delivery.h"
#include "error.h"
#include "log.h"
#include "server.h"

struct delivery {
	struct cl_volstream *vs;
	struct slice *slice; /* owns the bytes the entries point to */
	void *own;           /* an upgrade's entry table */
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
	free(d->own);
	free(d);
	delivery_give_slot();
}

enum MHD_Result reply_volume(struct req *r, struct cl_volstream *vs, struct slice *s, void *own)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (!d) {
		cl_volstream_free(vs);
		slice_release(s);
		free(own);
		delivery_give_slot();
		return MHD_NO;
	}
	d->vs = vs;
	d->slice = s;
	d->own = own;
	return reply_stream(r, 200, "application/vnd.corelocker.volume", cl_volstream_size(vs), on_read, d, on_done);
}
