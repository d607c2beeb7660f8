/* r_licenses.c - /v1/licenses: issue, list, show, update, revoke, suspend, reinstate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "auth.h"
#include "log.h"
#include "resources.h"
#include "routes.h"
#include "store.h"
#include "util.h"

#define MAX_MACHINES 1000000
#define MAX_LEASE 2592000     /* 30 days */
#define MAX_CHECKOUT 31536000 /* a year */

static int tier_exists(struct db *db, int64_t model, const char *tier)
{
	struct dbq *st = db_q(db, "SELECT 1 FROM tiers WHERE model_id = ?1 AND name = ?2");
	int found;

	db_bind_int(st, 1, model);
	db_bind_text(st, 2, tier);
	found = db_step(st) == DB_ROW;
	db_reset(st);
	return found;
}

static int64_t ref_model(struct db *db, const struct jval *v)
{
	char buf[24];

	if (v->s)
		return model_resolve(db, v->s);
	snprintf(buf, sizeof(buf), "%lld", (long long)v->i);
	return model_resolve(db, buf);
}

enum MHD_Result h_license_issue(struct req *r)
{
	static const struct jfield spec[] = {
		{"model", JF_REF, JF_REQUIRED, 0, 0},
		{"tier", JF_STRING, JF_REQUIRED, 1, 64},
		{"customer", JF_STRING, JF_REQUIRED, 1, 256},
		{"expires_at", JF_TIME, JF_NULLABLE, 0, 0},
		{"max_machines", JF_INT, 0, 1, MAX_MACHINES},
		{"lease_seconds", JF_INT, JF_NULLABLE, 1, MAX_LEASE},
		{"floating", JF_BOOL, 0, 0, 0},
		{"max_checkout", JF_INT, 0, 0, MAX_CHECKOUT},
	};
	struct jval v[8];
	enum MHD_Result res;
	json_t *root = jreq_parse(r, spec, 8, v, &res), *lic, *detail;
	struct db *db = store_db();
	char key[LICENSE_KEY_LEN + 1], target[32];
	uint8_t hash[32];
	struct dbq *st;
	int64_t model, id = 0, now = db_now(db);
	int rc;

	if (!root)
		return res;
	if (!db || store_begin(db) != DB_OK) {
		json_decref(root);
		return reply_error(r, E_UNAVAILABLE, "database busy");
	}
	if ((model = ref_model(db, &v[0])) < 0) {
		res = reply_error(r, E_NOT_FOUND, "no such model");
		goto out;
	}
	if (!tier_exists(db, model, v[1].s)) {
		res = reply_error(r, E_NOT_FOUND, "model %lld has no tier '%.64s'", (long long)model, v[1].s);
		goto out;
	}
	if (random_secret("clk_", 20, key) < 0 || auth_hash("license", key, hash) < 0) {
		res = reply_error(r, E_INTERNAL, "cannot make a license key");
		goto out;
	}
	st = db_q(db, "INSERT INTO licenses (key_hash, model_id, tier, customer, status, expires_at, max_machines, "
			 "created_at, updated_at, lease_seconds, floating, max_checkout) "
			 "VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, ?7, ?8, ?9, ?10) RETURNING id");
	db_bind_blob(st, 1, hash, sizeof(hash));
	db_bind_int(st, 2, model);
	db_bind_text(st, 3, v[1].s);
	db_bind_text(st, 4, v[2].s);
	if (v[3].present && !v[3].is_null)
		db_bind_int(st, 5, v[3].i);
	db_bind_int(st, 6, v[4].present ? v[4].i : 1);
	db_bind_int(st, 7, now);
	if (v[5].present && !v[5].is_null)
		db_bind_int(st, 8, v[5].i);
	db_bind_int(st, 9, v[6].present ? v[6].i : 0);
	db_bind_int(st, 10, v[7].present ? v[7].i : 0);
	rc = db_insert(st, &id);
	snprintf(target, sizeof(target), "license:%lld", (long long)id);
	detail = json_pack("{s:I,s:s,s:s,s:I}", "model", (json_int_t)model, "tier", v[1].s, "customer", v[2].s,
			   "max_machines", (json_int_t)(v[4].present ? v[4].i : 1));
	if (detail && v[3].present && !v[3].is_null)
		json_object_set_new(detail, "expires_at", json_time(v[3].i, 1));
	if (detail && v[5].present && !v[5].is_null)
		json_object_set_new(detail, "lease_seconds", json_integer((json_int_t)v[5].i));
	if (detail && v[6].present && v[6].i)
		json_object_set_new(detail, "floating", json_true());
	if (detail && v[7].present && v[7].i)
		json_object_set_new(detail, "max_checkout", json_integer((json_int_t)v[7].i));
	rc = rc == DB_DONE ? audit_append(db, r->actor, "license.issue", target, detail) : -1;
	json_decref(detail);
	if (rc < 0 || store_commit(db) != DB_OK) {
		log_err("cannot issue a license: %s", db_errmsg(db));
		res = reply_error(r, E_INTERNAL, "cannot store the license");
		goto out;
	}
	log_info("license %lld issued for model %lld tier %s by %s", (long long)id, (long long)model, v[1].s, r->actor);
	if (!(lic = license_json(db, id))) {
		res = reply_error(r, E_INTERNAL, "cannot read the license back");
		goto out;
	}
	json_object_set_new(lic, "key", json_string(key));
	res = reply_json(r, 201, lic);
out:
	OPENSSL_cleanse(key, sizeof(key));
	store_rollback(db);
	json_decref(root);
	return res;
}

