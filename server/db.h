/*
 * db.h - the storage driver interface: one API, two backends.
 *
 * The daemon's code speaks one SQL subset that SQLite (>= 3.35) and
 * PostgreSQL (>= 13) both run, through the calls below; a backend is a
 * struct db_driver (db_sqlite.c, db_pg.c), in the manner of Dovecot's
 * lib-sql drivers.  The dialect rule, for every statement the daemon runs:
 *
 *   - parameters are written ?1, ?2, ... (the PostgreSQL driver rewrites
 *     them to $1, $2, ... outside string literals);
 *   - integers are 64-bit, booleans are compared (x <> 0), never used bare;
 *     a boolean result column reads as 1 or 0 through db_int();
 *   - new rows give their id with INSERT ... RETURNING id;
 *   - no SQLite-only functions (strftime, rowid, ...), no PostgreSQL-only
 *     casts (::); CAST(x AS TEXT) where a type must be named.
 *
 * Schema migrations are two numbered sets, schema/NNN_*.sql (SQLite) and
 * schema/pg/NNN_*.sql (PostgreSQL), with the same numbers and meaning.
 *
 * Statements are cached per connection, keyed by the SQL text's address:
 * db_q() returns the statement reset, with its bindings cleared; it belongs
 * to the cache.  Column values stay valid until the next db_step() or
 * db_reset() on the same statement.
 */
#ifndef SRV_DB_H
#define SRV_DB_H

#include <stddef.h>
#include <stdint.h>

/* db_step() and the transaction calls answer one of these. */
enum db_rc {
	DB_OK = 0,
	DB_ROW,         /* a row is ready to read */
	DB_DONE,        /* the statement ran to its end */
	DB_ERR,         /* any other failure (logged by the driver) */
	DB_CONSTRAINT,  /* a UNIQUE, CHECK or FOREIGN KEY constraint refused it */
	DB_RETRY,       /* a serialization failure or deadlock: run the transaction again */
	DB_UNAVAILABLE, /* the database cannot be reached (restarting, network) */
};

struct db;  /* one connection; one thread uses it at a time */
struct dbq; /* one statement of a connection */

struct db_driver {
	const char *name; /* "sqlite" or "postgresql", as in [storage] backend */
	/* WHERE is a file path (sqlite) or a libpq conninfo (postgresql).
	 * CREATE: make the database if missing (sqlite only).  Migrates. */
	int (*open)(const char *where, int create, struct db **out);
	void (*close)(struct db *db);
	struct dbq *(*q)(struct db *db, const char *sql);
	void (*bind_int)(struct dbq *q, int i, int64_t v);
	void (*bind_double)(struct dbq *q, int i, double v);
	void (*bind_text)(struct dbq *q, int i, const char *s); /* NULL binds NULL */
	void (*bind_blob)(struct dbq *q, int i, const void *p, size_t n);
	void (*bind_null)(struct dbq *q, int i);
	enum db_rc (*step)(struct dbq *q);
	void (*reset)(struct dbq *q);
	int64_t (*col_int)(struct dbq *q, int i);
	double (*col_double)(struct dbq *q, int i);
	const char *(*col_text)(struct dbq *q, int i);
	const void *(*col_blob)(struct dbq *q, int i, size_t *n);
	int (*col_null)(struct dbq *q, int i);
	int64_t (*changes)(struct dbq *q);
	/* Write transactions: one at a time across every node (see store.h). */
	enum db_rc (*begin)(struct db *db);
	enum db_rc (*commit)(struct db *db);
	void (*rollback)(struct db *db);
	void (*reset_all)(struct db *db);
	/* Database time, Unix seconds; inside a transaction, its start. */
	int64_t (*now)(struct db *db);
	/* Read N bytes at OFF of the sealed blob of slice ID. */
	int (*slice_read)(struct db *db, const char *id, int64_t off, void *buf, size_t n);
	/*
	 * The most bytes one slice_read should ask for, 0 for no limit.
	 * PostgreSQL returns a read as one result in memory: 1 MiB pieces.
	 * SQLite must read a slice in one call: a blob handle finds an offset
	 * by walking the blob's chain of overflow pages from its start, so 1 MiB
	 * pieces, each with its own handle, made a 370 MiB slice quadratic (most
	 * of the 150 s before the first byte of a 4 GiB model's full tier).
	 */
	size_t slice_chunk;
	/* Run a script of statements without parameters (migrations, DDL). */
	enum db_rc (*exec)(struct db *db, const char *sql);
	const char *(*errmsg)(struct db *db);
};

