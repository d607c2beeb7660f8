/*
 * auth.h - admin tokens and license keys.  Both are random (256 and 160
 * bits), shown once, and stored only as HMAC-SHA256(token_key, kind ":"
 * secret), so a copy of the database alone reveals none of them.  An admin
 * token has a name, a scope (admin: everything; read: GET only) and an
 * optional expiry; a deleted or expired token is refused at its next use.
 */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define TOKEN_LEN (4 + 64)       /* "clt_" + 32 bytes in hex */
#define LICENSE_KEY_LEN (4 + 40) /* "clk_" + 20 bytes in hex */
#define SECRET_MAX 128           /* longest token or key we even hash */
#define TOKEN_NAME_MAX 40

enum token_scope { SCOPE_ADMIN, SCOPE_READ, SCOPE_COUNT };
extern const char *const token_scopes[SCOPE_COUNT]; /* "admin", "read" */

/* auth_admin's refusals (http.c answers 401 and 403). */
enum { AUTH_DENIED = -1, AUTH_READ_ONLY = -2 };

struct req;

int auth_hash(const char *kind, const char *secret, uint8_t out[32]);
/* The scope called NAME, or -1. */
int auth_scope(const char *name);
/* Create a token called NAME with SCOPE, expiring at EXPIRES_AT (-1: never);
 * OUT receives it (TOKEN_LEN + 1 bytes), *ID (if not NULL) its id. */
int auth_token_create(struct db *db, const char *name, int scope, int64_t expires_at, char *out, int64_t *id);
/* 1 when the N bytes of V are exactly "Bearer" SP token (RFC 6750 b64token
 * alphabet, 1 to SECRET_MAX characters), else 0. */
int auth_bearer_ok(const char *v, size_t n);
/* 0 when R carries a live admin token that may use R's route (sets
 * r->token_id and r->actor); AUTH_DENIED or AUTH_READ_ONLY otherwise. */
int auth_admin(struct req *r, struct db *db);

#endif
