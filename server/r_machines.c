/* r_machines.c - /v1/licenses/{id}/machines: the seats of a license. */
#include <stdio.h>

#include "audit.h"
#include "routes.h"
#include "store.h"
#include "util.h"

static int license_exists(struct db *db, int64_t id)
{
	struct dbq *st = db_q(db, "SELECT 1 FROM licenses WHERE id = ?1");
	int found;

	db_bind_int(st, 1, id);
	found = db_step(st) == DB_ROW;
	db_reset(st);
	return found;
}

enum MHD_Result h_machine_list(struct req *r)
{
	struct db *db = store_db();
	int64_t id = parse_id(r->seg[0]);
	struct dbq *st;
	json_t *list;

	if (!db)
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	if (id < 0 || !license_exists(db, id))
		return reply_error(r, E_NOT_FOUND, "no license '%s'", r->seg[0]);
	st = db_q(db, "SELECT id, fingerprint, hostname, activated_at, last_seen, lease_expires, checkout_until "
		      "FROM machines WHERE license_id = ?1 ORDER BY id");
	db_bind_int(st, 1, id);
	list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(
			list, json_pack("{s:I,s:s,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)db_int(st, 0), "fingerprint",
					db_text(st, 1), "hostname",
					db_is_null(st, 2) ? json_null() : json_string(db_text(st, 2)),
					"activated_at", json_time(db_int(st, 3), 1), "last_seen",
					json_time(db_int(st, 4), 1), "lease_expires",
					json_time(db_int(st, 5), !db_is_null(st, 5)), "checkout_until",
					json_time(db_int(st, 6), !db_is_null(st, 6))));
	db_reset(st);
	return reply_json(r, 200, json_pack("{s:I,s:o}", "license", (json_int_t)id, "machines", list));
}

enum MHD_Result h_machine_delete(struct req *r)
{
	struct db *db = store_db();
	int64_t id = parse_id(r->seg[0]), mid = parse_id(r->seg[1]);
	char target[64];
	struct dbq *st;
	int rc;

	if (!db || store_begin(db) != DB_OK)
		return reply_error(r, E_UNAVAILABLE, "database busy");
	st = db_q(db, "DELETE FROM machines WHERE id = ?1 AND license_id = ?2");
	db_bind_int(st, 1, mid);
	db_bind_int(st, 2, id);
	rc = db_step(st);
	db_reset(st);
	if (rc != DB_DONE || db_changes(st) == 0) {
		store_rollback(db);
		return reply_error(r, E_NOT_FOUND, "license '%s' has no machine '%s'", r->seg[0], r->seg[1]);
	}
	snprintf(target, sizeof(target), "license:%lld/machine:%lld", (long long)id, (long long)mid);
	if (audit_append(db, r->actor, "machine.delete", target, NULL) < 0 || store_commit(db) != DB_OK) {
		store_rollback(db);
		return reply_error(r, E_INTERNAL, "cannot delete the machine");
	}
	return reply_empty(r, 204);
}
