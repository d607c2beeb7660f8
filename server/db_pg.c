/*
 * db_pg.c - the PostgreSQL backend of db.h, on libpq.
 *
 * Statements run through PQexecParams only, never as server-side prepared
 * statements, so that a PgBouncer in transaction mode may sit between the
 * nodes and the database.  Parameters go typed (int8, float8, text in text
 * form, bytea in binary); results come back in text form.  A connection that
 * broke is reset on its next use, so that every node recovers by itself
 * after a PostgreSQL restart.  Write transactions take one advisory lock
 * first: one writer at a time across every node, as on SQLite.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db.h"
#include "log.h"
#include "store.h"

#define MAX_PARAMS 16
#define CACHE_SIZE 96 /* statements per connection, as db_sqlite.c */

/* Type OIDs (pg_type.h is a server header). */
enum { BYTEAOID = 17, INT8OID = 20, INT4OID = 23, TEXTOID = 25, FLOAT8OID = 701 };

/* Advisory lock keys, one per purpose: "clmg" (migrations), "clwr" (writes). */
#define LOCK_MIGRATE "1668050279"
#define LOCK_WRITE "1668052850"

/* After a reconnect that failed slowly (a network timeout rather than a
 * refusal), answer DB_UNAVAILABLE at once for this long instead of blocking
 * every request for connect_timeout. */
#define SLOW_RESET_S 1
#define RESET_BACKOFF_S 5

struct pg {
	struct db base;
	PGconn *conn;
	char where[192]; /* host:port/dbname, for the logs: never the conninfo */
	struct pgq **qs;
	size_t nq, capq;
	int in_tx;   /* between begin and commit or rollback */
	int tx_lost; /* the connection broke inside that transaction */
	int down;    /* the last reconnect failed (logged once) */
	int64_t tx_now;
	time_t no_reset_until;
	char err[512];
};

struct pgq {
	struct dbq base;
	const char *key; /* the caller's SQL text: the cache key */
	char *sql;	 /* rewritten to $N */
	int nparams;
	Oid types[MAX_PARAMS];
	const char *vals[MAX_PARAMS];
	int lens[MAX_PARAMS], fmts[MAX_PARAMS];
	char *buf[MAX_PARAMS];
	size_t cap[MAX_PARAMS];
	int bad; /* a bind failed: the next step fails */
	PGresult *res;
	int ran, row, nrows;
	enum db_rc failed; /* the run's error, answered again until reset */
	int64_t changes;
	/* col_blob's decoded columns of the current row (PQunescapeBytea),
	 * each valid until the row changes, as db.h promises */
	unsigned char **blobs;
	size_t *bloblens;
	int nblobs;
};

