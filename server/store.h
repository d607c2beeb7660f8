/*
 * store.h - the database the daemon was configured with ([storage] backend
 * = sqlite or postgresql), one connection per worker thread.  The SQL calls
 * themselves are in db.h.
 *
 * Write transactions (store_begin .. store_commit or store_rollback) take
 * turns: on SQLite one at a time in the process, on PostgreSQL one at a time
 * across every node (an advisory lock that every write takes first).  Every
 * write appends to the one audit chain, so the writers are serialised at its
 * head anyway; taking that turn at BEGIN makes each transaction see every
 * write committed before it, which is what keeps seat limits and "no key
 * after a revoke" true across nodes.
 */
#ifndef SRV_STORE_H
#define SRV_STORE_H

#include "db.h"

struct migration {
	unsigned version;
	const char *name, *sql;
};
/* schema/NNN_*.sql (SQLite) and schema/pg/NNN_*.sql, embedded at build time. */
extern const struct migration store_migrations[], store_migrations_pg[];
extern const unsigned store_nmigrations, store_nmigrations_pg;

/* The driver named NAME ("sqlite", "postgresql"), or NULL. */
const struct db_driver *store_driver(const char *name);

/* Use BACKEND's database at WHERE (a path, or a libpq conninfo). */
int store_init(const char *backend, const char *where);
const char *store_backend(void);

/* A new connection (CREATE: make a missing SQLite file), migrated. */
int store_open(int create, struct db **out);
void store_close(struct db *db);

/* The calling thread's connection, or NULL. */
struct db *store_db(void);
void store_close_all(void);

/* BEGIN (taking the write turn) / COMMIT / ROLLBACK: DB_OK or an error. */
enum db_rc store_begin(struct db *db);
enum db_rc store_commit(struct db *db);
void store_rollback(struct db *db);
/* Reset every cached statement of DB (releases read snapshots). */
void store_reset(struct db *db);

#endif
