/* db_sqlite.c - the SQLite backend of db.h: WAL, one writer per process, cached statements. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "db.h"
#include "log.h"
#include "store.h"

#define CACHE_SIZE 96

struct sq_q {
	struct dbq base;
	const char *sql;
	sqlite3_stmt *st;
	int64_t changes;
};

struct sq_db {
	struct db base;
	sqlite3 *h;
	struct sq_q e[CACHE_SIZE];
	unsigned n;
};

/*
 * One write transaction at a time in this process, handed over by a mutex.
 * Without it, writers that find the database locked wait in SQLite's busy
 * handler, which sleeps in growing steps (up to 100 ms each): under load, key
 * deliveries (each writes its audit entry) then took up to seconds.  Held
 * from begin() to commit() or rollback() on the same thread.
 */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int writing;

static void write_unlock(void)
{
	if (writing) {
		writing = 0;
		pthread_mutex_unlock(&write_lock);
	}
}

static struct sq_db *sq(struct db *db) { return (struct sq_db *)db; }
static struct sq_q *sqq(struct dbq *q) { return (struct sq_q *)q; }

static enum db_rc map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
		return DB_OK;
	case SQLITE_ROW:
		return DB_ROW;
	case SQLITE_DONE:
		return DB_DONE;
	case SQLITE_CONSTRAINT:
		return DB_CONSTRAINT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		db_lost = 1; /* the busy timeout ran out: worth a retry, the request answers 503 */
		return DB_RETRY;
	default:
		return DB_ERR;
	}
}

static enum db_rc sq_exec(struct db *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(sq(db)->h, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK) {
		log_err("database: %s", err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
	}
	return map_rc(rc);
}

static int migrate(struct db *db, const char *path)
{
	sqlite3_stmt *st;
	int version = 0;
	const struct migration *last = &store_migrations[store_nmigrations - 1];

	if (sqlite3_prepare_v2(sq(db)->h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > (int)last->version) {
		log_err("%s: schema version %d is newer than this corelockerd (%u)", path, version, last->version);
		return -1;
	}
	for (unsigned i = 0; i < store_nmigrations; i++) {
		const struct migration *m = &store_migrations[i];
		char pragma[64];
		if ((int)m->version <= version)
			continue;
		if (sq_exec(db, "BEGIN IMMEDIATE") != DB_OK)
			return -1;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", m->version);
		if (sq_exec(db, m->sql) != DB_OK || sq_exec(db, pragma) != DB_OK || sq_exec(db, "COMMIT") != DB_OK) {
			log_err("%s: migration %s failed", path, m->name);
			sq_exec(db, "ROLLBACK");
			return -1;
		}
		log_info("%s: applied migration %s", path, m->name);
	}
	return 0;
}

static void sq_close(struct db *db)
{
	struct sq_db *d = sq(db);

	if (!d)
		return;
	for (unsigned i = 0; i < d->n; i++)
		sqlite3_finalize(d->e[i].st);
	if (sqlite3_close(d->h) != SQLITE_OK)
		log_bug("database: close failed: %s", sqlite3_errmsg(d->h));
	free(d);
}

static int sq_open(const char *path, int create, struct db **out)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	struct sq_db *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -1;
	d->base.drv = &db_sqlite;
	if ((rc = sqlite3_open_v2(path, &d->h, flags, NULL)) != SQLITE_OK) {
		log_err("%s: cannot open the database: %s%s", path, d->h ? sqlite3_errmsg(d->h) : sqlite3_errstr(rc),
			create ? "" : " (run 'corelockerd init' first)");
		sq_close(&d->base);
		return -1;
	}
	sqlite3_busy_timeout(d->h, 10000);
	sqlite3_extended_result_codes(d->h, 1);
	if (sq_exec(&d->base, "PRAGMA journal_mode = WAL") != DB_OK ||
	    sq_exec(&d->base, "PRAGMA synchronous = FULL") != DB_OK ||
	    sq_exec(&d->base, "PRAGMA foreign_keys = ON") != DB_OK ||
	    sq_exec(&d->base, "PRAGMA secure_delete = ON") != DB_OK || migrate(&d->base, path) < 0) {
		sq_close(&d->base);
		return -1;
	}
	*out = &d->base;
	return 0;
}

static struct dbq *sq_stmt(struct db *db, const char *sql)
{
	struct sq_db *d = sq(db);
	sqlite3_stmt *st;

	for (unsigned i = 0; i < d->n; i++)
		if (d->e[i].sql == sql) {
			sqlite3_reset(d->e[i].st);
			sqlite3_clear_bindings(d->e[i].st);
			return &d->e[i].base;
		}
	if (d->n == CACHE_SIZE) {
		log_bug("database: statement cache full");
		return NULL;
	}
	if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		log_bug("database: cannot prepare a statement: %s", sqlite3_errmsg(d->h));
		return NULL;
	}
	d->e[d->n] = (struct sq_q){{db}, sql, st, 0};
	return &d->e[d->n++].base;
}