extern const struct db_driver db_sqlite, db_pg;

/*
 * Set by a driver (to 1) whenever it answers DB_UNAVAILABLE or DB_RETRY on
 * this thread (a failure that a later attempt may not meet); the HTTP layer
 * clears it before each request and, when it is set, turns any error answer
 * into 503 UNAVAILABLE with Retry-After, for the client to retry.
 */
extern _Thread_local int db_lost;

/* Every backend's connection and statement start with these. */
struct db {
	const struct db_driver *drv;
};
struct dbq {
	struct db *db;
};

static inline struct dbq *db_q(struct db *db, const char *sql) { return db->drv->q(db, sql); }
static inline void db_bind_int(struct dbq *q, int i, int64_t v) { q->db->drv->bind_int(q, i, v); }
static inline void db_bind_double(struct dbq *q, int i, double v) { q->db->drv->bind_double(q, i, v); }
static inline void db_bind_text(struct dbq *q, int i, const char *s) { q->db->drv->bind_text(q, i, s); }
static inline void db_bind_blob(struct dbq *q, int i, const void *p, size_t n) { q->db->drv->bind_blob(q, i, p, n); }
static inline void db_bind_null(struct dbq *q, int i) { q->db->drv->bind_null(q, i); }
static inline enum db_rc db_step(struct dbq *q) { return q->db->drv->step(q); }
static inline void db_reset(struct dbq *q) { q->db->drv->reset(q); }
static inline int64_t db_int(struct dbq *q, int i) { return q->db->drv->col_int(q, i); }
static inline double db_double(struct dbq *q, int i) { return q->db->drv->col_double(q, i); }
/* Column text, never NULL ("" for NULL). */
static inline const char *db_text(struct dbq *q, int i) { return q->db->drv->col_text(q, i); }
static inline const void *db_blob(struct dbq *q, int i, size_t *n) { return q->db->drv->col_blob(q, i, n); }
static inline int db_is_null(struct dbq *q, int i) { return q->db->drv->col_null(q, i); }
/* Rows changed by the statement's last run. */
static inline int64_t db_changes(struct dbq *q) { return q->db->drv->changes(q); }
static inline const char *db_errmsg(struct db *db) { return db->drv->errmsg(db); }
/* Database time in Unix seconds; 0 without a connection (the caller then fails anyway). */
static inline int64_t db_now(struct db *db) { return db ? db->drv->now(db) : 0; }
/* The integer in the first column of Q's first row (a COUNT), or -1; resets Q (NULL: -1). */
static inline int64_t db_scalar(struct dbq *q)
{
	int64_t n = -1;

	if (!q)
		return -1;
	if (db_step(q) == DB_ROW)
		n = db_int(q, 0);
	db_reset(q);
	return n;
}

/* Run an INSERT ... RETURNING id: DB_DONE with *ID set, or the error; resets Q. */
static inline enum db_rc db_insert(struct dbq *q, int64_t *id)
{
	enum db_rc rc = db_step(q);

	if (rc == DB_ROW)
		*id = db_int(q, 0);
	db_reset(q);
	return rc == DB_ROW ? DB_DONE : rc == DB_DONE ? DB_ERR : rc;
}
static inline int db_slice_read(struct db *db, const char *id, int64_t off, void *buf, size_t n)
{
	return db->drv->slice_read(db, id, off, buf, n);
}
static inline size_t db_slice_chunk(const struct db *db)
{
	return db->drv->slice_chunk;
}

#endif