#define PG(db) ((struct pg *)(db))
#define PGQ(q) ((struct pgq *)(q))

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Keep TEXT as the last error, on one line. */
static void set_err(struct pg *d, const char *text)
{
	size_t n;

	snprintf(d->err, sizeof(d->err), "%s", text && *text ? text : "unknown error");
	for (char *p = d->err; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	n = strlen(d->err);
	while (n && d->err[n - 1] == ' ')
		d->err[--n] = '\0';
}

static int sqlstate_lost(const char *s)
{
	return s && (strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
		     strcmp(s, "57P03") == 0);
}

/* Map a failed result (or a NULL one) to a db_rc; log it once. */
static enum db_rc fail(struct pg *d, const PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	enum db_rc rc = DB_ERR;

	set_err(d, msg && *msg ? msg : PQerrorMessage(d->conn));
	if (PQstatus(d->conn) == CONNECTION_BAD || sqlstate_lost(state))
		rc = DB_UNAVAILABLE;
	else if (state && strncmp(state, "23", 2) == 0)
		rc = DB_CONSTRAINT;
	else if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
		rc = DB_RETRY;
	if (rc == DB_UNAVAILABLE || rc == DB_RETRY) /* worth a retry: the request answers 503 */
		db_lost = 1;
	if (rc == DB_UNAVAILABLE && d->in_tx)
		d->tx_lost = 1;
	/* A constraint is the caller's expected answer (409 and the like). */
	log_msg(rc == DB_CONSTRAINT ? LOG_INFO : LOG_ERR, "database %s: %s: %s (SQLSTATE %s)", d->where, what,
		d->err, state ? state : "none");
	return rc;
}

static void notice(void *arg, const char *msg)
{
	(void)arg;
	log_debug("database: %s", msg);
}

/* Per-session settings; again after every reconnect. */
static int session_setup(struct pg *d)
{
	PGresult *res = PQexec(d->conn, "SET TIME ZONE 'UTC'");
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		fail(d, res, "session setup");
	PQclear(res);
	return ok ? 0 : -1;
}

/*
 * Read what an idle connection got unasked: a server that is shutting down
 * (restart, admin command) sends an error and closes it, and libpq marks it
 * bad only once it has read up to that close.
 */
static void drain(struct pg *d)
{
	struct pollfd pfd = {.fd = PQsocket(d->conn), .events = POLLIN};

	for (int i = 0; i < 8 && PQstatus(d->conn) == CONNECTION_OK; i++)
		if (poll(&pfd, 1, 0) != 1 || !PQconsumeInput(d->conn))
			break;
}

/*
 * Before each round trip: a usable connection, or DB_UNAVAILABLE.  Reading
 * what is pending first notices a server that closed an idle connection
 * (restart, admin shutdown) before a statement is lost on it.  Inside a
 * transaction a broken connection stays broken: the transaction is gone,
 * and a reset would run the rest of it outside any transaction.
 */
static enum db_rc ensure(struct pg *d)
{
	time_t t0;

	drain(d);
	if (PQstatus(d->conn) == CONNECTION_OK && !d->tx_lost)
		return DB_OK;
	if (d->in_tx) {
		d->tx_lost = 1;
		set_err(d, "the connection was lost inside the transaction");
		goto unavailable;
	}
	t0 = mono_now();
	if (t0 < d->no_reset_until)
		goto unavailable;
	PQreset(d->conn);
	if (PQstatus(d->conn) == CONNECTION_OK && session_setup(d) == 0) {
		log_info("database %s: reconnected", d->where);
		d->down = 0;
		return DB_OK;
	}
	set_err(d, PQerrorMessage(d->conn));
	if (mono_now() - t0 >= SLOW_RESET_S)
		d->no_reset_until = mono_now() + RESET_BACKOFF_S;
	if (!d->down)
		log_err("database %s: cannot reconnect: %s", d->where, d->err);
	d->down = 1;
unavailable:
	db_lost = 1;
	return DB_UNAVAILABLE;
}

/* Run a script without parameters: 0, or the mapped error. */
static enum db_rc run(struct pg *d, const char *sql, const char *what)
{
	PGresult *res = PQexec(d->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	enum db_rc rc = DB_OK;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
		rc = fail(d, res, what);
	PQclear(res);
	return rc;
}

/* Apply the PostgreSQL migrations not applied yet, one transaction each. */
static int migrate(struct pg *d)
{
	const struct migration *last = &store_migrations_pg[store_nmigrations_pg - 1];
	PGresult *res;
	long version;
	int ret = -1;

	/* Session lock: N nodes starting at once migrate once. */
	if (run(d, "SELECT pg_advisory_lock(" LOCK_MIGRATE ")", "migration lock") != DB_OK)
		return -1;
	if (run(d,
		"CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
		" applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
		"schema_version") != DB_OK)
		goto out;
	res = PQexec(d->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fail(d, res, "schema version");
		PQclear(res);
		goto out;
	}
	version = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (version > (long)last->version) {
		log_err("database %s: schema version %ld is newer than this corelockerd (%u)", d->where,
			version, last->version);
		goto out;
	}
	for (unsigned i = 0; i < store_nmigrations_pg; i++) {
		const struct migration *m = &store_migrations_pg[i];
		char vs[16];
		const char *vals[2] = {vs, m->name};

		if ((long)m->version <= version)
			continue;
		snprintf(vs, sizeof(vs), "%u", m->version);
		if (run(d, "BEGIN", "migration") != DB_OK)
			goto out;
		if (run(d, m->sql, m->name) != DB_OK)
			goto undo;
		res = PQexecParams(d->conn, "INSERT INTO schema_version (version, name) VALUES ($1, $2)", 2,
				   NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fail(d, res, m->name);
			PQclear(res);
			goto undo;
		}
		PQclear(res);
		if (run(d, "COMMIT", m->name) != DB_OK)
			goto undo;
		log_info("database %s: applied migration %s", d->where, m->name);
	}
	ret = 0;
	goto out;
undo:
	log_err("database %s: migration failed", d->where);
	run(d, "ROLLBACK", "migration rollback");
out:
	if (PQstatus(d->conn) == CONNECTION_OK)
		PQclear(PQexec(d->conn, "SELECT pg_advisory_unlock(" LOCK_MIGRATE ")"));
	return ret;
}

static void free_blobs(struct pgq *q)
{
	for (int i = 0; i < q->nblobs; i++) {
		PQfreemem(q->blobs[i]);
		q->blobs[i] = NULL;
	}
}

static void pgq_free(struct pgq *q)
{
	if (!q)
		return;
	PQclear(q->res);
	for (int i = 0; i < MAX_PARAMS; i++)
		free(q->buf[i]);
	free_blobs(q);
	free(q->blobs);
	free(q->bloblens);
	free(q->sql);
	free(q);
}

static void pg_close(struct db *db)
{
	struct pg *d = PG(db);

	if (!d)
		return;
	for (size_t i = 0; i < d->nq; i++)
		pgq_free(d->qs[i]);
	free(d->qs);
	PQfinish(d->conn);
	free(d);
}

static int pg_open(const char *where, int create, struct db **out)
{
	/* Later keywords win, and the expanded conninfo comes last: these are
	 * defaults that the DSN may override. */
	static const char *const kw[] = {"connect_timeout", "application_name", "client_encoding", "dbname",
					 NULL};
	const char *vals[] = {"5", "corelockerd", "UTF8", where, NULL};
	struct pg *d;

	(void)create; /* the database must exist; the migrations make the schema */
	if (!(d = calloc(1, sizeof(*d))))
		return -1;
	d->base.drv = &db_pg;
	d->conn = PQconnectdbParams(kw, vals, 1);
	if (!d->conn) {
		log_err("database: out of memory");
		free(d);
		return -1;
	}
	snprintf(d->where, sizeof(d->where), "%s:%s/%s", PQhost(d->conn) ? PQhost(d->conn) : "?",
		 PQport(d->conn) ? PQport(d->conn) : "?", PQdb(d->conn) ? PQdb(d->conn) : "?");
	if (PQstatus(d->conn) != CONNECTION_OK) {
		set_err(d, PQerrorMessage(d->conn));
		log_err("database %s (user %s): cannot connect: %s", d->where,
			PQuser(d->conn) ? PQuser(d->conn) : "?", d->err);
		pg_close(&d->base);
		return -1;
	}
	PQsetNoticeProcessor(d->conn, notice, NULL);
	if (session_setup(d) < 0 || migrate(d) < 0) {
		pg_close(&d->base);
		return -1;
	}
	*out = &d->base;
	return 0;
}

/*
 * ?N -> $N outside string literals, quoted identifiers and comments; a bare
 * ? is the next number after the largest so far, as in SQLite.  Returns the
 * new text (malloc'd) with *NPARAMS its largest parameter number, or NULL.
 */
static char *rewrite(const char *sql, int *nparams)
{
	size_t len = strlen(sql);
	char *out = malloc(len * 3 + 1), *o = out; /* "?" -> "$NN" at most */
	int max = 0;

	if (!out)
		return NULL;
	for (const char *p = sql; *p;) {
		if (*p == '\'' || *p == '"') {
			char quote = *p;
			*o++ = *p++;
			while (*p && *p != quote)
				*o++ = *p++; /* a doubled quote closes and reopens: same result */
			if (*p)
				*o++ = *p++;
		} else if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				*o++ = *p++;
		} else if (*p == '?') {
			int n = 0;
			p++;
			if (*p >= '0' && *p <= '9') {
				while (*p >= '0' && *p <= '9' && n <= MAX_PARAMS)
					n = n * 10 + (*p++ - '0');
			} else {
				n = max + 1;
			}
			if (n < 1 || n > MAX_PARAMS) {
				log_bug("database: parameter ?%d out of 1..%d in: %s", n, MAX_PARAMS, sql);
				free(out);
				return NULL;
			}
			if (n > max)
				max = n;
			o += sprintf(o, "$%d", n);
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	*nparams = max;
	return out;
}

static void clear_result(struct pgq *q)
{
	free_blobs(q);
	PQclear(q->res);
	q->res = NULL;
	q->ran = 0;
	q->row = -1;
	q->nrows = 0;
	q->changes = 0;
	q->failed = DB_OK;
}

static void clear_bindings(struct pgq *q)
{
	for (int i = 0; i < MAX_PARAMS; i++) {
		q->types[i] = 0;
		q->vals[i] = NULL;
		q->lens[i] = 0;
		q->fmts[i] = 0;
	}
	q->bad = 0;
}

static struct dbq *pg_q(struct db *db, const char *sql)
{
	struct pg *d = PG(db);
	struct pgq *q;

	for (size_t i = 0; i < d->nq; i++)
		if (d->qs[i]->key == sql) {
			clear_result(d->qs[i]);
			clear_bindings(d->qs[i]);
			return &d->qs[i]->base;
		}
	/* The daemon has a fixed set of statements: more means SQL built per
	 * call, which a cache keyed by address must not grow on. */
	if (d->nq == CACHE_SIZE) {
		log_bug("database: statement cache full");
		return NULL;
	}
	if (d->nq == d->capq) {
		size_t cap = d->capq ? d->capq * 2 : 32;
		struct pgq **qs = realloc(d->qs, cap * sizeof(*qs));
		if (!qs)
			return NULL;
		d->qs = qs;
		d->capq = cap;
	}
	if (!(q = calloc(1, sizeof(*q))))
		return NULL;
	q->base.db = db;
	q->key = sql;
	if (!(q->sql = rewrite(sql, &q->nparams))) {
		free(q);
		return NULL;
	}
	clear_result(q);
	d->qs[d->nq++] = q;
	return &q->base;
}

/* Copy one parameter's value into the statement (the caller's may go). */
static void put(struct pgq *q, int i, Oid type, int fmt, const void *p, size_t n)
{
	if (i < 1 || i > MAX_PARAMS) {
		log_bug("database: parameter %d out of 1..%d", i, MAX_PARAMS);
		q->bad = 1;
		return;
	}
	i--;
	q->types[i] = type;
	q->fmts[i] = fmt;
	q->lens[i] = 0;
	q->vals[i] = NULL;
	if (!p)
		return;
	if (n > INT32_MAX) {
		log_bug("database: parameter %d too large (%zu bytes)", i + 1, n);
		q->bad = 1;
		return;
	}
	if (q->cap[i] < n + 1) {
		char *b = realloc(q->buf[i], n + 1);
		if (!b) {
			q->bad = 1;
			return;
		}
		q->buf[i] = b;
		q->cap[i] = n + 1;
	}
	memcpy(q->buf[i], p, n);
	q->buf[i][n] = '\0';
	q->vals[i] = q->buf[i];
	q->lens[i] = (int)n;
}

static void pg_bind_int(struct dbq *q, int i, int64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof(s), "%" PRId64, v);

	put(PGQ(q), i, INT8OID, 0, s, (size_t)n);
}

static void pg_bind_double(struct dbq *q, int i, double v)
{
	char s[40];
	int n = snprintf(s, sizeof(s), "%.17g", v);

	put(PGQ(q), i, FLOAT8OID, 0, s, (size_t)n);
}

/* A NULL text is still typed text, so that "?1 IS NULL" resolves. */
static void pg_bind_text(struct dbq *q, int i, const char *s)
{
	put(PGQ(q), i, TEXTOID, 0, s, s ? strlen(s) : 0);
}

static void pg_bind_blob(struct dbq *q, int i, const void *p, size_t n)
{
	put(PGQ(q), i, BYTEAOID, 1, p ? p : "", n);
}

static void pg_bind_null(struct dbq *q, int i)
{
	put(PGQ(q), i, 0, 0, NULL, 0);
}

static enum db_rc pg_step(struct dbq *dq)
{
	struct pgq *q = PGQ(dq);
	struct pg *d = PG(dq->db);
	enum db_rc rc;

	if (q->ran) {
		if (q->failed != DB_OK)
			return q->failed;
		free_blobs(q);
		return ++q->row < q->nrows ? DB_ROW : DB_DONE;
	}
	q->ran = 1;
	if (q->bad) {
		set_err(d, "a parameter could not be bound");
		return q->failed = DB_ERR;
	}
	if ((rc = ensure(d)) != DB_OK)
		return q->failed = rc;
	q->res = PQexecParams(d->conn, q->sql, q->nparams, q->types, q->vals, q->lens, q->fmts, 0);
	switch (PQresultStatus(q->res)) {
	case PGRES_TUPLES_OK:
		q->nrows = PQntuples(q->res);
		/* fall through */
	case PGRES_COMMAND_OK:
	case PGRES_EMPTY_QUERY:
		q->changes = strtoll(PQcmdTuples(q->res), NULL, 10);
		return ++q->row < q->nrows ? DB_ROW : DB_DONE;
	default:
		rc = fail(d, q->res, q->key);
		PQclear(q->res);
		q->res = NULL;
		return q->failed = rc;
	}
}

/* Keeps the bindings, as SQLite's reset does: the statement can run again. */
static void pg_reset(struct dbq *q)
{
	int64_t changes = PGQ(q)->changes; /* db.h: the last run's, after a reset too (as SQLite) */
	clear_result(PGQ(q));
	PGQ(q)->changes = changes;
}

/* The current row's column I, or NULL when there is none or it is NULL. */
static const char *cell(struct pgq *q, int i)
{
	if (!q->res || q->row < 0 || q->row >= q->nrows || i < 0 || i >= PQnfields(q->res) ||
	    PQgetisnull(q->res, q->row, i))
		return NULL;
	return PQgetvalue(q->res, q->row, i);
}

/* Booleans read as 1 or 0, as SQLite's integers do. */
static int64_t pg_col_int(struct dbq *q, int i)
{
	const char *v = cell(PGQ(q), i);

	if (!v)
		return 0;
	if (strcmp(v, "t") == 0)
		return 1;
	if (strcmp(v, "f") == 0)
		return 0;
	return strtoll(v, NULL, 10);
}

static double pg_col_double(struct dbq *q, int i)
{
	const char *v = cell(PGQ(q), i);

	return v ? strtod(v, NULL) : 0.0;
}

static const char *pg_col_text(struct dbq *q, int i)
{
	const char *v = cell(PGQ(q), i);

	return v ? v : "";
}

/* bytea's text form (hex, or the old escape form where a server's
 * bytea_output says so), decoded once per row and column. */
static const void *pg_col_blob(struct dbq *dq, int i, size_t *n)
{
	struct pgq *q = PGQ(dq);
	const char *v = cell(q, i);

	*n = 0;
	if (!v)
		return NULL;
	if (i >= q->nblobs) {
		int nf = PQnfields(q->res);
		unsigned char **b = realloc(q->blobs, (size_t)nf * sizeof(*b));
		size_t *l = b ? realloc(q->bloblens, (size_t)nf * sizeof(*l)) : NULL;
		if (b)
			q->blobs = b;
		if (!l)
			return NULL;
		q->bloblens = l;
		for (int k = q->nblobs; k < nf; k++)
			q->blobs[k] = NULL;
		q->nblobs = nf;
	}
	if (!q->blobs[i] && !(q->blobs[i] = PQunescapeBytea((const unsigned char *)v, &q->bloblens[i]))) {
		log_bug("database: column %d: cannot decode bytea", i);
		return NULL;
	}
	*n = q->bloblens[i];
	return q->blobs[i];
}

static int pg_col_null(struct dbq *dq, int i)
{
	struct pgq *q = PGQ(dq);

	if (!q->res || q->row < 0 || q->row >= q->nrows || i < 0 || i >= PQnfields(q->res))
		return 1;
	return PQgetisnull(q->res, q->row, i);
}

static int64_t pg_changes(struct dbq *q)
{
	return PGQ(q)->changes;
}

/*
 * BEGIN, then the write turn (the transaction-scoped advisory lock that
 * every writer of every node takes first), then the transaction's time: one
 * round trip (PQexec answers with the last statement's result).  Every
 * write appends to the one audit chain, so writers are serialised at its
 * head anyway; taking the turn first also makes every read of the
 * transaction see each write committed before it.
 */
static enum db_rc pg_begin(struct db *db)
{
	struct pg *d = PG(db);
	PGresult *res;
	enum db_rc rc;

	if (d->in_tx) {
		log_bug("database: a transaction is already open on this connection");
		return DB_ERR;
	}
	if ((rc = ensure(d)) != DB_OK)
		return rc;
	/* The clock is read after the lock: now() would be the time of BEGIN,
	 * before the wait, and the audit's times would then go backwards. */
	res = PQexec(d->conn, "BEGIN; SELECT pg_advisory_xact_lock(" LOCK_WRITE "); "
			      "SELECT 0, floor(extract(epoch FROM clock_timestamp()))");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = fail(d, res, "begin");
		PQclear(res);
		if (PQstatus(d->conn) == CONNECTION_OK)
			PQclear(PQexec(d->conn, "ROLLBACK"));
		return rc;
	}
	d->tx_now = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	d->in_tx = 1;
	d->tx_lost = 0;
	return DB_OK;
}

static enum db_rc pg_commit(struct db *db)
{
	struct pg *d = PG(db);
	PGresult *res;
	enum db_rc rc = DB_OK;

	if (!d->in_tx) {
		log_bug("database: commit without a transaction");
		return DB_ERR;
	}
	d->in_tx = 0;
	if (d->tx_lost) {
		d->tx_lost = 0;
		set_err(d, "the connection was lost inside the transaction");
		db_lost = 1;
		return DB_UNAVAILABLE;
	}
	res = PQexec(d->conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = fail(d, res, "commit");
	} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		/* COMMIT of a transaction that a failed statement aborted rolls back */
		set_err(d, "the transaction was rolled back (a statement in it failed)");
		log_err("database %s: commit: %s", d->where, d->err);
		rc = DB_ERR;
	}
	PQclear(res);
	return rc;
}