enum MHD_Result h_license_list(struct req *r)
{
	const char *model = req_query(r, "model"), *customer = req_query(r, "customer"),
		   *status = req_query(r, "status"), *limit_s = req_query(r, "limit"), *after_s = req_query(r, "after");
	struct db *db = store_db();
	struct dbq *st;
	json_t *list;
	int64_t model_id = -1, limit = 1000, after = 0, ids[10000];
	size_t n = 0;

	if (!db)
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	if (status && strcmp(status, "active") && strcmp(status, "suspended") && strcmp(status, "revoked") &&
	    strcmp(status, "expired"))
		return reply_error(r, E_BAD_REQUEST, "status must be active, suspended, revoked or expired");
	if (customer && (strlen(customer) > 256 || !text_ok(customer)))
		return reply_error(r, E_BAD_REQUEST, "customer must be at most 256 printable characters");
	if ((limit_s && ((limit = parse_id(limit_s)) < 1 || limit > 10000)) || (after_s && (after = parse_id(after_s)) < 0))
		return reply_error(r, E_BAD_REQUEST, "limit must be in [1, 10000] and after a license id");
	if (model && (model_id = model_resolve(db, model)) < 0)
		return reply_json(r, 200, json_pack("{s:[]}", "licenses"));
	st = db_q(db, "SELECT l.id FROM licenses l WHERE (?1 < 0 OR l.model_id = ?1) AND (?2 IS NULL OR l.customer = ?2) "
			 "AND (?3 IS NULL OR " LICENSE_STATUS_SQL("?4") " = ?3) AND l.id > ?5 ORDER BY l.id LIMIT ?6");
	db_bind_int(st, 1, model_id);
	db_bind_text(st, 2, customer);
	db_bind_text(st, 3, status);
	db_bind_int(st, 4, db_now(db));
	db_bind_int(st, 5, after);
	db_bind_int(st, 6, limit);
	while (n < 10000 && db_step(st) == DB_ROW)
		ids[n++] = db_int(st, 0);
	db_reset(st);
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, license_json(db, ids[i]));
	return reply_json(r, 200, json_pack("{s:o}", "licenses", list));
}

static int64_t license_id(struct req *r)
{
	return parse_id(r->seg[0]);
}

