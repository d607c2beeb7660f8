/* store.c - the configured backend, one connection per worker thread, transactions. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"

_Thread_local int db_lost;

static const struct db_driver *const drivers[] = {&db_sqlite, &db_pg};

static const struct db_driver *backend = &db_sqlite;
static char *where;

/* Every connection opened by store_db(), closed together at exit. */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn {
	struct db *db;
	struct conn *next;
} *conns;
static _Thread_local struct db *mine;

const struct db_driver *store_driver(const char *name)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

int store_init(const char *backend_name, const char *w)
{
	const struct db_driver *d = store_driver(backend_name);
	char *copy = strdup(w);

	if (!d || !copy) {
		free(copy);
		return -1;
	}
	backend = d;
	free(where);
	where = copy;
	return 0;
}

const char *store_backend(void) { return backend->name; }

int store_open(int create, struct db **out)
{
	if (!where)
		return -1;
	return backend->open(where, create, out);
}

void store_close(struct db *db)
{
	if (db)
		db->drv->close(db);
}

struct db *store_db(void)
{
	struct conn *c;
	struct db *db;

	if (mine)
		return mine;
	if (store_open(0, &db) < 0)
		return NULL;
	if (!(c = malloc(sizeof(*c)))) {
		store_close(db);
		return NULL;
	}
	c->db = db;
	pthread_mutex_lock(&conns_lock);
	c->next = conns;
	conns = c;
	pthread_mutex_unlock(&conns_lock);
	return mine = db;
}

void store_close_all(void)
{
	pthread_mutex_lock(&conns_lock);
	while (conns) {
		struct conn *c = conns;
		conns = c->next;
		store_close(c->db);
		free(c);
	}
	pthread_mutex_unlock(&conns_lock);
	mine = NULL;
}

enum db_rc store_begin(struct db *db) { return db->drv->begin(db); }
enum db_rc store_commit(struct db *db) { return db->drv->commit(db); }

void store_rollback(struct db *db)
{
	if (db)
		db->drv->rollback(db);
}

void store_reset(struct db *db)
{
	if (db)
		db->drv->reset_all(db);
}
