/* r_tiers.c - /v1/models/{id}/tiers: cut, list, show, delete. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "audit.h"
#include "cursor.h"
#include "log.h"
#include "resources.h"
#include "routes.h"
#include "seal.h"
#include "server.h"
#include "store.h"
#include "tiercut.h"
#include "util.h"

/* Serialize the sorted spans: u32 shard, u64 offset, u32 length, bytes. */
static uint8_t *serialize(const struct tier_cut *c, size_t *len)
{
	size_t total = c->n * CL_VOLUME_ENTRY_HEAD + c->bytes;
	uint8_t *buf = malloc(total + 1), *p = buf;

	if (!buf)
		return NULL;
	for (size_t i = 0; i < c->n; i++) {
		cl_put_le(p, c->e[i].shard, 4);
		cl_put_le(p + 4, c->e[i].off, 8);
		cl_put_le(p + 12, c->e[i].len, 4);
		memcpy(p + CL_VOLUME_ENTRY_HEAD, c->e[i].bytes, c->e[i].len);
		p += CL_VOLUME_ENTRY_HEAD + c->e[i].len;
	}
	*len = total;
	return buf;
}

enum MHD_Result h_tier_put(struct req *r)
{
	/* utility/label: what the owner measured at this ratio; a PUT without
	 * them clears them, as they belonged to the previous cut.  fingerprint:
	 * every license gets its own marked values (docs/trace.md); a PUT
	 * without it cuts a plain tier. */
	static const struct jfield spec[] = {
		{"ratio", JF_NUMBER, JF_REQUIRED, 0, 0},
		{"utility", JF_NUMBER, JF_NULLABLE, 0, 0},
		{"label", JF_STRING, JF_NULLABLE, 1, 64},
		{"fingerprint", JF_BOOL, JF_NULLABLE, 0, 0},
	};
	struct jval v[4];
	enum MHD_Result res;
	json_t *root = jreq_parse(r, spec, 4, v, &res), *detail = NULL, *t;
	const char *tier = r->seg[1];
	struct db *db = store_db();
	struct tier_cut c = {0};
	struct model_key mk = {0};
	uint8_t *plain = NULL, *sealed = NULL, rnd[16];
	size_t plen = 0;
	char slice_id[33], old_slice[33] = "", aad[128], target[96];
	int64_t id;
	int created = 1, rc;
	struct dbq *st;

