/*
 * auth.h - admin tokens and license keys.  Both are random (256 and 160
 * bits), shown once, and stored only as HMAC-SHA256(token_key, kind ":"
 * secret), so a copy of the database alone reveals none of them.
 */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include <sqlite3.h>
#include <stdint.h>

#define TOKEN_LEN (4 + 64)       /* "clt_" + 32 bytes in hex */
#define LICENSE_KEY_LEN (4 + 40) /* "clk_" + 20 bytes in hex */
#define SECRET_MAX 128           /* longest token or key we even hash */

struct req;

int auth_hash(const char *kind, const char *secret, uint8_t out[32]);
/* Create an admin token called NAME; OUT receives it (TOKEN_LEN + 1 bytes). */
int auth_token_create(sqlite3 *db, const char *name, char *out);
/* 0 when R carries a known admin token (sets r->token_id and r->actor). */
int auth_admin(struct req *r, sqlite3 *db);

#endif