static void pg_rollback(struct db *db)
{
	struct pg *d = PG(db);

	if (!d->in_tx)
		return;
	d->in_tx = 0;
	d->tx_lost = 0;
	if (PQstatus(d->conn) == CONNECTION_OK)
		PQclear(PQexec(d->conn, "ROLLBACK"));
}

static void pg_reset_all(struct db *db)
{
	struct pg *d = PG(db);

	for (size_t i = 0; i < d->nq; i++)
		clear_result(d->qs[i]);
}

/* Without a database, the local clock: the caller's next statement fails
 * on the same connection anyway, and 0 would be a time long past. */
static int64_t pg_now(struct db *db)
{
	struct pg *d = PG(db);
	PGresult *res;
	int64_t t = (int64_t)time(NULL);

	if (d->in_tx)
		return d->tx_now;
	if (ensure(d) != DB_OK)
		return t;
	res = PQexec(d->conn, "SELECT floor(extract(epoch FROM clock_timestamp()))");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		t = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	else
		fail(d, res, "now");
	PQclear(res);
	return t;
}

static int pg_slice_read(struct db *db, const char *id, int64_t off, void *buf, size_t n)
{
	struct pg *d = PG(db);
	char from[24], count[24];
	const char *vals[3] = {id, from, count};
	const Oid types[3] = {TEXTOID, INT4OID, INT4OID};
	const int fmts[3] = {0, 0, 0};
	PGresult *res;
	int ret = -1;

	/* substring() counts in int4 */
	if (off < 0 || n > INT32_MAX || off > (int64_t)INT32_MAX - (int64_t)n)
		return -1;
	if (ensure(d) != DB_OK)
		return -1;
	snprintf(from, sizeof(from), "%" PRId64, off + 1);
	snprintf(count, sizeof(count), "%zu", n);
	res = PQexecParams(d->conn, "SELECT substring(sealed FROM $2 FOR $3) FROM slices WHERE id = $1", 3,
			   types, vals, NULL, fmts, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail(d, res, "slice read");
	else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && (size_t)PQgetlength(res, 0, 0) == n) {
		memcpy(buf, PQgetvalue(res, 0, 0), n);
		ret = 0;
	}
	PQclear(res);
	return ret;
}

static enum db_rc pg_exec(struct db *db, const char *sql)
{
	struct pg *d = PG(db);
	enum db_rc rc = ensure(d);

	return rc != DB_OK ? rc : run(d, sql, "exec");
}

static const char *pg_errmsg(struct db *db)
{
	return PG(db)->err;
}

const struct db_driver db_pg = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .q = pg_q,
    .bind_int = pg_bind_int,
    .bind_double = pg_bind_double,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .reset = pg_reset,
    .col_int = pg_col_int,
    .col_double = pg_col_double,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .col_null = pg_col_null,
    .changes = pg_changes,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .reset_all = pg_reset_all,
    .now = pg_now,
    .slice_read = pg_slice_read,
    .slice_chunk = 1u << 20,
    .exec = pg_exec,
    .errmsg = pg_errmsg,
};
