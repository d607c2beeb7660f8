/*
 * migrate.c - `corelockerd migrate --from sqlite:PATH`: copy a single-node
 * SQLite database into the configured PostgreSQL one.
 *
 * The copy is one PostgreSQL transaction: it lands whole or not at all, so
 * a migration that was interrupted (killed, database restarted, disk full)
 * leaves the target as it was and can simply be run again.  Before it
 * commits, every table's row count is compared with the source's and the
 * copied audit chain is verified (hashes and macs, with this node's master
 * key) and must end on the source's last hash.  A target that already holds
 * the very same chain is reported as migrated; any other non-empty target is
 * refused, never merged into.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "log.h"
#include "migrate.h"
#include "store.h"

/* Column types: i integer, d real, t text, b blob. */
struct table {
	const char *name, *cols, *types, *key;
	const char *identity; /* the column whose sequence follows the copied ids, or NULL */
};

/* In foreign-key order. */
static const struct table tables[] = {
	{"tokens", "id, name, hash, created_at, scope, expires_at", "itbiti", "id", "id"},
	{"models",
	 "id, name, version, unit, scope, alpha, locked_sha256, original_sha256, key_sha256, key_bytes, "
	 "units_finite, units_locked, shards, created_at",
	 "ittttdtttiiiti", "id", "id"},
	{"model_keys", "model_id, sealed", "ib", "model_id", NULL},
	{"slices", "id, model_id, sealed", "tib", "id", NULL},
	{"tiers", "model_id, name, ratio, slice_id, units, entries, bytes, created_at, updated_at, utility, label, "
	 "fingerprint",
	 "itdtiiiiidti", "model_id, name", NULL},
	{"licenses",
	 "id, key_hash, model_id, tier, customer, status, expires_at, max_machines, created_at, updated_at, "
	 "lease_seconds, floating, max_checkout",
	 "ibitttiiiiiii", "id", "id"},
	{"machines", "id, license_id, fingerprint, hostname, activated_at, last_seen, lease_expires, checkout_until",
	 "iittiiii", "id", "id"},
	{"audit", "seq, ts, actor, action, target, detail, prev_hash, hash, mac", "iittttttt", "seq", NULL},
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

/* The SQL texts live as long as the process: db_q() caches by address. */
static char *sql_select[NTABLES], *sql_insert[NTABLES], *sql_count[NTABLES];

static int make_sql(void)
{
	for (size_t t = 0; t < NTABLES; t++) {
		const struct table *tb = &tables[t];
		size_t n = strlen(tb->types);
		char params[16 * 5] = "";

		size_t cols = 1;

		for (const char *c = tb->cols; *c; c++)
			cols += *c == ',';
		if (cols != n) { /* a table above out of step with itself */
			log_bug("migrate: %s: %zu columns but %zu types", tb->name, cols, n);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			snprintf(params + strlen(params), sizeof(params) - strlen(params), "%s?%zu", i ? ", " : "",
				 i + 1);
		if (asprintf(&sql_select[t], "SELECT %s FROM %s ORDER BY %s", tb->cols, tb->name, tb->key) < 0 ||
		    asprintf(&sql_insert[t], "INSERT INTO %s (%s) VALUES (%s)", tb->name, tb->cols, params) < 0 ||
		    asprintf(&sql_count[t], "SELECT count(*) FROM %s", tb->name) < 0)
			return -1;
	}
	return 0;
}

static int64_t count_rows(struct db *db, size_t t)
{
	return db_scalar(db_q(db, sql_count[t]));
}

/* Bind column I of the source row to parameter I+1 of the insert, by type. */
static void copy_col(struct dbq *from, struct dbq *to, int i, char type)
{
	const void *p;
	size_t n;

	if (db_is_null(from, i)) {
		db_bind_null(to, i + 1);
		return;
	}
	switch (type) {
	case 'i':
		db_bind_int(to, i + 1, db_int(from, i));
		break;
	case 'd':
		db_bind_double(to, i + 1, db_double(from, i));
		break;
	case 'b':
		p = db_blob(from, i, &n);
		db_bind_blob(to, i + 1, p, n);
		break;
	default:
		db_bind_text(to, i + 1, db_text(from, i));
	}
}

static int copy_table(struct db *src, struct db *dst, size_t t)
{
	struct dbq *from = db_q(src, sql_select[t]), *to;
	const char *types = tables[t].types;
	enum db_rc rc;
	int64_t rows = 0;

	if (!from)
		return -1;
	while ((rc = db_step(from)) == DB_ROW) {
		if (!(to = db_q(dst, sql_insert[t])))
			break;
		for (int i = 0; types[i]; i++)
			copy_col(from, to, i, types[i]);
		rc = db_step(to);
		db_reset(to);
		if (rc != DB_DONE) {
			log_err("migrate: %s: cannot insert row %lld: %s", tables[t].name, (long long)rows + 1,
				db_errmsg(dst));
			break;
		}
		rows++;
	}
	db_reset(from);
	if (rc != DB_DONE)
		return -1;
	log_info("migrate: %s: %lld rows copied", tables[t].name, (long long)rows);
	return 0;
}

/* The identity sequences go on after the copied ids (PostgreSQL). */
static int follow_ids(struct db *dst)
{
	for (size_t t = 0; t < NTABLES; t++) {
		char *sql;
		enum db_rc rc;

		if (!tables[t].identity)
			continue;
		if (asprintf(&sql, "SELECT setval(pg_get_serial_sequence('%s', '%s'), (SELECT COALESCE(max(%s), 0) + 1 FROM %s), false)",
			     tables[t].name, tables[t].identity, tables[t].identity, tables[t].name) < 0)
			return -1;
		rc = dst->drv->exec(dst, sql);
		free(sql);
		if (rc != DB_OK)
			return -1;
	}
	return 0;
}

/* The last audit hash, "" for an empty log. */
static int last_hash(struct db *db, char out[65])
{
	static const char sql[] = "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1";
	struct dbq *q = db_q(db, sql);
	enum db_rc rc;

	*out = 0;
	if (!q)
		return -1;
	if ((rc = db_step(q)) == DB_ROW)
		snprintf(out, 65, "%s", db_text(q, 0));
	db_reset(q);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

/* The target's chain holds the source's and, right after it, this command's entry. */
static int migrated_before(struct db *src, struct db *dst, int64_t entries)
{
	static const char sql[] = "SELECT seq, hash, action FROM audit WHERE seq IN (?1, ?2) ORDER BY seq";
	struct dbq *q = db_q(dst, sql);
	char want[65];
	int ok = 0;

	if (!q || last_hash(src, want) < 0)
		return 0;
	db_bind_int(q, 1, entries);
	db_bind_int(q, 2, entries + 1);
	if (db_step(q) == DB_ROW && db_int(q, 0) == entries && !strcmp(db_text(q, 1), want) && db_step(q) == DB_ROW)
		ok = !strcmp(db_text(q, 2), "store.migrate");
	db_reset(q);
	return ok;
}

/* Counts equal, chain verified, same last hash: 0; else -1 with the reason logged. */
static int verify(struct db *src, struct db *dst, int64_t counts[NTABLES])
{
	struct audit_status st;
	char a[65], b[65];
	int r;

	for (size_t t = 0; t < NTABLES; t++) {
		int64_t n = count_rows(dst, t);
		if (n != counts[t]) {
			log_err("migrate: %s: %lld rows in the target, %lld in the source", tables[t].name, (long long)n,
				(long long)counts[t]);
			return -1;
		}
	}
	if ((r = audit_verify(dst, &st)) != 0) {
		log_err("migrate: the copied audit chain does not verify%s%s", r > 0 ? ": " : "", r > 0 ? st.why : "");
		return -1;
	}
	if (last_hash(src, a) < 0 || last_hash(dst, b) < 0 || strcmp(a, b) != 0) {
		log_err("migrate: the copied audit chain does not end where the source's does");
		return -1;
	}
	return 0;
}

int migrate_from(const char *from)
{
	const char *path = from;
	struct db *src = NULL, *dst = NULL;
	int64_t counts[NTABLES], total = 0, existing;
	int r = 1, began = 0;
	json_t *detail = NULL;

	if (strncmp(path, "sqlite:", 7) != 0 || !path[7]) {
		log_err("migrate: --from must be sqlite:PATH (the single-node database)");
		return 2;
	}
	path += 7;
	if (strcmp(store_backend(), "postgresql") != 0) {
		log_err("migrate: the configuration's [storage] backend must be postgresql (the target)");
		return 2;
	}
	if (make_sql() < 0 || db_sqlite.open(path, 0, &src) < 0 || store_open(0, &dst) < 0)
		goto out;
	/* One read transaction on the source: a consistent snapshot, even if a daemon still runs. */
	if (src->drv->exec(src, "BEGIN") != DB_OK)
		goto out;
	for (size_t t = 0; t < NTABLES; t++) {
		if ((counts[t] = count_rows(src, t)) < 0)
			goto out;
		total += counts[t];
	}
	if (store_begin(dst) != DB_OK)
		goto out;
	began = 1;
	if ((existing = count_rows(dst, NTABLES - 1)) < 0)
		goto out;
	if (existing > 0) {
		if (migrated_before(src, dst, counts[NTABLES - 1])) {
			printf("already migrated: the target's audit chain holds this database's %lld entries and the "
			       "migration's own\n",
			       (long long)counts[NTABLES - 1]);
			r = 0;
		} else {
			log_err("migrate: the target database is not empty and is not a copy of %s; refusing", path);
		}
		goto out;
	}
	for (size_t t = 0; t < NTABLES; t++)
		if (copy_table(src, dst, t) < 0)
			goto out;
	if (follow_ids(dst) < 0 || verify(src, dst, counts) < 0)
		goto out;
	detail = json_pack("{s:s,s:I,s:I}", "from", path, "rows", (json_int_t)total, "audit_entries",
			   (json_int_t)counts[NTABLES - 1]);
	if (audit_append(dst, "cli", "store.migrate", "storage", detail) < 0 || store_commit(dst) != DB_OK)
		goto out;
	began = 0;
	printf("migrated %s: %lld rows, %lld audit entries; counts and audit chain verified\n", path,
	       (long long)total, (long long)counts[NTABLES - 1]);
	r = 0;
out:
	if (r)
		log_err("migrate: nothing was written to the target; fix the cause and run it again");
	if (began)
		store_rollback(dst);
	json_decref(detail);
	if (src) {
		src->drv->exec(src, "COMMIT");
		store_close(src);
	}
	store_close(dst);
	for (size_t t = 0; t < NTABLES; t++) {
		free(sql_select[t]);
		free(sql_insert[t]);
		free(sql_count[t]);
		sql_select[t] = sql_insert[t] = sql_count[t] = NULL;
	}
	return r;
}
