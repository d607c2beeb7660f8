/* r_audit.c - GET /v1/audit?since=N[&limit=M]: entries with seq above N, and
 * the whole chain's verification status (one HMAC per entry: cheap). */
#include <string.h>

#include "audit.h"
#include "jsonx.h"
#include "routes.h"
#include "store.h"
#include "util.h"

static json_t *chain_json(struct db *db)
{
	struct audit_status s;
	int r = audit_verify(db, &s);

	if (r < 0)
		return json_null();
	return json_pack("{s:b,s:I,s:I,s:o,s:o}", "ok", r == 0, "entries", (json_int_t)s.entries, "keyed",
			 (json_int_t)s.keyed, "bad_seq", r ? json_integer(s.bad) : json_null(), "reason",
			 r ? json_string(s.why) : json_null());
}

enum MHD_Result h_audit_list(struct req *r)
{
	const char *since_s = req_query(r, "since"), *limit_s = req_query(r, "limit");
	int64_t since = 0, limit = 1000;
	struct db *db = store_db();
	struct dbq *st;
	json_t *list, *detail;

	if ((since_s && (since = parse_id(since_s)) < 0) || (limit_s && ((limit = parse_id(limit_s)) < 1 || limit > 10000)))
		return reply_error(r, E_BAD_REQUEST, "since must be a sequence number, limit in [1, 10000]");
	if (!db)
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	st = db_q(db, "SELECT seq, ts, actor, action, target, detail, prev_hash, hash, mac FROM audit "
			 "WHERE seq > ?1 ORDER BY seq LIMIT ?2");
	db_bind_int(st, 1, since);
	db_bind_int(st, 2, limit);
	list = json_array();
	while (db_step(st) == DB_ROW) {
		const char *text = db_text(st, 5);
		detail = cl_json_parse(text, strlen(text), 16, NULL, 0);
		json_array_append_new(
			list, json_pack("{s:I,s:o,s:I,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:o}", "seq", (json_int_t)db_int(st, 0),
					"ts", json_time(db_int(st, 1), 1), "ts_unix", (json_int_t)db_int(st, 1), "actor", db_text(st, 2), "action",
					db_text(st, 3), "target", db_text(st, 4), "detail",
					detail ? detail : json_object(), "detail_text", text, "prev_hash",
					db_text(st, 6), "hash", db_text(st, 7), "mac",
					db_is_null(st, 8) ? json_null() : json_string(db_text(st, 8))));
	}
	db_reset(st);
	return reply_json(r, 200, json_pack("{s:o,s:o}", "entries", list, "chain", chain_json(db)));
}
