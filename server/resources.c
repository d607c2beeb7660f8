/* resources.c - shared lookups and JSON renderings. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jsonx.h"
#include "cursor.h"
#include "log.h"
#include "resources.h"
#include "seal.h"
#include "server.h"
#include "store.h"
#include "util.h"

int64_t model_resolve(sqlite3 *db, const char *ref)
{
	int64_t id = parse_id(ref), found = -1;
	sqlite3_stmt *st;
	int rc;

	if (id >= 0) {
		st = store_q(db, "SELECT id FROM models WHERE id = ?1");
		if (st)
			sqlite3_bind_int64(st, 1, id);
	} else {
		if (!name_ok(ref, 64))
			return -1;
		st = store_q(db, "SELECT id FROM models WHERE name = ?1 ORDER BY id DESC LIMIT 1");
		if (st)
			store_bind_text(st, 1, ref);
	}
	if (!st)
		return -2;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		found = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		found = -2;
	sqlite3_reset(st);
	return found;
}

#define TIER_COLS "name, ratio, units, entries, bytes, created_at, updated_at, utility, label"

static json_t *tier_row(sqlite3_stmt *st)
{
	int has_u = sqlite3_column_type(st, 7) != SQLITE_NULL, has_l = sqlite3_column_type(st, 8) != SQLITE_NULL;

	return json_pack("{s:s,s:f,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "name", store_text(st, 0), "ratio",
			 sqlite3_column_double(st, 1), "units", (json_int_t)sqlite3_column_int64(st, 2), "entries",
			 (json_int_t)sqlite3_column_int64(st, 3), "bytes", (json_int_t)sqlite3_column_int64(st, 4),
			 "created_at", json_time(sqlite3_column_int64(st, 5), 1), "updated_at",
			 json_time(sqlite3_column_int64(st, 6), 1), "utility",
			 has_u ? json_real(sqlite3_column_double(st, 7)) : json_null(), "label",
			 has_l ? json_string(store_text(st, 8)) : json_null());
}

json_t *model_json(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st = store_q(db, "SELECT id, name, version, unit, scope, alpha, locked_sha256, "
				       "original_sha256, key_sha256, key_bytes, units_finite, units_locked, shards, "
				       "created_at FROM models WHERE id = ?1");
	json_t *m = NULL, *shards, *tiers;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return NULL;
	}
	shards = cl_json_parse(store_text(st, 12), strlen(store_text(st, 12)), 4, NULL, 0);
	m = json_pack("{s:I,s:s,s:s,s:s,s:s,s:f,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:o}", "id",
		      (json_int_t)sqlite3_column_int64(st, 0), "name", store_text(st, 1), "version", store_text(st, 2),
		      "unit", store_text(st, 3), "scope", store_text(st, 4), "alpha", sqlite3_column_double(st, 5),
		      "locked_sha256", store_text(st, 6), "original_sha256", store_text(st, 7), "key_sha256",
		      store_text(st, 8), "key_bytes", (json_int_t)sqlite3_column_int64(st, 9), "units_finite",
		      (json_int_t)sqlite3_column_int64(st, 10), "units_locked", (json_int_t)sqlite3_column_int64(st, 11),
		      "shards", shards ? shards : json_array(), "created_at", json_time(sqlite3_column_int64(st, 13), 1));
	sqlite3_reset(st);
	if (!m)
		return NULL;
	tiers = json_array();
	st = store_q(db, "SELECT " TIER_COLS " FROM tiers WHERE model_id = ?1 ORDER BY ratio DESC, name");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(tiers, tier_row(st));
		sqlite3_reset(st);
	}
	json_object_set_new(m, "tiers", tiers);
	return m;
}

json_t *tier_json(sqlite3 *db, int64_t model, const char *name)
{
	sqlite3_stmt *st = store_q(db, "SELECT " TIER_COLS " FROM tiers WHERE model_id = ?1 AND name = ?2");
	json_t *t = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, model);
	store_bind_text(st, 2, name);
	if (sqlite3_step(st) == SQLITE_ROW && (t = tier_row(st)))
		json_object_set_new(t, "model", json_integer((json_int_t)model));
	sqlite3_reset(st);
	return t;
}

json_t *license_json(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st = store_q(db, "SELECT l.id, l.model_id, m.name, l.tier, l.customer, " LICENSE_STATUS_SQL("?2")
				       ", l.expires_at, l.max_machines, l.created_at, l.updated_at, "
				       "(SELECT COUNT(*) FROM machines WHERE license_id = l.id) "
				       "FROM licenses l JOIN models m ON m.id = l.model_id WHERE l.id = ?1");
	json_t *j = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now_s());
	if (sqlite3_step(st) == SQLITE_ROW)
		j = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:o,s:o}", "id",
			      (json_int_t)sqlite3_column_int64(st, 0), "model", (json_int_t)sqlite3_column_int64(st, 1),
			      "model_name", store_text(st, 2), "tier", store_text(st, 3), "customer", store_text(st, 4),
			      "status", store_text(st, 5), "expires_at",
			      json_time(sqlite3_column_int64(st, 6), sqlite3_column_type(st, 6) != SQLITE_NULL),
			      "max_machines", (json_int_t)sqlite3_column_int64(st, 7), "machines",
			      (json_int_t)sqlite3_column_int64(st, 10), "created_at",
			      json_time(sqlite3_column_int64(st, 8), 1), "updated_at",
			      json_time(sqlite3_column_int64(st, 9), 1));
	sqlite3_reset(st);
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

static int slice_entries(const uint8_t *p, size_t len, struct cl_volume_entry **out, size_t *n)
{
	struct cl_cursor c = {p, len, 0};
	struct cl_volume_entry *e = NULL;
	size_t cap = 0, k = 0;

	while (c.left) {
		if (k == cap) {
			cap = cap ? cap * 2 : 256;
			struct cl_volume_entry *ne = realloc(e, cap * sizeof(*e));
			if (!ne) {
				free(e);
				return -1;
			}
			e = ne;
		}
		e[k].shard = (uint32_t)cl_cur_uint(&c, 4);
		e[k].off = cl_cur_uint(&c, 8);
		e[k].len = (uint32_t)cl_cur_uint(&c, 4);
		e[k].bytes = cl_cur_take(&c, e[k].len);
		if (c.bad) {
			free(e);
			return -1;
		}
		k++;
	}
	*out = e;
	*n = k;
	return 0;
}

/*
 * Read tier NAME of MODEL's slice and unseal it.  The sealed blob is read in
 * pieces (incremental blob I/O) straight into the plaintext buffer and
 * decrypted in place: a large slice is held once, not once sealed by SQLite
 * and once in clear.  One read transaction: the tier row and the blob agree.
 */
