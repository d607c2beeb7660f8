/*
 * tiercut.h - what a tier at ratio BETA restores, cut from a model's stored
 * key (the library's cl_key_foreach_restore): for PUT .../tiers/{tier}, and
 * for upgrades, which subtract what a file at the agent's ratio holds.
 */
#ifndef SRV_TIERCUT_H
#define SRV_TIERCUT_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "clkey.h"
#include "volume.h"

/* A stored key, unsealed: K borrows from PLAIN; model_key_close() wipes both. */
struct model_key {
	uint8_t *plain;
	size_t len;
	struct cl_key *k;
};

/* Unseal model ID's key: 0, -1 when it has none, -2 on a failure (logged). */
int model_key_open(struct db *db, int64_t id, struct model_key *mk);
void model_key_close(struct model_key *mk);

/* The spans tier RATIO restores, sorted by (shard, offset); bytes borrow from the key. */
struct tier_cut {
	struct cl_volume_entry *e;
	size_t n, cap;
	uint64_t units, bytes;
};

/* Cut tier RATIO from K into C (zeroed first): 0 or a CL_E* code (cl_errmsg() says why). */
int tier_cut(const struct cl_key *k, double ratio, struct tier_cut *c);
void tier_cut_free(struct tier_cut *c);

#endif
