/* resources.c - shared lookups and JSON renderings. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jsonx.h"
#include "log.h"
#include "resources.h"
#include "seal.h"
#include "server.h"
#include "store.h"
#include "util.h"

int64_t model_resolve(struct db *db, const char *ref)
{
	int64_t id = parse_id(ref), found = -1;
	struct dbq *st;
	int rc;

	if (id >= 0) {
		st = db_q(db, "SELECT id FROM models WHERE id = ?1");
		if (st)
			db_bind_int(st, 1, id);
	} else {
		if (!name_ok(ref, 64))
			return -1;
		st = db_q(db, "SELECT id FROM models WHERE name = ?1 ORDER BY id DESC LIMIT 1");
		if (st)
			db_bind_text(st, 1, ref);
	}
	if (!st)
		return -2;
	rc = db_step(st);
	if (rc == DB_ROW)
		found = db_int(st, 0);
	else if (rc != DB_DONE)
		found = -2;
	db_reset(st);
	return found;
}

#define TIER_COLS "name, ratio, units, entries, bytes, created_at, updated_at, utility, label, fingerprint"

static json_t *tier_row(struct dbq *st)
{
	int has_u = !db_is_null(st, 7), has_l = !db_is_null(st, 8);

	return json_pack("{s:s,s:f,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:b}", "name", db_text(st, 0), "ratio",
			 db_double(st, 1), "units", (json_int_t)db_int(st, 2), "entries",
			 (json_int_t)db_int(st, 3), "bytes", (json_int_t)db_int(st, 4),
			 "created_at", json_time(db_int(st, 5), 1), "updated_at",
			 json_time(db_int(st, 6), 1), "utility",
			 has_u ? json_real(db_double(st, 7)) : json_null(), "label",
			 has_l ? json_string(db_text(st, 8)) : json_null(), "fingerprint", db_int(st, 9) != 0);
}

json_t *model_json(struct db *db, int64_t id)
{
	struct dbq *st = db_q(db, "SELECT id, name, version, unit, scope, alpha, locked_sha256, "
				       "original_sha256, key_sha256, key_bytes, units_finite, units_locked, shards, "
				       "created_at FROM models WHERE id = ?1");
	json_t *m = NULL, *shards, *tiers;

	if (!st)
		return NULL;
	db_bind_int(st, 1, id);
	if (db_step(st) != DB_ROW) {
		db_reset(st);
		return NULL;
	}
	shards = cl_json_parse(db_text(st, 12), strlen(db_text(st, 12)), 4, NULL, 0);
	m = json_pack("{s:I,s:s,s:s,s:s,s:s,s:f,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:o}", "id",
		      (json_int_t)db_int(st, 0), "name", db_text(st, 1), "version", db_text(st, 2),
		      "unit", db_text(st, 3), "scope", db_text(st, 4), "alpha", db_double(st, 5),
		      "locked_sha256", db_text(st, 6), "original_sha256", db_text(st, 7), "key_sha256",
		      db_text(st, 8), "key_bytes", (json_int_t)db_int(st, 9), "units_finite",
		      (json_int_t)db_int(st, 10), "units_locked", (json_int_t)db_int(st, 11),
		      "shards", shards ? shards : json_array(), "created_at", json_time(db_int(st, 13), 1));
	db_reset(st);
	if (!m)
		return NULL;
	tiers = json_array();
	st = db_q(db, "SELECT " TIER_COLS " FROM tiers WHERE model_id = ?1 ORDER BY ratio DESC, name");
	if (st) {
		db_bind_int(st, 1, id);
		while (db_step(st) == DB_ROW)
			json_array_append_new(tiers, tier_row(st));
		db_reset(st);
	}
	json_object_set_new(m, "tiers", tiers);
	return m;
}

json_t *tier_json(struct db *db, int64_t model, const char *name)
{
	struct dbq *st = db_q(db, "SELECT " TIER_COLS " FROM tiers WHERE model_id = ?1 AND name = ?2");
	json_t *t = NULL;

	if (!st)
		return NULL;
	db_bind_int(st, 1, model);
	db_bind_text(st, 2, name);
	if (db_step(st) == DB_ROW && (t = tier_row(st)))
		json_object_set_new(t, "model", json_integer((json_int_t)model));
	db_reset(st);
	return t;
}

json_t *license_json(struct db *db, int64_t id)
{
	struct dbq *st = db_q(db, "SELECT l.id, l.model_id, m.name, l.tier, l.customer, " LICENSE_STATUS_SQL("?2")
				       ", l.expires_at, l.max_machines, l.created_at, l.updated_at, "
				       "(SELECT COUNT(*) FROM machines WHERE license_id = l.id), "
				       "l.lease_seconds, l.floating, l.max_checkout "
				       "FROM licenses l JOIN models m ON m.id = l.model_id WHERE l.id = ?1");
	json_t *j = NULL;

	if (!st)
		return NULL;
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, db_now(db));
	if (db_step(st) == DB_ROW)
		j = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:o,s:o}", "id",
			      (json_int_t)db_int(st, 0), "model", (json_int_t)db_int(st, 1),
			      "model_name", db_text(st, 2), "tier", db_text(st, 3), "customer", db_text(st, 4),
			      "status", db_text(st, 5), "expires_at",
			      json_time(db_int(st, 6), !db_is_null(st, 6)),
			      "max_machines", (json_int_t)db_int(st, 7), "machines",
			      (json_int_t)db_int(st, 10), "created_at",
			      json_time(db_int(st, 8), 1), "updated_at",
			      json_time(db_int(st, 9), 1));
	if (j) {
		json_object_set_new(j, "lease_seconds",
				    db_is_null(st, 11) ? json_null() : json_integer((json_int_t)db_int(st, 11)));
		json_object_set_new(j, "floating", json_boolean(db_int(st, 12) != 0));
		json_object_set_new(j, "max_checkout", json_integer((json_int_t)db_int(st, 13)));
	}
	db_reset(st);
	return j;
}

void aad_model_key(int64_t model, char *out, size_t len)
{
	snprintf(out, len, "corelocker model %lld key", (long long)model);
}

void aad_slice(int64_t model, const char *slice, char *out, size_t len)
{
	snprintf(out, len, "corelocker model %lld slice %s", (long long)model, slice);
}

/*
 * Read tier NAME of MODEL's slice and unseal it.  The sealed blob is read in
 * pieces straight into the plaintext buffer (its tag lands just after) and
 * decrypted in place: a large slice is held once, not once sealed by the
 * database and once in clear.  A slice id names one immutable blob (a re-cut
 * makes a new one), so the pieces always belong together; a slice deleted
 * meanwhile fails the read.  Its entries are checked once here (bounds,
 * order) and then read in place by every delivery: no table of them is
 * built.
 */
