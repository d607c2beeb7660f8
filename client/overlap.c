/*
 * overlap.c - patching while the key volume downloads (agent.h, struct
 * ag_stream): the download's file mapped once, at its largest size, so that
 * every byte keeps its address while more arrive; its entries checked as
 * they come (lib/volread.c, on the download's thread), and every shard's
 * pass running on a worker, each taking its entries as soon as they are
 * checked.  Nothing here publishes anything: ag_unlock renames the outputs
 * only after ag_stream_finish() said the signature verified.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "agent.h"
#include "error.h"

/* CORELOCKER_TEST_OVERLAP_TRACE (tests only): a stderr line when a pass gets its first entry. */
static int tracing(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("CORELOCKER_TEST_OVERLAP_TRACE") != NULL;
	return on;
}

void ag_stream_open(struct ag_stream *s, int fd, uint64_t max)
{
	void *p;

	s->state = -1;
	cl_volread_init(&s->r);
	tracing(); /* read the setting here, before any worker reads it */
	if (max > SIZE_MAX)
		return;
	/* Pages past the end of the file are never read: only bytes that arrived are. */
	p = mmap(NULL, (size_t)max, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->sync = 1;
	s->map = p;
	s->cap = max;
	s->state = 0;
}

/* Passes waiting for entries wake up: to more of them, or to their end. */
static void publish(struct ag_stream *s, int halt)
{
	pthread_mutex_lock(&s->mu);
	s->abort |= halt;
	s->ready = s->r.ready;
	if (s->r.i) { /* the shard being read: entries checked so far */
		s->cur = s->r.prev.shard;
		s->cur_n = s->r.v->shards[s->cur].n;
		s->cur_at = s->r.v->shards[s->cur].at;
	}
	s->at_len = s->len;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* End every pass and wait for them; S is off from now on. */
static void stop(struct ag_stream *s)
{
	if (s->sync)
		publish(s, 1);
	if (s->q)
		cl_queue_wait(s->q, 1);
	s->q = NULL;
	s->state = -1;
}

int ag_stream_entry(struct ag_stream *s, uint32_t i, size_t k, struct cl_volume_iter *it)
{
	const uint8_t *at = NULL;
	size_t n = 0;
	uint64_t len;
	int halted;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		if ((halted = s->abort))
			break;
		if (s->ready > i) { /* whole: the reader is past it and never writes it again */
			n = s->r.v->shards[i].n;
			at = s->r.v->shards[i].at;
			break;
		}
		if (s->cur == i && s->cur_n > k) {
			n = s->cur_n;
			at = s->cur_at;
			break;
		}
		pthread_cond_wait(&s->cv, &s->mu);
	}
	len = s->at_len;
	pthread_mutex_unlock(&s->mu);
	if (halted)
		return -1;
	if (n <= k)
		return 0;
	if (k == 0) {
		cl_volume_iter_at(s->r.v, i, at, n, it);
		if (tracing())
			fprintf(stderr, "corelocker-agent: test: shard %u patching from byte %llu\n", i,
				(unsigned long long)len);
	} else {
		it->left = n - k;
	}
	return 1;
}

static int on_data(void *arg, const uint8_t *p, size_t n)
{
	struct ag_stream *s = arg;

	(void)p; /* the same bytes, already in the file and so in the mapping */
	s->len += n;
	if (s->state < 0)
		return 0;
	if (s->len > s->cap || cl_volread_feed(&s->r, s->map, (size_t)s->len) < 0) {
		s->state = -1; /* a bad byte: the old order names it, after the signature */
		publish(s, 1);
		return 0;
	}
	if (s->state == 0 && s->r.v) {
		if (s->start(s->arg, s->r.v) < 0 ||
		    cl_queue_start(s->r.v->nshards, s->task, s->arg, &s->q) < 0) {
			s->state = -1;
			return 0;
		}
		s->state = 1;
	}
	if (s->state == 1)
		publish(s, 0);
	return 0;
}

/* The answer starts over from another server: the passes may be reading bytes about to go. */
static void on_restart(void *arg)
{
	stop(arg);
}

struct clh_sink ag_stream_sink(struct ag_stream *s)
{
	return (struct clh_sink){on_data, on_restart, s};
}

int ag_stream_finish(struct ag_stream *s, int fd, const uint8_t pub[CL_PUB_LEN], struct ag_vol *vol)
{
	int r;

	if (s->state != 1 || cl_volread_end(&s->r) < 0 || cl_volread_verify(&s->r, pub) < 0) {
		ag_stream_close(s);
		return 1;
	}
	r = cl_queue_wait(s->q, 0);
	s->q = NULL;
	s->state = -1;
	if (r < 0)
		return r;
	memset(vol, 0, sizeof(*vol));
	vol->fd = fd;
	vol->data = s->map;
	vol->size = s->len;
	vol->maplen = s->cap;
	vol->v = s->r.v;
	cl_volread_free(&s->r, 1);
	s->map = NULL;
	return 0;
}

void ag_stream_close(struct ag_stream *s)
{
	stop(s);
	cl_volread_free(&s->r, 0);
	if (s->map)
		munmap((void *)s->map, (size_t)s->cap);
	s->map = NULL;
	if (s->sync) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		s->sync = 0;
	}
}