enum MHD_Result h_license_show(struct req *r)
{
	struct db *db = store_db();
	json_t *l = db && license_id(r) >= 0 ? license_json(db, license_id(r)) : NULL;

	if (!l)
		return reply_error(r, E_NOT_FOUND, "no license '%s'", r->seg[0]);
	return reply_json(r, 200, l);
}

/* Read license ID's stored status and model inside a transaction; -1 if none. */
static int load_status(struct db *db, int64_t id, char status[16], int64_t *model)
{
	struct dbq *st = db_q(db, "SELECT status, model_id FROM licenses WHERE id = ?1");
	int found;

	db_bind_int(st, 1, id);
	found = db_step(st) == DB_ROW;
	if (found) {
		snprintf(status, 16, "%s", db_text(st, 0));
		*model = db_int(st, 1);
	}
	db_reset(st);
	return found ? 0 : -1;
}

enum MHD_Result h_license_patch(struct req *r)
{
	static const struct jfield spec[] = {
		{"tier", JF_STRING, 0, 1, 64},
		{"expires_at", JF_TIME, JF_NULLABLE, 0, 0},
		{"max_machines", JF_INT, 0, 1, MAX_MACHINES},
		{"lease_seconds", JF_INT, JF_NULLABLE, 1, MAX_LEASE},
		{"floating", JF_BOOL, 0, 0, 0},
		{"max_checkout", JF_INT, 0, 0, MAX_CHECKOUT},
	};
	struct jval v[6];
	enum MHD_Result res;
	json_t *root = jreq_parse(r, spec, 6, v, &res), *before = NULL, *after = NULL;
	struct db *db = store_db();
	int64_t id = license_id(r), model;
	char status[16], target[32];
	struct dbq *st;
	int rc;

	if (!root)
		return res;
	if (!v[0].present && !v[1].present && !v[2].present && !v[3].present && !v[4].present && !v[5].present) {
		res = reply_error(r, E_INVALID_FIELD,
				  "give at least one of tier, expires_at, max_machines, lease_seconds, floating, max_checkout");
		goto out;
	}
	if (v[0].present && (v[0].is_null || !name_ok(v[0].s, 64))) {
		res = reply_error(r, E_INVALID_FIELD, "'tier' must be a tier name");
		goto out;
	}
	if (v[2].present && v[2].is_null) {
		res = reply_error(r, E_INVALID_FIELD, "'max_machines' must be an integer in [1, %d]", MAX_MACHINES);
		goto out;
	}
	if (!db || store_begin(db) != DB_OK) {
		res = reply_error(r, E_UNAVAILABLE, "database busy");
		goto out;
	}
	if (id < 0 || load_status(db, id, status, &model) < 0) {
		res = reply_error(r, E_NOT_FOUND, "no license '%s'", r->seg[0]);
		goto out;
	}
	if (!strcmp(status, "revoked")) {
		res = reply_error(r, E_INVALID_STATE, "license %lld is revoked; a revocation is final", (long long)id);
		goto out;
	}
	if (v[0].present && !tier_exists(db, model, v[0].s)) {
		res = reply_error(r, E_NOT_FOUND, "model %lld has no tier '%s'", (long long)model, v[0].s);
		goto out;
	}
	before = license_json(db, id);
	st = db_q(db, "UPDATE licenses SET tier = CASE WHEN ?2 <> 0 THEN ?3 ELSE tier END, "
			 "expires_at = CASE WHEN ?4 <> 0 THEN ?5 ELSE expires_at END, "
			 "max_machines = CASE WHEN ?6 <> 0 THEN ?7 ELSE max_machines END, updated_at = ?8, "
			 "lease_seconds = CASE WHEN ?9 <> 0 THEN ?10 ELSE lease_seconds END, "
			 "floating = CASE WHEN ?11 <> 0 THEN ?12 ELSE floating END, "
			 "max_checkout = CASE WHEN ?13 <> 0 THEN ?14 ELSE max_checkout END WHERE id = ?1");
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, v[0].present);
	db_bind_text(st, 3, v[0].s);
	db_bind_int(st, 4, v[1].present);
	if (v[1].present && !v[1].is_null)
		db_bind_int(st, 5, v[1].i);
	db_bind_int(st, 6, v[2].present);
	db_bind_int(st, 7, v[2].present ? v[2].i : 1);
	db_bind_int(st, 8, db_now(db));
	db_bind_int(st, 9, v[3].present);
	if (v[3].present && !v[3].is_null)
		db_bind_int(st, 10, v[3].i);
	db_bind_int(st, 11, v[4].present);
	db_bind_int(st, 12, v[4].present ? v[4].i : 0);
	db_bind_int(st, 13, v[5].present);
	db_bind_int(st, 14, v[5].present ? v[5].i : 0);
	rc = db_step(st);
	db_reset(st);
	after = license_json(db, id);
	snprintf(target, sizeof(target), "license:%lld", (long long)id);
	json_t *detail = json_pack("{s:O,s:O}", "before", before ? before : json_null(), "after",
				   after ? after : json_null());
	rc = rc == DB_DONE ? audit_append(db, r->actor, "license.update", target, detail) : -1;
	json_decref(detail);
	if (rc < 0 || !after || store_commit(db) != DB_OK) {
		res = reply_error(r, E_INTERNAL, "cannot update the license");
		goto out;
	}
	res = reply_json(r, 200, json_incref(after));