static int slice_unseal(sqlite3 *db, int64_t model, const char *tier, double *ratio, struct slice **out)
{
	sqlite3_stmt *st = store_q(db, "SELECT t.ratio, t.slice_id, s.rowid, length(s.sealed) FROM tiers t "
				       "JOIN slices s ON s.id = t.slice_id WHERE t.model_id = ?1 AND t.name = ?2");
	uint8_t head[CL_SEAL_HEAD], tag[CL_SEAL_TAG];
	sqlite3_blob *blob = NULL;
	struct slice *s = NULL;
	char aad[128];
	int64_t rowid;
	size_t slen;
	int own = sqlite3_get_autocommit(db), rc, r = -2; /* else the caller's transaction */

	if (!st || (own && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK))
		return -2;
	sqlite3_bind_int64(st, 1, model);
	store_bind_text(st, 2, tier);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -1 : -2;
		goto out;
	}
	*ratio = sqlite3_column_double(st, 0);
	rowid = sqlite3_column_int64(st, 2);
	slen = (size_t)sqlite3_column_int64(st, 3);
	if (slen < CL_SEAL_OVERHEAD || slen > INT_MAX || !(s = calloc(1, sizeof(*s))) ||
	    (s->refs = 1, !(s->plain = malloc(slen - CL_SEAL_OVERHEAD + 1)))) {
		log_bug("slice of model %lld tier %s: bad size or out of memory", (long long)model, tier);
		goto out;
	}
	s->model = model;
	snprintf(s->id, sizeof(s->id), "%s", store_text(st, 1));
	s->plain_len = slen - CL_SEAL_OVERHEAD;
	if (sqlite3_blob_open(db, "main", "slices", "sealed", rowid, 0, &blob) != SQLITE_OK ||
	    sqlite3_blob_read(blob, head, CL_SEAL_HEAD, 0) != SQLITE_OK ||
	    sqlite3_blob_read(blob, tag, CL_SEAL_TAG, (int)(slen - CL_SEAL_TAG)) != SQLITE_OK) {
		log_err("slice of model %lld tier %s: cannot read: %s", (long long)model, tier, sqlite3_errmsg(db));
		goto out;
	}
	for (size_t at = 0; at < s->plain_len;) {
		size_t n = s->plain_len - at < (1u << 20) ? s->plain_len - at : (1u << 20);
		if (sqlite3_blob_read(blob, s->plain + at, (int)n, (int)(CL_SEAL_HEAD + at)) != SQLITE_OK) {
			log_err("slice of model %lld tier %s: cannot read: %s", (long long)model, tier, sqlite3_errmsg(db));
			goto out;
		}
		at += n;
	}
	aad_slice(model, s->id, aad, sizeof(aad));
	if (cl_unseal_inplace(srv.master, aad, strlen(aad), head, s->plain, s->plain_len, tag) < 0 ||
	    slice_entries(s->plain, s->plain_len, &s->e, &s->n) < 0) {
		log_bug("slice of model %lld tier %s: %s", (long long)model, tier, cl_errmsg());
		goto out;
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	sqlite3_blob_close(blob);
	sqlite3_reset(st);
	if (own)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL); /* a read transaction: nothing to lose */
	slice_release(s);
	return r;
}

static pthread_mutex_t unseal_lock = PTHREAD_MUTEX_INITIALIZER;

int slice_open(sqlite3 *db, int64_t model, const char *tier, double *ratio, struct slice **out)
{
	sqlite3_stmt *st = store_q(db, "SELECT ratio, slice_id FROM tiers WHERE model_id = ?1 AND name = ?2");
	struct slice *s;
	char id[33];
	int rc;

	if (!st)
		return -2;
	sqlite3_bind_int64(st, 1, model);
	store_bind_text(st, 2, tier);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? -1 : -2;
	}
	*ratio = sqlite3_column_double(st, 0);
	snprintf(id, sizeof(id), "%s", store_text(st, 1));
	sqlite3_reset(st);
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