static int slice_unseal(struct db *db, int64_t model, const char *tier, double *ratio, struct slice **out)
{
	struct dbq *st = db_q(db, "SELECT t.ratio, t.slice_id, length(s.sealed) FROM tiers t "
				  "JOIN slices s ON s.id = t.slice_id WHERE t.model_id = ?1 AND t.name = ?2");
	uint8_t head[CL_SEAL_HEAD], tag[CL_SEAL_TAG];
	struct slice *s = NULL;
	char aad[128];
	size_t slen, body, chunk;
	int rc, r = -2;

	if (!st)
		return -2;
	db_bind_int(st, 1, model);
	db_bind_text(st, 2, tier);
	if ((rc = db_step(st)) != DB_ROW) {
		r = rc == DB_DONE ? -1 : -2;
		goto out;
	}
	*ratio = db_double(st, 0);
	slen = (size_t)db_int(st, 2);
	if (slen < CL_SEAL_OVERHEAD || slen > INT_MAX || !(s = calloc(1, sizeof(*s))) ||
	    (s->refs = 1, !(s->plain = malloc(slen - CL_SEAL_HEAD + 1)))) {
		log_bug("slice of model %lld tier %s: bad size or out of memory", (long long)model, tier);
		goto out;
	}
	s->model = model;
	snprintf(s->id, sizeof(s->id), "%s", db_text(st, 1));
	db_reset(st);
	s->plain_len = slen - CL_SEAL_OVERHEAD;
	if (db_slice_read(db, s->id, 0, head, CL_SEAL_HEAD) < 0)
		goto unreadable;
	/*
	 * The ciphertext and the tag after it in one pass: SQLite reaches an
	 * offset in a blob by walking its overflow pages from the start, so
	 * reading the tag on its own cost a second walk of the whole slice.
	 */
	body = slen - CL_SEAL_HEAD;
	chunk = db_slice_chunk(db) ? db_slice_chunk(db) : body;
	for (size_t at = 0; at < body;) {
		size_t n = body - at < chunk ? body - at : chunk;
		if (db_slice_read(db, s->id, (int64_t)(CL_SEAL_HEAD + at), s->plain + at, n) < 0)
			goto unreadable;
		at += n;
	}
	memcpy(tag, s->plain + s->plain_len, CL_SEAL_TAG);
	aad_slice(model, s->id, aad, sizeof(aad));
	if (cl_unseal_inplace(srv.master, aad, strlen(aad), head, s->plain, s->plain_len, tag) < 0 ||
	    cl_entries_packed(&s->ent, s->plain, s->plain_len) < 0) {
		log_bug("slice of model %lld tier %s: %s", (long long)model, tier, cl_errmsg());
		goto out;
	}
	*out = s;
	s = NULL;
	r = 0;
	goto out;
unreadable:
	log_err("slice of model %lld tier %s: cannot read: %s", (long long)model, tier, db_errmsg(db));
out:
	db_reset(st);
	slice_release(s);
	return r;
}

static pthread_mutex_t unseal_lock = PTHREAD_MUTEX_INITIALIZER;

int slice_open(struct db *db, int64_t model, const char *tier, double *ratio, struct slice **out)
{
	struct dbq *st = db_q(db, "SELECT ratio, slice_id FROM tiers WHERE model_id = ?1 AND name = ?2");
	struct slice *s;
	char id[33];
	int rc;

	if (!st)
		return -2;
	db_bind_int(st, 1, model);
	db_bind_text(st, 2, tier);
	rc = db_step(st);
	if (rc != DB_ROW) {
		db_reset(st);
		return rc == DB_DONE ? -1 : -2;
	}
	*ratio = db_double(st, 0);
	snprintf(id, sizeof(id), "%s", db_text(st, 1));
	db_reset(st);
	if ((s = slice_cache_get(model, id))) {
		*out = s;
		return 0;
	}
	/*
	 * One unseal at a time: the deliveries that miss together then wait for
	 * the first one's copy instead of each holding its own.  A miss reads the
	 * tier row again: a re-cut may have come in between.
	 */
	pthread_mutex_lock(&unseal_lock);
	if ((s = slice_cache_get(model, id)))
		rc = 0;
	else if ((rc = slice_unseal(db, model, tier, ratio, &s)) == 0)
		s = slice_cache_put(s);
	pthread_mutex_unlock(&unseal_lock);
	if (rc == 0)
		*out = s;
	return rc;
}
