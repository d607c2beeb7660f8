/*
 * r_tokens.c - /v1/tokens: list, create and delete admin tokens.
 *
 * A token's secret is shown once, by POST; the list shows names, scopes and
 * expiries only.  Deleting the token that makes the request is allowed (the
 * request completes; the token is refused from the next one on), but the
 * last live admin-scope token cannot be deleted: nobody could create
 * another one over the API.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "auth.h"
#include "log.h"
#include "routes.h"
#include "store.h"
#include "util.h"

#define TOKEN_COLS "id, name, scope, created_at, expires_at"

/* The row of ST (TOKEN_COLS) as JSON; CURRENT: the caller's own token. */
static json_t *token_json(struct dbq *st, int64_t current, int64_t now)
{
	int64_t id = db_int(st, 0);
	int has_exp = !db_is_null(st, 4);
	int64_t exp = db_int(st, 4);

	return json_pack("{s:I,s:s,s:s,s:o,s:o,s:b,s:b}", "id", (json_int_t)id, "name", db_text(st, 1), "scope",
			 db_text(st, 2), "created_at", json_time(db_int(st, 3), 1), "expires_at",
			 json_time(exp, has_exp), "expired", has_exp && exp <= now, "current", id == current);
}

enum MHD_Result h_token_list(struct req *r)
{
	struct db *db = store_db();
	int64_t now = db_now(db);
	struct dbq *st;
	json_t *list;

	if (!db || !(st = db_q(db, "SELECT " TOKEN_COLS " FROM tokens ORDER BY id")))
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, token_json(st, r->token_id, now));
	db_reset(st);
	return reply_json(r, 200, json_pack("{s:o}", "tokens", list));
}

enum MHD_Result h_token_create(struct req *r)
{
	static const struct jfield spec[] = {
		{"name", JF_STRING, JF_REQUIRED, 1, TOKEN_NAME_MAX},
		{"scope", JF_STRING, JF_REQUIRED, 1, 16},
		{"expires_at", JF_TIME, JF_NULLABLE, 0, 0},
	};
	struct jval v[3];
	enum MHD_Result res;
	json_t *root = jreq_parse(r, spec, 3, v, &res), *body = NULL, *detail;
	struct db *db = store_db();
	char token[TOKEN_LEN + 1] = "", target[32];
	int64_t id, now = db_now(db), exp = v[2].present && !v[2].is_null ? v[2].i : -1;
	struct dbq *st;
	int scope, rc;

	if (!root)
		return res;
	if ((scope = auth_scope(v[1].s)) < 0) {
		res = reply_error(r, E_INVALID_FIELD, "'scope' must be \"admin\" or \"read\"");
		goto out;
	}
	if (exp >= 0 && exp <= now) {
		res = reply_error(r, E_INVALID_FIELD, "'expires_at' is not in the future");
		goto out;
	}
	if (!db || store_begin(db) != DB_OK) {
		res = reply_error(r, E_UNAVAILABLE, "database busy");
		goto out;
	}
	if (auth_token_create(db, v[0].s, scope, exp, token, &id) < 0) {
		res = reply_error(r, E_INTERNAL, "cannot store the token");
		goto out;
	}
	snprintf(target, sizeof(target), "token:%lld", (long long)id);
	detail = json_pack("{s:s,s:s,s:o}", "name", v[0].s, "scope", token_scopes[scope], "expires_at",
			   json_time(exp, exp >= 0));
	rc = audit_append(db, r->actor, "token.create", target, detail);
	json_decref(detail);
	if (rc < 0 || store_commit(db) != DB_OK) {
		res = reply_error(r, E_INTERNAL, "cannot store the token");
		goto out;
	}
	log_info("token %lld (%s, %s) created by %s", (long long)id, v[0].s, token_scopes[scope], r->actor);
	st = db_q(db, "SELECT " TOKEN_COLS " FROM tokens WHERE id = ?1");
	db_bind_int(st, 1, id);
	if (db_step(st) == DB_ROW)
		body = token_json(st, r->token_id, now);
	db_reset(st);
	if (!body) {
		res = reply_error(r, E_INTERNAL, "cannot read the token back");
		goto out;
	}
	json_object_set_new(body, "token", json_string(token)); /* shown only here */
	res = reply_json(r, 201, body);
out:
	OPENSSL_cleanse(token, sizeof(token));
	if (db)
		store_rollback(db);
	json_decref(root);
	return res;
}

enum MHD_Result h_token_delete(struct req *r)
{
	struct db *db = store_db();
	int64_t id = parse_id(r->seg[0]), now = db_now(db), others = 0;
	char target[32], name[TOKEN_NAME_MAX + 1] = "";
	enum MHD_Result res;
	struct dbq *st;
	int found, live_admin = 0, rc;

	if (!db || store_begin(db) != DB_OK)
		return reply_error(r, E_UNAVAILABLE, "database busy");
	st = db_q(db, "SELECT name, scope = 'admin' AND (expires_at IS NULL OR expires_at > ?2) FROM tokens "
			 "WHERE id = ?1");
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, now);
	if ((found = db_step(st) == DB_ROW)) {
		snprintf(name, sizeof(name), "%s", db_text(st, 0));
		live_admin = db_int(st, 1);
	}
	db_reset(st);
	if (id < 0 || !found) {
		res = reply_error(r, E_NOT_FOUND, "no token '%s'", r->seg[0]);
		goto out;
	}
	if (live_admin) {
		st = db_q(db, "SELECT count(*) FROM tokens WHERE id != ?1 AND scope = 'admin' "
				 "AND (expires_at IS NULL OR expires_at > ?2)");
		db_bind_int(st, 1, id);
		db_bind_int(st, 2, now);
		if (db_step(st) == DB_ROW)
			others = db_int(st, 0);
		db_reset(st);
		if (others == 0) {
			res = reply_error(r, E_LAST_ADMIN_TOKEN,
					  "token %lld is the last live admin-scope token; create another one first",
					  (long long)id);
			goto out;
		}
	}
	st = db_q(db, "DELETE FROM tokens WHERE id = ?1");
	db_bind_int(st, 1, id);
	rc = db_step(st);
	db_reset(st);
	snprintf(target, sizeof(target), "token:%lld", (long long)id);
	if (rc != DB_DONE || audit_append(db, r->actor, "token.delete", target, NULL) < 0 ||
	    store_commit(db) != DB_OK) {
		res = reply_error(r, E_INTERNAL, "cannot delete the token");
		goto out;
	}
	log_info("token %lld (%s) deleted by %s", (long long)id, name, r->actor);
	res = reply_empty(r, 204);
out:
	store_rollback(db);
	return res;
}