	if (!root)
		return res;
	int has_u = v[1].present && !v[1].is_null, has_l = v[2].present && !v[2].is_null;
	int fingerprint = v[3].present && !v[3].is_null && v[3].i;
	char label[65] = "";
	if (has_l)
		snprintf(label, sizeof(label), "%s", v[2].s);
	json_decref(root);
	if (has_l && !has_u)
		return reply_error(r, E_INVALID_FIELD, "'label' names the scale of 'utility': give 'utility' too");
	if (!name_ok(tier, 64))
		return reply_error(r, E_BAD_REQUEST, "tier names are 1 to 64 characters of [A-Za-z0-9._+-]");
	if (!db)
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	if ((id = model_resolve(db, r->seg[0])) < 0)
		return id == -1 ? reply_error(r, E_NOT_FOUND, "no model '%s'", r->seg[0])
				: reply_error(r, E_INTERNAL, "database error");
	if (model_key_open(db, id, &mk) < 0)
		return reply_error(r, E_INTERNAL, "cannot open the model's key");
	if (!(v[0].d >= 0) || v[0].d > mk.k->alpha) {
		res = reply_error(r, E_INVALID_FIELD, "'ratio' must lie in [0, alpha = %g]", mk.k->alpha);
		goto out;
	}
	/* Cut outside the transaction: it is the slow part. */
	if (tier_cut(mk.k, v[0].d, &c) < 0) {
		res = reply_error(r, E_INTERNAL, "cannot cut the tier: %s", cl_errmsg());
		goto out;
	}
	if (!(plain = serialize(&c, &plen)) || !(sealed = malloc(plen + CL_SEAL_OVERHEAD)) ||
	    cl_random(rnd, sizeof(rnd)) < 0) {
		res = reply_error(r, E_INTERNAL, "out of memory");
		goto out;
	}
	cl_hex(rnd, sizeof(rnd), slice_id);
	aad_slice(id, slice_id, aad, sizeof(aad));
	if (cl_seal(srv.master, aad, strlen(aad), plain, plen, sealed) < 0) {
		res = reply_error(r, E_INTERNAL, "cannot seal the slice");
		goto out;
	}
	/* Swap the slice in one transaction: readers see the old tier or the new one. */
	if (store_begin(db) != DB_OK) {
		res = reply_error(r, E_UNAVAILABLE, "database busy");
		goto out;
	}
	st = db_q(db, "SELECT slice_id FROM tiers WHERE model_id = ?1 AND name = ?2");
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, tier);
	if (db_step(st) == DB_ROW) {
		snprintf(old_slice, sizeof(old_slice), "%s", db_text(st, 0));
		created = 0;
	}
	db_reset(st);
	st = db_q(db, "INSERT INTO slices (id, model_id, sealed) VALUES (?1, ?2, ?3)");
	db_bind_text(st, 1, slice_id);
	db_bind_int(st, 2, id);
	db_bind_blob(st, 3, sealed, plen + CL_SEAL_OVERHEAD);
	rc = db_step(st);
	db_reset(st);
	if (rc != DB_DONE)
		goto dbfail;
	st = db_q(db, "INSERT INTO tiers (model_id, name, ratio, slice_id, units, entries, bytes, created_at, "
			 "updated_at, utility, label, fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11) "
			 "ON CONFLICT (model_id, name) DO UPDATE SET ratio = ?3, slice_id = ?4, units = ?5, entries = ?6, "
			 "bytes = ?7, updated_at = ?8, utility = ?9, label = ?10, fingerprint = ?11");
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, tier);
	db_bind_double(st, 3, v[0].d);
	db_bind_text(st, 4, slice_id);
	db_bind_int(st, 5, (int64_t)c.units);
	db_bind_int(st, 6, (int64_t)c.n);
	db_bind_int(st, 7, (int64_t)c.bytes);
	db_bind_int(st, 8, db_now(db));
	if (has_u)
		db_bind_double(st, 9, v[1].d);
	else
		db_bind_null(st, 9); /* a cached statement keeps its last bindings */
	db_bind_text(st, 10, has_l ? label : NULL);
	db_bind_int(st, 11, fingerprint);
	rc = db_step(st);
	db_reset(st);
	if (rc != DB_DONE)
		goto dbfail;
	if (*old_slice) {
		st = db_q(db, "DELETE FROM slices WHERE id = ?1");
		db_bind_text(st, 1, old_slice);
		rc = db_step(st);
		db_reset(st);
		if (rc != DB_DONE)
			goto dbfail;
	}
	detail = json_pack("{s:f,s:I,s:I,s:o,s:b}", "ratio", v[0].d, "units", (json_int_t)c.units, "bytes",
			   (json_int_t)c.bytes, "utility", has_u ? json_real(v[1].d) : json_null(), "fingerprint",
			   fingerprint);
	snprintf(target, sizeof(target), "model:%lld/tier:%s", (long long)id, tier);
	if (audit_append(db, r->actor, created ? "tier.create" : "tier.recut", target, detail) < 0 ||
	    store_commit(db) != DB_OK)
		goto dbfail;
	log_info("model %lld tier %s cut at %g: %llu units by %s", (long long)id, tier, v[0].d,
		 (unsigned long long)c.units, r->actor);
	t = tier_json(db, id, tier);
	res = t ? reply_json(r, created ? 201 : 200, t) : reply_error(r, E_INTERNAL, "cannot read the tier back");
	goto out;
