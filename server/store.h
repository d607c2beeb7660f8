/*
 * store.h - the SQLite database: WAL mode, foreign keys, numbered migrations
 * (schema/NNN_*.sql, embedded at build time), one connection per worker
 * thread, and a per-connection cache of prepared statements.
 *
 * Every query is a prepared statement with bound parameters; store_q()
 * returns the cached statement for an SQL text, reset and with its bindings
 * cleared.  The statement belongs to the cache: do not finalize it.
 */
#ifndef SRV_STORE_H
#define SRV_STORE_H

#include <sqlite3.h>
#include <stdint.h>

struct migration {
	unsigned version;
	const char *name, *sql;
};
/* schema/NNN_*.sql (SQLite) and schema/pg/NNN_*.sql, embedded at build time. */
extern const struct migration store_migrations[], store_migrations_pg[];
extern const unsigned store_nmigrations, store_nmigrations_pg;

/* Open PATH (CREATE: make it if missing, else it must exist) and migrate it. */
int store_open(const char *path, int create, sqlite3 **out);
void store_close(sqlite3 *db);

/* The calling thread's connection to the configured database, or NULL. */
void store_init(const char *path);
sqlite3 *store_db(void);
void store_close_all(void);

sqlite3_stmt *store_q(sqlite3 *db, const char *sql);
/* Reset every cached statement of DB (releases read snapshots). */
void store_reset(sqlite3 *db);

/*
 * BEGIN IMMEDIATE / COMMIT / ROLLBACK; 0 or an SQLite result code.  The
 * daemon's threads take turns: store_begin() waits for the others' write
 * transactions to end, and one thread opens at most one at a time.
 */
int store_begin(sqlite3 *db);
int store_commit(sqlite3 *db);
void store_rollback(sqlite3 *db);

/* Bind helpers: NULL text and negative "optional" integers bind NULL. */
void store_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Column text, never NULL. */
const char *store_text(sqlite3_stmt *st, int i);

#endif