out:
	store_rollback(db);
	json_decref(before);
	json_decref(after);
	json_decref(root);
	return res;
}

/* Change a license's stored status: FROM lists the statuses that allow it. */
static enum MHD_Result set_status(struct req *r, const char *to, const char *action)
{
	struct db *db = store_db();
	int64_t id = license_id(r), model;
	char status[16], target[32];
	struct dbq *st;
	enum MHD_Result res;
	json_t *detail, *l;
	int rc;

	if (!db || store_begin(db) != DB_OK)
		return reply_error(r, E_UNAVAILABLE, "database busy");
	if (id < 0 || load_status(db, id, status, &model) < 0) {
		res = reply_error(r, E_NOT_FOUND, "no license '%s'", r->seg[0]);
		goto out;
	}
	if (!strcmp(status, "revoked")) {
		res = reply_error(r, E_INVALID_STATE, "license %lld is revoked; a revocation is final", (long long)id);
		goto out;
	}
	if (!strcmp(status, to)) { /* already there: nothing to do, nothing to log */
		l = license_json(db, id);
		res = l ? reply_json(r, 200, l) : reply_error(r, E_INTERNAL, "cannot read the license");
		goto out;
	}
	st = db_q(db, "UPDATE licenses SET status = ?2, updated_at = ?3 WHERE id = ?1");
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, to);
	db_bind_int(st, 3, db_now(db));
	rc = db_step(st);
	db_reset(st);
	snprintf(target, sizeof(target), "license:%lld", (long long)id);
	detail = json_pack("{s:s,s:s}", "from", status, "to", to);
	rc = rc == DB_DONE ? audit_append(db, r->actor, action, target, detail) : -1;
	json_decref(detail);
	if (rc < 0 || store_commit(db) != DB_OK) {
		res = reply_error(r, E_INTERNAL, "cannot change the license");
		goto out;
	}
	log_info("license %lld: %s -> %s by %s", (long long)id, status, to, r->actor);
	l = license_json(db, id);
	res = l ? reply_json(r, 200, l) : reply_error(r, E_INTERNAL, "cannot read the license");
out:
	store_rollback(db);
	return res;
}

enum MHD_Result h_license_revoke(struct req *r)
{
	return set_status(r, "revoked", "license.revoke");
}

enum MHD_Result h_license_suspend(struct req *r)
{
	return set_status(r, "suspended", "license.suspend");
}

enum MHD_Result h_license_reinstate(struct req *r)
{
	return set_status(r, "active", "license.reinstate");
}