dbfail:
	log_err("model %lld tier %s: cannot store: %s", (long long)id, tier, db_errmsg(db));
	store_rollback(db);
	res = reply_error(r, E_INTERNAL, "cannot store the tier");
out:
	json_decref(detail);
	tier_cut_free(&c);
	model_key_close(&mk);
	if (plain) {
		OPENSSL_cleanse(plain, plen);
		free(plain);
	}
	free(sealed);
	return res;
}

enum MHD_Result h_tier_list(struct req *r)
{
	struct db *db = store_db();
	int64_t id = db ? model_resolve(db, r->seg[0]) : -2;
	json_t *m, *tiers;

	if (id == -2)
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	if (id < 0 || !(m = model_json(db, id)))
		return reply_error(r, E_NOT_FOUND, "no model '%s'", r->seg[0]);
	tiers = json_incref(json_object_get(m, "tiers"));
	json_decref(m);
	return reply_json(r, 200, json_pack("{s:I,s:o}", "model", (json_int_t)id, "tiers", tiers));
}

enum MHD_Result h_tier_show(struct req *r)
{
	struct db *db = store_db();
	int64_t id = db ? model_resolve(db, r->seg[0]) : -2;
	json_t *t;

	if (id == -2)
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	if (id < 0)
		return reply_error(r, E_NOT_FOUND, "no model '%s'", r->seg[0]);
	if (!(t = tier_json(db, id, r->seg[1])))
		return reply_error(r, E_NOT_FOUND, "model %lld has no tier '%s'", (long long)id, r->seg[1]);
	return reply_json(r, 200, t);
}

enum MHD_Result h_tier_delete(struct req *r)
{
	struct db *db = store_db();
	struct dbq *st;
	char slice[33] = "", target[96];
	int64_t id, users = 0;
	int rc;

	if (!db || store_begin(db) != DB_OK)
		return reply_error(r, E_UNAVAILABLE, "database busy");
	if ((id = model_resolve(db, r->seg[0])) < 0) {
		store_rollback(db);
		return reply_error(r, E_NOT_FOUND, "no model '%s'", r->seg[0]);
	}
	st = db_q(db, "SELECT slice_id FROM tiers WHERE model_id = ?1 AND name = ?2");
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, r->seg[1]);
	if (db_step(st) == DB_ROW)
		snprintf(slice, sizeof(slice), "%s", db_text(st, 0));
	db_reset(st);
	if (!*slice) {
		store_rollback(db);
		return reply_error(r, E_NOT_FOUND, "model %lld has no tier '%s'", (long long)id, r->seg[1]);
	}
	st = db_q(db, "SELECT COUNT(*) FROM licenses l WHERE l.model_id = ?1 AND l.tier = ?2 AND " LICENSE_IN_USE_SQL("?3"));
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, r->seg[1]);
	db_bind_int(st, 3, db_now(db));
	if (db_step(st) == DB_ROW)
		users = db_int(st, 0);
	db_reset(st);
	if (users) {
		store_rollback(db);
		return reply_error(r, E_IN_USE, "%lld active or suspended license(s) use tier '%s'", (long long)users,
				   r->seg[1]);
	}
	st = db_q(db, "DELETE FROM tiers WHERE model_id = ?1 AND name = ?2");
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, r->seg[1]);
	rc = db_step(st);
	db_reset(st);
	if (rc == DB_DONE) {
		st = db_q(db, "DELETE FROM slices WHERE id = ?1");
		db_bind_text(st, 1, slice);
		rc = db_step(st);
		db_reset(st);
	}
	snprintf(target, sizeof(target), "model:%lld/tier:%s", (long long)id, r->seg[1]);
	if (rc != DB_DONE || audit_append(db, r->actor, "tier.delete", target, NULL) < 0 ||
	    store_commit(db) != DB_OK) {
		store_rollback(db);
		return reply_error(r, E_INTERNAL, "cannot delete the tier");
	}
	return reply_empty(r, 204);
}