static void sq_bind_int(struct dbq *q, int i, int64_t v) { sqlite3_bind_int64(sqq(q)->st, i, v); }
static void sq_bind_double(struct dbq *q, int i, double v) { sqlite3_bind_double(sqq(q)->st, i, v); }
static void sq_bind_null(struct dbq *q, int i) { sqlite3_bind_null(sqq(q)->st, i); }

static void sq_bind_text(struct dbq *q, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(sqq(q)->st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(sqq(q)->st, i);
}

static void sq_bind_blob(struct dbq *q, int i, const void *p, size_t n)
{
	sqlite3_bind_blob64(sqq(q)->st, i, p, n, SQLITE_TRANSIENT);
}

static enum db_rc sq_step(struct dbq *q)
{
	struct sq_q *s = sqq(q);
	int rc = sqlite3_step(s->st);

	if (rc == SQLITE_DONE)
		s->changes = sqlite3_changes(sqlite3_db_handle(s->st));
	return map_rc(rc);
}

static void sq_reset(struct dbq *q) { sqlite3_reset(sqq(q)->st); }
static int64_t sq_col_int(struct dbq *q, int i) { return sqlite3_column_int64(sqq(q)->st, i); }
static double sq_col_double(struct dbq *q, int i) { return sqlite3_column_double(sqq(q)->st, i); }
static int sq_col_null(struct dbq *q, int i) { return sqlite3_column_type(sqq(q)->st, i) == SQLITE_NULL; }
static int64_t sq_changes(struct dbq *q) { return sqq(q)->changes; }

static const char *sq_col_text(struct dbq *q, int i)
{
	const unsigned char *s = sqlite3_column_text(sqq(q)->st, i);
	return s ? (const char *)s : "";
}

static const void *sq_col_blob(struct dbq *q, int i, size_t *n)
{
	const void *p = sqlite3_column_blob(sqq(q)->st, i);

	*n = (size_t)sqlite3_column_bytes(sqq(q)->st, i);
	return p;
}

static void sq_reset_all(struct db *db)
{
	struct sq_db *d = sq(db);

	for (unsigned i = 0; i < d->n; i++)
		sqlite3_reset(d->e[i].st);
}

static enum db_rc sq_begin(struct db *db)
{
	int rc;

	if (writing) {
		log_bug("database: a transaction is already open on this thread");
		return DB_ERR;
	}
	pthread_mutex_lock(&write_lock);
	writing = 1;
	if ((rc = sqlite3_exec(sq(db)->h, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK) {
		log_warn("database: cannot begin a transaction: %s", sqlite3_errmsg(sq(db)->h));
		write_unlock();
	}
	return map_rc(rc);
}

static void sq_rollback(struct db *db)
{
	sq_reset_all(db);
	if (!sqlite3_get_autocommit(sq(db)->h))
		sqlite3_exec(sq(db)->h, "ROLLBACK", NULL, NULL, NULL);
	write_unlock();
}

static enum db_rc sq_commit(struct db *db)
{
	int rc;

	sq_reset_all(db);
	if ((rc = sqlite3_exec(sq(db)->h, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
		log_err("database: commit failed: %s", sqlite3_errmsg(sq(db)->h));
		sq_rollback(db);
	}
	write_unlock();
	return map_rc(rc);
}

/* One node, one clock: the database's time is this machine's. */
static int64_t sq_now(struct db *db)
{
	(void)db;
	return (int64_t)time(NULL);
}

/* Incremental blob I/O: a slice is read in pieces, never loaded whole twice. */
static int sq_slice_read(struct db *db, const char *id, int64_t off, void *buf, size_t n)
{
	static const char rowid_sql[] = "SELECT rowid FROM slices WHERE id = ?1";
	struct dbq *q = sq_stmt(db, rowid_sql);
	sqlite3_blob *blob = NULL;
	int64_t rowid;
	int r = -1;

	if (!q || off < 0 || n > (size_t)INT32_MAX || off > INT32_MAX - (int64_t)n)
		return -1;
	sq_bind_text(q, 1, id);
	if (sq_step(q) != DB_ROW) {
		sq_reset(q);
		return -1;
	}
	rowid = sq_col_int(q, 0);
	sq_reset(q);
	if (sqlite3_blob_open(sq(db)->h, "main", "slices", "sealed", rowid, 0, &blob) == SQLITE_OK &&
	    sqlite3_blob_read(blob, buf, (int)n, (int)off) == SQLITE_OK)
		r = 0;
	sqlite3_blob_close(blob);
	return r;
}

static const char *sq_errmsg(struct db *db) { return sqlite3_errmsg(sq(db)->h); }

const struct db_driver db_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.q = sq_stmt,
	.bind_int = sq_bind_int,
	.bind_double = sq_bind_double,
	.bind_text = sq_bind_text,
	.bind_blob = sq_bind_blob,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.reset = sq_reset,
	.col_int = sq_col_int,
	.col_double = sq_col_double,
	.col_text = sq_col_text,
	.col_blob = sq_col_blob,
	.col_null = sq_col_null,
	.changes = sq_changes,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.reset_all = sq_reset_all,
	.now = sq_now,
	.slice_read = sq_slice_read,
	.slice_chunk = 0,
	.exec = sq_exec,
	.errmsg = sq_errmsg,
};
