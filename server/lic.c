/* lic.c - finding and checking a license for the agent's calls; seat leases (see lic.h). */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "digest.h"
#include "lic.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "server.h"
#include "util.h"

/*
 * One query for the license of KEY, the seat of FP on it (its rank among
 * the license's seats, oldest first, and its lease) and the database's
 * clock: the agent's calls make one round trip to check a license.
 * 0, -1 when the key is unknown, -2 on a database error.
 */
static int lic_load(struct db *db, const char *key, const char *fp, struct lic *l)
{
	uint8_t h[32];
	struct dbq *st;
	int rc;

	memset(l, 0, sizeof(*l));
	if (auth_hash("license", key, h) < 0)
		return -2;
	cl_hex(h, 16, l->rate_key);
	if (!(st = db_q(db, "SELECT l.id, l.model_id, l.tier, l.status, l.expires_at, l.max_machines, l.lease_seconds, "
			    "l.floating, l.max_checkout, unixepoch(), m.id, (SELECT COUNT(*) FROM machines o WHERE "
			    "o.license_id = l.id AND o.id <= m.id), m.lease_expires, m.checkout_until "
			    "FROM licenses l LEFT JOIN machines m ON m.license_id = l.id AND m.fingerprint = ?2 "
			    "WHERE l.key_hash = ?1")))
		return -2;
	db_bind_blob(st, 1, h, sizeof(h));
	db_bind_text(st, 2, fp ? fp : "");
	rc = db_step(st);
	if (rc == DB_ROW) {
		l->id = db_int(st, 0);
		l->model = db_int(st, 1);
		snprintf(l->tier, sizeof(l->tier), "%s", db_text(st, 2));
		snprintf(l->status, sizeof(l->status), "%s", db_text(st, 3));
		l->has_exp = !db_is_null(st, 4);
		l->expires_at = db_int(st, 4);
		l->max_machines = db_int(st, 5);
		l->lease_seconds = db_is_null(st, 6) ? 0 : db_int(st, 6);
		l->floating = db_int(st, 7) != 0;
		l->max_checkout = db_int(st, 8);
		l->now = db_int(st, 9);
		l->seated = !db_is_null(st, 10);
		l->machine = l->seated ? db_int(st, 10) : 0;
		l->rank = db_int(st, 11);
		l->lease_expires = db_is_null(st, 12) ? 0 : db_int(st, 12);
		l->checkout_until = db_is_null(st, 13) ? 0 : db_int(st, 13);
	}
	db_reset(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? -1 : -2;
}

/* The fixed check order after NOT_FOUND: REVOKED, SUSPENDED, EXPIRED. */
static enum api_err lic_status(const struct lic *l)
{
	if (!strcmp(l->status, "revoked"))
		return E_REVOKED;
	if (!strcmp(l->status, "suspended"))
		return E_SUSPENDED;
	if (l->has_exp && l->expires_at <= l->now)
		return E_EXPIRED;
	return E_VALID;
}

/* A seat without a lease (made before the license had one) counts as lapsed. */
static int lapsed(const struct lic *l)
{
	return l->lease_seconds && l->lease_expires + srv.cfg->lease_grace <= l->now && l->checkout_until <= l->now;
}

enum api_err lic_seat(const struct lic *l)
{
	if (!l->seated)
		return E_NOT_ACTIVATED;
	if (l->rank > l->max_machines)
		return E_TOO_MANY_MACHINES;
	return lapsed(l) ? E_LEASE_EXPIRED : E_VALID;
}

enum api_err lic_check(struct db *db, const char *key, const char *fp, struct lic *l, int seat)
{
	int rc = lic_load(db, key, fp, l);
	enum api_err e;

	if (rc == -2)
		return E_UNAVAILABLE;
	if (rc == -1)
		return E_NOT_FOUND;
	if ((e = lic_status(l)) != E_VALID || !seat)
		return e;
	return lic_seat(l);
}

int lic_admitted(struct req *r, enum api_err e, const struct lic *l, enum MHD_Result *res)
{
	int limited;

	if (e == E_UNAVAILABLE) {
		*res = reply_error(r, e, "database error");
		return 0;
	}
	if (e != E_NOT_FOUND && (*res = http_check_license_rate(r, l->rate_key, &limited), limited))
		return 0;
	if (e != E_VALID) {
		*res = reply_error(r, e, "%s", e == E_NOT_FOUND ? "unknown license key" : api_errors[e].meaning);
		return 0;
	}
	return 1;
}

int lic_touch(struct db *db, struct lic *l, const char *hostname, int64_t checkout_until)
{
	struct dbq *st = db_q(db, "UPDATE machines SET last_seen = ?2, "
				  "lease_expires = CASE WHEN ?3 > 0 THEN ?2 + ?3 ELSE lease_expires END, "
				  "hostname = COALESCE(?4, hostname), checkout_until = CASE WHEN ?5 > "
				  "COALESCE(checkout_until, 0) THEN ?5 ELSE checkout_until END WHERE id = ?1");
	int rc;

	if (!st)
		return -1;
	db_bind_int(st, 1, l->machine);
	db_bind_int(st, 2, l->now);
	db_bind_int(st, 3, l->lease_seconds);
	db_bind_text(st, 4, hostname);
	db_bind_int(st, 5, checkout_until);
	rc = db_step(st);
	db_reset(st);
	if (rc != DB_DONE)
		return -1;
	if (l->lease_seconds)
		l->lease_expires = l->now + l->lease_seconds;
	return 0;
}

int64_t lic_free_lapsed(struct db *db, const struct lic *l)
{
	struct dbq *st;
	char target[32];
	json_t *detail;
	int64_t n;
	int rc;

	if (!l->floating || !l->lease_seconds)
		return 0;
	if (!(st = db_q(db, "DELETE FROM machines WHERE license_id = ?1 AND (lease_expires IS NULL OR "
			    "lease_expires + ?2 <= ?3) AND (checkout_until IS NULL OR checkout_until <= ?3)")))
		return -1;
	db_bind_int(st, 1, l->id);
	db_bind_int(st, 2, srv.cfg->lease_grace);
	db_bind_int(st, 3, l->now);
	rc = db_step(st);
	db_reset(st);
	if (rc != DB_DONE)
		return -1;
	if (!(n = db_changes(st)))
		return 0;
	snprintf(target, sizeof(target), "license:%lld", (long long)l->id);
	detail = json_pack("{s:I}", "freed", (json_int_t)n);
	rc = audit_append(db, "server", "machine.lease_lapsed", target, detail);
	json_decref(detail);
	if (rc < 0)
		return -1;
	metrics_lease_lapses((unsigned)n);
	log_info("license %lld: %lld lapsed floating seat(s) freed", (long long)l->id, (long long)n);
	return n;
}

json_t *lic_lease_json(const struct lic *l)
{
	return json_time(l->lease_expires, l->lease_seconds && l->lease_expires);
}
