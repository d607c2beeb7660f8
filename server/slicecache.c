/* slicecache.c - a byte-bounded LRU list of unsealed slices under one mutex. */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "slicecache.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slice *head, *tail; /* most recently used first */
static size_t bytes;

static size_t cost(const struct slice *s)
{
	return s->plain_len + s->n * sizeof(*s->e);
}

static void destroy(struct slice *s)
{
	if (s->plain) {
		OPENSSL_cleanse(s->plain, s->plain_len);
		free(s->plain);
	}
	free(s->e);
	free(s);
}

static void unlink_slice(struct slice *s)
{
	*(s->prev ? &s->prev->next : &head) = s->next;
	*(s->next ? &s->next->prev : &tail) = s->prev;
	s->prev = s->next = NULL;
}

static void push_front(struct slice *s)
{
	s->prev = NULL;
	s->next = head;
	*(head ? &head->prev : &tail) = s;
	head = s;
}

/* Under the lock: take S out of the cache; returns it when it must be freed. */
static struct slice *drop(struct slice *s)
{
	unlink_slice(s);
	bytes -= cost(s);
	return --s->refs ? NULL : s;
}

static struct slice *find(int64_t model, const char *id)
{
	for (struct slice *s = head; s; s = s->next)
		if (s->model == model && !strcmp(s->id, id))
			return s;
	return NULL;
}

struct slice *slice_cache_get(int64_t model, const char *id)
{
	struct slice *s;

	pthread_mutex_lock(&lock);
	if ((s = find(model, id))) {
		s->refs++;
		unlink_slice(s);
		push_front(s);
	}
	pthread_mutex_unlock(&lock);
	return s;
}

struct slice *slice_cache_put(struct slice *s)
{
	struct slice *old, *dead = NULL;

	if (cost(s) > SLICE_CACHE_BYTES)
		return s; /* served uncached: it would evict everything else */
	pthread_mutex_lock(&lock);
	if ((old = find(s->model, s->id))) {
		old->refs++;
		pthread_mutex_unlock(&lock);
		slice_release(s);
		return old;
	}
	/* Make room; a slice still in use lives on until its last release. */
	while (bytes + cost(s) > SLICE_CACHE_BYTES && tail) {
		struct slice *v = drop(tail);
		if (v) {
			v->next = dead;
			dead = v;
		}
	}
	s->refs++; /* the cache's own reference */
	bytes += cost(s);
	push_front(s);
	pthread_mutex_unlock(&lock);
	while (dead) { /* wipe outside the lock */
		struct slice *next = dead->next;
		destroy(dead);
		dead = next;
	}
	return s;
}

void slice_release(struct slice *s)
{
	unsigned left;

	if (!s)
		return;
	pthread_mutex_lock(&lock);
	left = --s->refs;
	pthread_mutex_unlock(&lock);
	if (!left)
		destroy(s);
}

void slice_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	while (tail) {
		struct slice *v = drop(tail);
		if (v)
			destroy(v);
	}
	pthread_mutex_unlock(&lock);
}
