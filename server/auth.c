/* auth.c - keyed hashes of secrets, admin token checks. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "http.h"
#include "log.h"
#include "seal.h"
#include "server.h"
#include "store.h"
#include "util.h"

const char *const token_scopes[SCOPE_COUNT] = {[SCOPE_ADMIN] = "admin", [SCOPE_READ] = "read"};

int auth_hash(const char *kind, const char *secret, uint8_t out[32])
{
	char buf[16 + SECRET_MAX + 2];
	int n = snprintf(buf, sizeof(buf), "%s:%s", kind, secret);
	int r;

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	r = cl_hmac_sha256(srv.token_key, sizeof(srv.token_key), buf, (size_t)n, out);
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

int auth_scope(const char *name)
{
	for (int i = 0; i < SCOPE_COUNT; i++)
		if (!strcmp(name, token_scopes[i]))
			return i;
	return -1;
}

int auth_token_create(struct db *db, const char *name, int scope, int64_t expires_at, char *out, int64_t *id)
{
	uint8_t h[32];
	struct dbq *st;
	int64_t new_id = 0;
	int rc;

	if (scope < 0 || scope >= SCOPE_COUNT || random_secret("clt_", 32, out) < 0 || auth_hash("token", out, h) < 0)
		return -1;
	st = db_q(db, "INSERT INTO tokens (name, hash, created_at, scope, expires_at) VALUES (?1, ?2, ?3, ?4, ?5) "
		      "RETURNING id");
	if (!st)
		return -1;
	db_bind_text(st, 1, name);
	db_bind_blob(st, 2, h, sizeof(h));
	db_bind_int(st, 3, db_now(db));
	db_bind_text(st, 4, token_scopes[scope]);
	if (expires_at >= 0)
		db_bind_int(st, 5, expires_at);
	else
		db_bind_null(st, 5);
	rc = db_insert(st, &new_id);
	OPENSSL_cleanse(h, sizeof(h));
	if (rc != DB_DONE) {
		log_err("database: cannot store the token: %s", db_errmsg(db));
		OPENSSL_cleanse(out, TOKEN_LEN + 1);
		return -1;
	}
	if (id)
		*id = new_id;
	return 0;
}

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int b64token_ok(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
			 strchr("-._~+/", s[i]) != NULL) && s[i])
		i++;
	if (i == 0)
		return 0;
	while (i < n && s[i] == '=')
		i++;
	return i == n;
}

int auth_bearer_ok(const char *v, size_t n)
{
	static const char scheme[] = "Bearer ";
	const size_t sl = sizeof(scheme) - 1;

	return v && n > sl && n - sl <= SECRET_MAX && memcmp(v, scheme, sl) == 0 && b64token_ok(v + sl, n - sl);
}

/*
 * The Authorization header as it arrived.  libmicrohttpd 0.9.75 measures a
 * header value with strlen(), so "Bearer T<NUL>junk" reaches us as "Bearer
 * T" (MHD_lookup_connection_value_n included).  Its header lines stay in
 * place in the connection's read buffer, each ended by one NUL per CR and LF,
 * so the bytes right after the value tell: after the value's own NUL at most
 * one more NUL, then the next header's name (or, for the last header, the
 * empty line, a NUL).  Anything else is a NUL inside the value.  A header
 * sent twice is refused too.  0 with *V and *N, or -1.
 */
struct hdr_walk {
	const char *v, *next_key;
	size_t n;
	int seen;
};

static enum MHD_Result hdr_walk(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
				const char *value, size_t value_size)
{
	struct hdr_walk *w = cls;

	(void)kind;
	if (w->seen == 1 && !w->next_key)
		w->next_key = key;
	if (key_size == strlen(MHD_HTTP_HEADER_AUTHORIZATION) && !strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION)) {
		w->seen++;
		w->v = value;
		w->n = value_size;
	}
	return MHD_YES;
}

static int authorization(struct MHD_Connection *conn, const char **v, size_t *n)
{
	struct hdr_walk w = {NULL, NULL, 0, 0};
	const char *p;

	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, hdr_walk, &w);
	if (w.seen != 1 || !w.v || w.v[w.n] != 0)
		return -1;
	p = w.v + w.n + 1;
	if (w.next_key ? p != w.next_key && !(p[0] == 0 && p + 1 == w.next_key) : p[0] != 0)
		return -1;
	*v = w.v;
	*n = w.n;
	return 0;
}

int auth_admin(struct req *r, struct db *db)
{
	const char *h = NULL;
	size_t hlen = 0;
	uint8_t hash[32];
	struct dbq *st;
	int found = AUTH_DENIED;

	if (authorization(r->conn, &h, &hlen) < 0 || !auth_bearer_ok(h, hlen))
		return AUTH_DENIED;
	if (auth_hash("token", h + 7, hash) < 0 ||
	    !(st = db_q(db, "SELECT id, name, scope FROM tokens WHERE hash = ?1 "
			       "AND (expires_at IS NULL OR expires_at > unixepoch())")))
		return AUTH_DENIED;
	db_bind_blob(st, 1, hash, sizeof(hash));
	if (db_step(st) == DB_ROW) {
		r->token_id = db_int(st, 0);
		snprintf(r->actor, sizeof(r->actor), "token:%lld:%.40s", (long long)r->token_id, db_text(st, 1));
		/* a read token may only GET */
		found = auth_scope(db_text(st, 2)) == SCOPE_ADMIN || !strcmp(routes[r->route].method, "GET")
				? 0
				: AUTH_READ_ONLY;
	}
	db_reset(st);
	OPENSSL_cleanse(hash, sizeof(hash));
	return found;
}
