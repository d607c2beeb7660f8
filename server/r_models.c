/* r_models.c - /v1/models: push a .clkey, list, show, delete. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "audit.h"
#include "clkey.h"
#include "digest.h"
#include "log.h"
#include "resources.h"
#include "routes.h"
#include "seal.h"
#include "server.h"
#include "store.h"
#include "util.h"

/* The key's JSON shard table, as stored in models.shards. */
static char *shards_text(const struct cl_key *k)
{
	json_t *a = json_array();
	char hex[CL_SHA256_HEX], hex2[CL_SHA256_HEX], *text;

	for (uint32_t i = 0; a && i < k->nshards; i++) {
		const struct cl_key_shard *s = &k->shards[i];
		cl_hex(s->locked, CL_SHA256_LEN, hex);
		cl_hex(s->original, CL_SHA256_LEN, hex2);
		json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:s,s:s}", "file", s->file, "header_len",
						   (json_int_t)s->header_len, "size", (json_int_t)s->size,
						   "locked_sha256", hex, "original_sha256", hex2));
	}
	text = a ? json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(a);
	return text;
}

/* cl_key_load's message without the spool path in front. */
static const char *key_reason(const char *path)
{
	const char *m = cl_errmsg();
	size_t n = strlen(path);

	if (!strncmp(m, path, n) && !strncmp(m + n, ": ", 2))
		m += n + 2;
	return m;
}

static int insert_model(struct db *db, struct req *r, const struct cl_key *k, const char *name, const char *version,
			int64_t *id)
{
	char locked[CL_SHA256_HEX], original[CL_SHA256_HEX], keysha[CL_SHA256_HEX], aad[96], *shards = NULL;
	uint8_t d[CL_SHA256_LEN], *sealed = NULL;
	size_t slen = (size_t)k->file_size + CL_SEAL_OVERHEAD;
	struct dbq *st;
	json_t *detail = NULL;
	int rc = -1;

	cl_hex(k->locked, CL_SHA256_LEN, locked);
	cl_hex(k->original, CL_SHA256_LEN, original);
	cl_sha256(k->map.data, (size_t)k->file_size, d);
	cl_hex(d, sizeof(d), keysha);
	if (!(shards = shards_text(k)) || !(sealed = malloc(slen)))
		goto out;
	st = db_q(db, "INSERT INTO models (name, version, unit, scope, alpha, locked_sha256, original_sha256, "
			 "key_sha256, key_bytes, units_finite, units_locked, shards, created_at) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) RETURNING id");
	if (!st)
		goto out;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, version);
	db_bind_text(st, 3, cl_unit_name(k->unit));
	db_bind_text(st, 4, cl_scope_name(k->scope));
	db_bind_double(st, 5, k->alpha);
	db_bind_text(st, 6, locked);
	db_bind_text(st, 7, original);
	db_bind_text(st, 8, keysha);
	db_bind_int(st, 9, (int64_t)k->file_size);
	db_bind_int(st, 10, (int64_t)k->finite);
	db_bind_int(st, 11, (int64_t)k->count);
	db_bind_text(st, 12, shards);
	db_bind_int(st, 13, db_now(db));
	if (db_insert(st, id) != DB_DONE)
		goto out;
	aad_model_key(*id, aad, sizeof(aad));
	if (cl_seal(srv.master, aad, strlen(aad), k->map.data, (size_t)k->file_size, sealed) < 0)
		goto out;
	st = db_q(db, "INSERT INTO model_keys (model_id, sealed) VALUES (?1, ?2)");
	if (!st)
		goto out;
	db_bind_int(st, 1, *id);
	db_bind_blob(st, 2, sealed, slen);
	if (db_step(st) != DB_DONE)
		goto out;
	db_reset(st);
	detail = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "version", version, "locked_sha256", locked,
			   "key_sha256", keysha);
	char target[32];
	snprintf(target, sizeof(target), "model:%lld", (long long)*id);
	rc = audit_append(db, r->actor, "model.create", target, detail);
out:
	if (rc < 0)
		log_err("cannot store model %s %s: %s", name, version, db_errmsg(db));
	json_decref(detail);
	free(shards);
	free(sealed);
	return rc;
}

enum MHD_Result h_model_create(struct req *r)
{
	const char *name = req_query(r, "name"), *version = req_query(r, "version");
	struct cl_key *k = NULL;
	struct db *db = store_db();
	struct dbq *st;
	enum MHD_Result res;
	int64_t id = 0;
	int exists;

