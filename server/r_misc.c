/* r_misc.c - GET /healthz, /metrics and /v1/pubkey: public, no auth. */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "routes.h"
#include "server.h"
#include "store.h"

enum MHD_Result h_healthz(struct req *r)
{
	struct db *db = store_db();
	struct dbq *st = db ? db_q(db, "SELECT 1") : NULL;
	int ok = st && db_step(st) == DB_ROW;

	if (st)
		db_reset(st);
	if (!ok)
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	return reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* Seats whose lease is live (or held by a checkout): -1 when unknown. */
static int64_t leases_active(void)
{
	struct db *db = store_db();
	struct dbq *st = db ? db_q(db, "SELECT COUNT(*) FROM machines m JOIN licenses l ON l.id = m.license_id "
				       "WHERE l.lease_seconds IS NOT NULL AND (m.lease_expires + ?1 > unixepoch() OR "
				       "m.checkout_until > unixepoch())")
			    : NULL;
	if (st)
		db_bind_int(st, 1, srv.cfg->lease_grace);
	return db_scalar(st);
}

enum MHD_Result h_metrics(struct req *r)
{
	char *text;

	metrics_leases_active(leases_active());
	text = metrics_render();

	if (!text)
		return reply_error(r, E_INTERNAL, "out of memory");
	return reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text);
}

enum MHD_Result h_pubkey(struct req *r)
{
	char *pem = strdup(srv.pub_pem);

	if (!pem)
		return reply_error(r, E_INTERNAL, "out of memory");
	return reply_text(r, 200, "application/x-pem-file", pem);
}
