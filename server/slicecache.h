/*
 * slicecache.h - unsealed tier slices kept in memory between key deliveries.
 *
 * Unsealing and parsing a tier's slice for every POST /v1/key was a fifth of
 * the daemon's CPU time for a 1 MiB volume.  A slice is stored under a random
 * id and its row never changes: a re-cut seals a new slice under a new id and
 * deletes the old one.  So a cached slice found by the id that the tier row
 * names now holds exactly the bytes of the database, and nothing needs to be
 * invalidated; slices no longer named are never asked for again and age out.
 * The license (status, expiry, seat) and the tier row are still read from the
 * database for every request.
 *
 * At most the budget of plaintext is kept once no delivery uses it (a
 * slice holds no entry table: its entries are read in place), least
 * recently used first out; a dropped slice is wiped.  A slice in use stays
 * findable whatever its size, so concurrent deliveries of one tier share
 * one copy (a full tier's slice can be larger than the whole budget; it is
 * then dropped when its last user is done).  Slices are shared read-only
 * between threads and counted:
 * slice_cache_get() and slice_cache_put() give the caller one reference,
 * slice_release() returns it.
 */
#ifndef SRV_SLICECACHE_H
#define SRV_SLICECACHE_H

#include <stddef.h>
#include <stdint.h>

#include "entries.h"

/* The budget ([limits] slice_cache, 64 MiB by default; a slice costs its plaintext's size). */
void slice_cache_set_budget(size_t bytes);

struct slice {
	int64_t model;
	char id[33];
	uint8_t *plain; /* the unsealed slice: packed entries (entries.h) */
	size_t plain_len;
	struct cl_entries ent; /* over plain, checked when it was unsealed */
	/* bookkeeping of slicecache.c */
	unsigned refs; /* the cache holds one while the slice counts against the budget */
	int cached;    /* it does (else it is listed only while in use) */
	struct slice *prev, *next;
};

/* Slice ID of MODEL with a reference, or NULL when it is not cached. */
struct slice *slice_cache_get(int64_t model, const char *id);
/*
 * Offer S (filled, with refs = 1: the caller's) to the cache.  Returns the
 * caller's reference: S, or the same slice that another thread cached first
 * (S is then released).
 */
struct slice *slice_cache_put(struct slice *s);
/* Give a reference back (NULL is fine); the last one wipes and frees. */
void slice_release(struct slice *s);
/* For /metrics: bytes cached now, lookups that found a slice in memory and that did not. */
struct slice_cache_stats {
	size_t bytes;
	unsigned long long hits, misses;
};
void slice_cache_stats(struct slice_cache_stats *st);
/* Drop every cached slice (at shutdown, once no request runs). */
void slice_cache_clear(void);

#endif