	if (!name || !version || !name_ok(name, 64) || !name_ok(version, 64))
		return reply_error(r, E_BAD_REQUEST,
				   "query parameters name and version are required: 1 to 64 characters of [A-Za-z0-9._+-]");
	if (r->upload_len == 0)
		return reply_error(r, E_INVALID_KEY, "the body is empty; send the .clkey file");
	if (cl_key_load(r->upload_path, &k) < 0) {
		log_peer("%s: rejected key upload %s %s: %s", r->ip, name, version, key_reason(r->upload_path));
		return reply_error(r, E_INVALID_KEY, "not a valid .clkey: %s", key_reason(r->upload_path));
	}
	if (!db || store_begin(db) != DB_OK) {
		cl_key_free(k);
		return reply_error(r, E_UNAVAILABLE, "database busy");
	}
	st = db_q(db, "SELECT COUNT(*) FROM models WHERE name = ?1 AND version = ?2");
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, version);
	exists = db_step(st) == DB_ROW && db_int(st, 0) > 0;
	db_reset(st);
	if (exists) {
		store_rollback(db);
		cl_key_free(k);
		return reply_error(r, E_ALREADY_EXISTS, "model %s version %s already exists", name, version);
	}
	if (insert_model(db, r, k, name, version, &id) < 0 || store_commit(db) != DB_OK) {
		store_rollback(db);
		cl_key_free(k);
		return reply_error(r, E_INTERNAL, "cannot store the model");
	}
	cl_key_free(k);
	log_info("model %lld (%s %s) stored by %s", (long long)id, name, version, r->actor);
	json_t *m = model_json(db, id);
	res = m ? reply_json(r, 201, m) : reply_error(r, E_INTERNAL, "cannot read the model back");
	return res;
}

enum MHD_Result h_model_list(struct req *r)
{
	struct db *db = store_db();
	struct dbq *st = db ? db_q(db, "SELECT id FROM models ORDER BY id") : NULL;
	json_t *list = json_array(), *m;
	int64_t ids[1000];
	size_t n = 0;

	if (!st || !list) {
		json_decref(list);
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	}
	while (n < 1000 && db_step(st) == DB_ROW)
		ids[n++] = db_int(st, 0);
	db_reset(st);
	for (size_t i = 0; i < n; i++)
		if ((m = model_json(db, ids[i])))
			json_array_append_new(list, m);
	return reply_json(r, 200, json_pack("{s:o}", "models", list));
}

enum MHD_Result h_model_show(struct req *r)
{
	struct db *db = store_db();
	int64_t id = db ? model_resolve(db, r->seg[0]) : -2;
	json_t *m;

	if (id == -2)
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	if (id < 0 || !(m = model_json(db, id)))
		return reply_error(r, E_NOT_FOUND, "no model '%s'", r->seg[0]);
	return reply_json(r, 200, m);
}

enum MHD_Result h_model_delete(struct req *r)
{
	struct db *db = store_db();
	struct dbq *st;
	int64_t id, users = 0;
	char target[32];
	int rc;

	if (!db || store_begin(db) != DB_OK)
		return reply_error(r, E_UNAVAILABLE, "database busy");
	id = model_resolve(db, r->seg[0]);
	if (id < 0) {
		store_rollback(db);
		return id == -1 ? reply_error(r, E_NOT_FOUND, "no model '%s'", r->seg[0])
				: reply_error(r, E_INTERNAL, "database error");
	}
	st = db_q(db, "SELECT COUNT(*) FROM licenses l WHERE l.model_id = ?1 AND " LICENSE_IN_USE_SQL("?2"));
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, db_now(db));
	if (db_step(st) == DB_ROW)
		users = db_int(st, 0);
	db_reset(st);
	if (users) {
		store_rollback(db);
		return reply_error(r, E_IN_USE, "%lld active or suspended license(s) use model %lld", (long long)users,
				   (long long)id);
	}
	static const char *const deletes[] = {
		"DELETE FROM tiers WHERE model_id = ?1",
		"DELETE FROM slices WHERE model_id = ?1",
		"DELETE FROM machines WHERE license_id IN (SELECT id FROM licenses WHERE model_id = ?1)",
		"DELETE FROM licenses WHERE model_id = ?1",
		"DELETE FROM model_keys WHERE model_id = ?1",
		"DELETE FROM models WHERE id = ?1",
	};
	for (size_t i = 0; i < sizeof(deletes) / sizeof(deletes[0]); i++) {
		st = db_q(db, deletes[i]);
		if (!st)
			goto fail;
		db_bind_int(st, 1, id);
		rc = db_step(st);
		db_reset(st);
		if (rc != DB_DONE)
			goto fail;
	}
	snprintf(target, sizeof(target), "model:%lld", (long long)id);
	if (audit_append(db, r->actor, "model.delete", target, NULL) < 0 || store_commit(db) != DB_OK)
		goto fail;
	log_info("model %lld deleted by %s", (long long)id, r->actor);
	return reply_empty(r, 204);
fail:
	log_err("cannot delete model %lld: %s", (long long)id, db_errmsg(db));
	store_rollback(db);
	return reply_error(r, E_INTERNAL, "cannot delete the model");
}
