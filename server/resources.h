/*
 * resources.h - what several routes share: resolving a model reference,
 * rendering models, tiers and licenses as JSON, and opening sealed slices.
 * Functions that take a db run on the caller's connection and leave no
 * statement active.
 */
#ifndef SRV_RESOURCES_H
#define SRV_RESOURCES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "slicecache.h"

/* A license's visible status: stored status, or 'expired' (parameter ?NOW). */
#define LICENSE_STATUS_SQL(now)                                                                    \
	"CASE WHEN l.status = 'revoked' THEN 'revoked' "                                                 \
	"WHEN l.expires_at IS NOT NULL AND l.expires_at <= " now " THEN 'expired' ELSE l.status END"
/* Licenses that keep a model or tier in use: active or suspended, not expired. */
#define LICENSE_IN_USE_SQL(now)                                                                    \
	"l.status IN ('active', 'suspended') AND (l.expires_at IS NULL OR l.expires_at > " now ")"

/* A model by id (digits) or by name (its newest version): the id, -1 if none, -2 on a db error. */
int64_t model_resolve(struct db *db, const char *ref);
/* Model ID as JSON (with its tiers), or NULL if it does not exist. */
json_t *model_json(struct db *db, int64_t id);
/* Tier NAME of MODEL as JSON, or NULL. */
json_t *tier_json(struct db *db, int64_t model, const char *name);
/* License ID as JSON, or NULL. */
json_t *license_json(struct db *db, int64_t id);

/* AAD strings of sealed rows. */
void aad_model_key(int64_t model, char *out, size_t len);
void aad_slice(int64_t model, const char *slice, char *out, size_t len);

/*
 * Slices: the spans one tier restores, encoded like volume entries
 * (u32 shard, u64 offset, u32 length, bytes) and sorted by (shard, offset).
 * slice_open() gives tier NAME of MODEL, its ratio and its unsealed slice
 * (from slicecache.h, read-only; slice_release() it).  -1: no such tier,
 * -2: failure (logged).
 */
int slice_open(struct db *db, int64_t model, const char *tier, double *ratio, struct slice **out);

#endif
