/*
 * slicecache.c - unsealed slices under one mutex: every slice in use is
 * listed, and those that fit the byte budget stay listed (LRU) after use.
 */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "slicecache.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slice *head, *tail; /* most recently used first */
static size_t bytes;              /* of the cached slices */
static size_t budget = 64u << 20; /* set from the configuration before any request */
static unsigned long long hits, misses; /* lookups that found a slice; slices unsealed and offered */

static size_t cost(const struct slice *s)
{
	return s->plain_len;
}

static void destroy(struct slice *s)
{
	if (s->plain) {
		OPENSSL_cleanse(s->plain, s->plain_len);
		free(s->plain);
	}
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

/* Under the lock: drop one reference of listed S; returns S when it must be freed (outside the lock). */
static struct slice *unref(struct slice *s)
{
	if (--s->refs)
		return NULL;
	unlink_slice(s);
	return s;
}

/* Under the lock: the cache gives up its reference to S. */
static struct slice *uncache(struct slice *s)
{
	s->cached = 0;
	bytes -= cost(s);
	return unref(s);
}

static struct slice *find(int64_t model, const char *id)
{
	for (struct slice *s = head; s; s = s->next)
		if (s->model == model && !strcmp(s->id, id))
			return s;
	return NULL;
}

void slice_cache_set_budget(size_t b)
{
	budget = b;
}

struct slice *slice_cache_get(int64_t model, const char *id)
{
	struct slice *s;

	pthread_mutex_lock(&lock);
	if ((s = find(model, id))) {
		s->refs++;
		unlink_slice(s);
		push_front(s);
		hits++;
	}
	pthread_mutex_unlock(&lock);
	return s;
}

void slice_cache_stats(struct slice_cache_stats *st)
{
	pthread_mutex_lock(&lock);
	st->bytes = bytes;
	st->hits = hits;
	st->misses = misses;
	pthread_mutex_unlock(&lock);
}

struct slice *slice_cache_put(struct slice *s)
{
	struct slice *old, *dead = NULL, *v, *prev;

	pthread_mutex_lock(&lock);
	misses++; /* every offer is a slice just unsealed */
	if ((old = find(s->model, s->id))) {
		old->refs++;
		pthread_mutex_unlock(&lock);
		slice_release(s);
		return old;
	}
	/* Over the budget alone: listed while in use, never cached (it would evict everything else). */
	if (cost(s) <= budget) {
		/* Make room; a slice still in use lives on until its last release. */
		for (v = tail; v && bytes + cost(s) > budget; v = prev) {
			prev = v->prev;
			if (v->cached && (v = uncache(v))) {
				v->next = dead;
				dead = v;
			}
		}
		s->refs++; /* the cache's own reference */
		s->cached = 1;
		bytes += cost(s);
	}
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
	struct slice *dead;

	if (!s)
		return;
	pthread_mutex_lock(&lock);
	if (s->prev || s->next || head == s) {
		dead = unref(s);
	} else { /* never listed (a failed unseal) */
		dead = --s->refs ? NULL : s;
	}
	pthread_mutex_unlock(&lock);
	if (dead)
		destroy(dead);
}

void slice_cache_clear(void)
{
	struct slice *v, *prev;

	pthread_mutex_lock(&lock);
	for (v = tail; v; v = prev) {
		prev = v->prev;
		if (v->cached && (v = uncache(v)))
			destroy(v);
	}
	pthread_mutex_unlock(&lock);
}
