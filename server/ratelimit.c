/* ratelimit.c - token buckets in an open-addressed table with LRU recycling. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ratelimit.h"

#define SLOTS 8192
#define PROBE 16
#define KEYLEN 64

struct bucket {
	char key[KEYLEN + 1];
	double tokens, last;
};

struct ratelimit {
	pthread_mutex_t lock;
	double rate, burst;
	struct bucket b[SLOTS];
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct ratelimit *rl_new(double rate, double burst)
{
	struct ratelimit *rl;

	if (rate <= 0 || !(rl = calloc(1, sizeof(*rl))))
		return NULL;
	pthread_mutex_init(&rl->lock, NULL);
	rl->rate = rate;
	rl->burst = burst < 1 ? 1 : burst;
	return rl;
}

void rl_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

double rl_take(struct ratelimit *rl, const char *key)
{
	char k[KEYLEN + 1];
	double now = mono(), wait = 0;
	struct bucket *b = NULL, *oldest = NULL;
	uint64_t h;

	if (!rl)
		return 0;
	strncpy(k, key, KEYLEN);
	k[KEYLEN] = 0;
	h = fnv(k);
	pthread_mutex_lock(&rl->lock);
	for (unsigned i = 0; i < PROBE; i++) {
		struct bucket *c = &rl->b[(h + i) % SLOTS];
		if (!strcmp(c->key, k)) {
			b = c;
			break;
		}
		if (!oldest || c->last < oldest->last)
			oldest = c;
	}
	if (!b) {
		b = oldest;
		strcpy(b->key, k);
		b->tokens = rl->burst;
		b->last = now;
	}
	b->tokens += (now - b->last) * rl->rate;
	if (b->tokens > rl->burst)
		b->tokens = rl->burst;
	b->last = now;
	if (b->tokens >= 1)
		b->tokens -= 1;
	else
		wait = (1 - b->tokens) / rl->rate;
	pthread_mutex_unlock(&rl->lock);
	return wait;
}
