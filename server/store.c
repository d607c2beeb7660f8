/* store.c - SQLite connections, pragmas, migrations and the statement cache. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"

#define CACHE_SIZE 96

struct stmt_cache {
	sqlite3 *db;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} e[CACHE_SIZE];
	unsigned n;
	struct stmt_cache *next;
};

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stmt_cache *conns;
static char *db_path;
static _Thread_local struct stmt_cache *mine;

/*
 * One write transaction at a time in this process, handed over by a mutex.
 * Without it, writers that find the database locked wait in SQLite's busy
 * handler, which sleeps in growing steps (up to 100 ms each): under load, key
 * deliveries (each writes its audit entry) then took up to seconds.  Held
 * from store_begin() to store_commit() or store_rollback() on the same thread.
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

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK) {
		log_err("database: %s", err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
	}
	return rc;
}

static int migrate(sqlite3 *db, const char *path)
{
	sqlite3_stmt *st;
	int version = 0, rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > (int)store_migrations[store_nmigrations - 1].version) {
		log_err("%s: schema version %d is newer than this corelockerd (%u)", path, version,
			store_migrations[store_nmigrations - 1].version);
		return -1;
	}
	for (unsigned i = 0; i < store_nmigrations; i++) {
		const struct migration *m = &store_migrations[i];
		char pragma[64];
		if ((int)m->version <= version)
			continue;
		if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK)
			return -1;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", m->version);
		if ((rc = exec(db, m->sql)) != SQLITE_OK || (rc = exec(db, pragma)) != SQLITE_OK ||
		    (rc = exec(db, "COMMIT")) != SQLITE_OK) {
			log_err("%s: migration %s failed", path, m->name);
			exec(db, "ROLLBACK");
			return -1;
		}
		log_info("%s: applied migration %s", path, m->name);
	}
	return 0;
}

int store_open(const char *path, int create, sqlite3 **out)
{
	struct stmt_cache *c;
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &db, flags, NULL);

	if (rc != SQLITE_OK) {
		log_err("%s: cannot open the database: %s%s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
			create ? "" : " (run 'corelockerd init' first)");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	if (exec(db, "PRAGMA journal_mode = WAL") != SQLITE_OK || exec(db, "PRAGMA synchronous = FULL") != SQLITE_OK ||
	    exec(db, "PRAGMA foreign_keys = ON") != SQLITE_OK || exec(db, "PRAGMA secure_delete = ON") != SQLITE_OK ||
	    migrate(db, path) < 0) {
		sqlite3_close(db);
		return -1;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		sqlite3_close(db);
		return -1;
	}
	c->db = db;
	pthread_mutex_lock(&conns_lock);
	c->next = conns;
	conns = c;
	pthread_mutex_unlock(&conns_lock);
	*out = db;
	return 0;
}

static struct stmt_cache *cache_of(sqlite3 *db)
{
	struct stmt_cache *c;

	if (mine && mine->db == db)
		return mine;
	pthread_mutex_lock(&conns_lock);
	for (c = conns; c && c->db != db; c = c->next)
		;
	pthread_mutex_unlock(&conns_lock);
	return c;
}

static void cache_close(struct stmt_cache *c)
{
	for (unsigned i = 0; i < c->n; i++)
		sqlite3_finalize(c->e[i].st);
	if (sqlite3_close(c->db) != SQLITE_OK)
		log_bug("database: close failed: %s", sqlite3_errmsg(c->db));
	free(c);
}

void store_close(sqlite3 *db)
{
	struct stmt_cache **pp, *c = NULL;

	if (!db)
		return;
	pthread_mutex_lock(&conns_lock);
	for (pp = &conns; *pp; pp = &(*pp)->next)
		if ((*pp)->db == db) {
			c = *pp;
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&conns_lock);
	if (mine == c)
		mine = NULL;
	if (c)
		cache_close(c);
	else
		sqlite3_close(db);
}

void store_init(const char *path)
{
	free(db_path);
	db_path = strdup(path);
}

sqlite3 *store_db(void)
{
	sqlite3 *db;

	if (mine)
		return mine->db;
	if (!db_path || store_open(db_path, 0, &db) < 0)
		return NULL;
	mine = cache_of(db);
	return db;
}

void store_close_all(void)
{
	pthread_mutex_lock(&conns_lock);
	while (conns) {
		struct stmt_cache *c = conns;
		conns = c->next;
		cache_close(c);
	}
	pthread_mutex_unlock(&conns_lock);
	mine = NULL;
}

sqlite3_stmt *store_q(sqlite3 *db, const char *sql)
{
	struct stmt_cache *c = cache_of(db);
	sqlite3_stmt *st = NULL;

	if (c)
		for (unsigned i = 0; i < c->n; i++)
			if (c->e[i].sql == sql) {
				st = c->e[i].st;
				sqlite3_reset(st);
				sqlite3_clear_bindings(st);
				return st;
			}
	if (sqlite3_prepare_v3(db, sql, -1, c ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) != SQLITE_OK) {
		log_bug("database: cannot prepare a statement: %s", sqlite3_errmsg(db));
		return NULL;
	}
	if (c && c->n < CACHE_SIZE) {
		c->e[c->n].sql = sql;
		c->e[c->n++].st = st;
	} else if (c) {
		log_bug("database: statement cache full");
	}
	return st;
}

void store_reset(sqlite3 *db)
{
	struct stmt_cache *c = db ? cache_of(db) : NULL;

	if (c)
		for (unsigned i = 0; i < c->n; i++)
			sqlite3_reset(c->e[i].st);
}

int store_begin(sqlite3 *db)
{
	int rc;

	if (writing) {
		log_bug("database: a transaction is already open on this thread");
		return SQLITE_MISUSE;
	}
	pthread_mutex_lock(&write_lock);
	writing = 1;
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		log_warn("database: cannot begin a transaction: %s", sqlite3_errmsg(db));
		write_unlock();
	}
	return rc;
}

int store_commit(sqlite3 *db)
{
	int rc;

	store_reset(db);
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		log_err("database: commit failed: %s", sqlite3_errmsg(db));
		store_rollback(db);
	}
	write_unlock();
	return rc;
}

void store_rollback(sqlite3 *db)
{
	if (!db)
		return;
	store_reset(db);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	write_unlock();
}

void store_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

const char *store_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? (const char *)s : "";
}
