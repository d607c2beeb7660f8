/*
 * keymatch.h - does a key belong to this model?  The structure (shards,
 * header lengths, tensors) must match, and every shard must hash to the
 * SHA-256 the key expects: the locked one, or for an upgrade a known tier.
 */
#ifndef CL_KEYMATCH_H
#define CL_KEYMATCH_H

#include "clkey.h"
#include "model.h"

int cl_key_match_structure(const struct cl_key *k, const struct cl_model *m);
/* 0 when every shard of M hashes to the key's locked SHA-256. */
int cl_key_match_locked(const struct cl_key *k, const struct cl_model *m);

#endif
