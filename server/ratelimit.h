/*
 * ratelimit.h - token buckets keyed by a short string (client address,
 * license-key hash), in a fixed-size table so that memory stays bounded
 * whatever the number of clients.  When the table is full the least
 * recently used bucket is recycled (that client starts again with a full
 * bucket: the limiter fails open, never closed).
 */
#ifndef SRV_RATELIMIT_H
#define SRV_RATELIMIT_H

struct ratelimit;

/* RATE tokens per second, BURST at most; RATE 0 yields NULL (no limit). */
struct ratelimit *rl_new(double rate, double burst);
void rl_free(struct ratelimit *rl);
/* Take one token for KEY: 0 if granted, else the seconds until one is there. */
double rl_take(struct ratelimit *rl, const char *key);

#endif
