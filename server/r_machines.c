/* r_machines.c - /v1/licenses/{id}/machines: the seats of a license. */
#include <stdio.h>

#include "audit.h"
#include "routes.h"
#include "store.h"
#include "util.h"

static int license_exists(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st = store_q(db, "SELECT 1 FROM licenses WHERE id = ?1");
	int found;

	sqlite3_bind_int64(st, 1, id);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

enum MHD_Result h_machine_list(struct req *r)
{
	sqlite3 *db = store_db();
	int64_t id = parse_id(r->seg[0]);
	sqlite3_stmt *st;
	json_t *list;

	if (!db)
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	if (id < 0 || !license_exists(db, id))
		return reply_error(r, E_NOT_FOUND, "no license '%s'", r->seg[0]);
	st = store_q(db, "SELECT id, fingerprint, hostname, activated_at, last_seen FROM machines "
			 "WHERE license_id = ?1 ORDER BY id");
	sqlite3_bind_int64(st, 1, id);
	list = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(
			list, json_pack("{s:I,s:s,s:o,s:o,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0), "fingerprint",
					store_text(st, 1), "hostname",
					sqlite3_column_type(st, 2) == SQLITE_NULL ? json_null() : json_string(store_text(st, 2)),
					"activated_at", json_time(sqlite3_column_int64(st, 3), 1), "last_seen",
					json_time(sqlite3_column_int64(st, 4), 1)));
	sqlite3_reset(st);
	return reply_json(r, 200, json_pack("{s:I,s:o}", "license", (json_int_t)id, "machines", list));
}

enum MHD_Result h_machine_delete(struct req *r)
{
	sqlite3 *db = store_db();
	int64_t id = parse_id(r->seg[0]), mid = parse_id(r->seg[1]);
	char target[64];
	sqlite3_stmt *st;
	int rc;

	if (!db || store_begin(db) != SQLITE_OK)
		return reply_error(r, E_UNAVAILABLE, "database busy");
	st = store_q(db, "DELETE FROM machines WHERE id = ?1 AND license_id = ?2");
	sqlite3_bind_int64(st, 1, mid);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE || sqlite3_changes(db) == 0) {
		store_rollback(db);
		return reply_error(r, E_NOT_FOUND, "license '%s' has no machine '%s'", r->seg[0], r->seg[1]);
	}
	snprintf(target, sizeof(target), "license:%lld/machine:%lld", (long long)id, (long long)mid);
	if (audit_append(db, r->actor, "machine.delete", target, NULL) < 0 || store_commit(db) != SQLITE_OK) {
		store_rollback(db);
		return reply_error(r, E_INTERNAL, "cannot delete the machine");
	}
	return reply_empty(r, 204);
}
