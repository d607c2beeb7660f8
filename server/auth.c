/* auth.c - keyed hashes of secrets, admin token checks. */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "http.h"
#include "log.h"
#include "seal.h"
#include "server.h"
#include "store.h"
#include "util.h"

int auth_hash(const char *kind, const char *secret, uint8_t out[32])
{
	char buf[16 + SECRET_MAX + 2];
	int n = snprintf(buf, sizeof(buf), "%s:%s", kind, secret);
	int r;

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	r = cl_hmac_sha256(srv.token_key, sizeof(srv.token_key), buf, (size_t)n, out);
	memset(buf, 0, sizeof(buf));
	return r;
}

int auth_token_create(sqlite3 *db, const char *name, char *out)
{
	uint8_t h[32];
	sqlite3_stmt *st;
	int rc;

	if (random_secret("clt_", 32, out) < 0 || auth_hash("token", out, h) < 0)
		return -1;
	st = store_q(db, "INSERT INTO tokens (name, hash, created_at) VALUES (?1, ?2, ?3)");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 2, h, sizeof(h), SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now_s());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_err("database: cannot store the token: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int auth_admin(struct req *r, sqlite3 *db)
{
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	uint8_t hash[32];
	sqlite3_stmt *st;
	int found = -1;

	if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) > SECRET_MAX || !*(h + 7))
		return -1;
	if (auth_hash("token", h + 7, hash) < 0 ||
	    !(st = store_q(db, "SELECT id, name FROM tokens WHERE hash = ?1")))
		return -1;
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		r->token_id = sqlite3_column_int64(st, 0);
		snprintf(r->actor, sizeof(r->actor), "token:%lld:%.40s", (long long)r->token_id, store_text(st, 1));
		found = 0;
	}
	sqlite3_reset(st);
	return found;
}
