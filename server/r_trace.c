/*
 * r_trace.c - POST /v1/models/{id}/trace: what `corelockerctl trace` needs to
 * score a leaked copy (docs/trace.md): the model's mark secret and every
 * license with its tier.  A POST, so that a read-scope token cannot fetch
 * the secret, and audited (model.trace): whoever holds the secret could
 * find and undo a licensee's marks.
 */
#include <openssl/crypto.h>
#include <stdio.h>

#include "audit.h"
#include "delivery.h"
#include "digest.h"
#include "log.h"
#include "mark.h"
#include "resources.h"
#include "routes.h"
#include "store.h"

static json_t *licenses(struct db *db, int64_t model)
{
	struct dbq *st = db_q(db, "SELECT l.id, l.customer, l.tier, " LICENSE_STATUS_SQL("?2") ", coalesce(t.fingerprint, 0) "
				  "FROM licenses l LEFT JOIN tiers t ON t.model_id = l.model_id AND t.name = l.tier "
				  "WHERE l.model_id = ?1 ORDER BY l.id");
	json_t *a = json_array();
	int rc;

	if (!st || !a) {
		json_decref(a);
		return NULL;
	}
	db_bind_int(st, 1, model);
	db_bind_int(st, 2, db_now(db));
	while ((rc = db_step(st)) == DB_ROW)
		json_array_append_new(a, json_pack("{s:I,s:s,s:s,s:s,s:b}", "id", (json_int_t)db_int(st, 0), "customer",
						   db_text(st, 1), "tier", db_text(st, 2), "status", db_text(st, 3),
						   "fingerprint", db_int(st, 4) != 0));
	db_reset(st);
	if (rc != DB_DONE) {
		json_decref(a);
		return NULL;
	}
	return a;
}

enum MHD_Result h_model_trace(struct req *r)
{
	struct db *db = store_db();
	uint8_t secret[CL_MARK_SECRET_LEN];
	char hex[2 * CL_MARK_SECRET_LEN + 1], target[64];
	json_t *lics = NULL, *body;
	int64_t id;

	if (!db || store_begin(db) != DB_OK)
		return reply_error(r, E_UNAVAILABLE, "database busy");
	if ((id = model_resolve(db, r->seg[0])) < 0) {
		store_rollback(db);
		return id == -1 ? reply_error(r, E_NOT_FOUND, "no model '%s'", r->seg[0])
				: reply_error(r, E_INTERNAL, "database error");
	}
	snprintf(target, sizeof(target), "model:%lld", (long long)id);
	if (!(lics = licenses(db, id)) || audit_append(db, r->actor, "model.trace", target, NULL) < 0 ||
	    store_commit(db) != DB_OK) {
		store_rollback(db);
		json_decref(lics);
		return reply_error(r, E_INTERNAL, "cannot read the model's licenses");
	}
	if (delivery_mark_secret(id, secret) < 0) {
		json_decref(lics);
		return reply_error(r, E_INTERNAL, "cannot derive the mark secret");
	}
	cl_hex(secret, sizeof(secret), hex);
	OPENSSL_cleanse(secret, sizeof(secret));
	body = json_pack("{s:I,s:s,s:f,s:o}", "model", (json_int_t)id, "secret", hex, "delta", CL_MARK_DELTA,
			 "licenses", lics);
	OPENSSL_cleanse(hex, sizeof(hex));
	log_info("model %lld: trace secret read by %s", (long long)id, r->actor);
	return reply_json(r, 200, body);
}
