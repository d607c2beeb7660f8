/* r_agent.c - the agent's calls: /v1/activate, /v1/validate, /v1/key. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jsonx.h"
#include "lic.h"
#include "audit.h"
#include "batch.h"
#include "delivery.h"
#include "auth.h"
#include "digest.h"
#include "log.h"
#include "metrics.h"
#include "resources.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "tiercut.h"
#include "util.h"
#include "volstream.h"

static const struct jfield spec_activate[] = {
	{"license_key", JF_STRING, JF_REQUIRED, 1, SECRET_MAX},
	{"fingerprint", JF_STRING, JF_REQUIRED, 1, 128},
	{"hostname", JF_STRING, JF_NULLABLE, 0, 255},
};
static const struct jfield spec_validate[] = {
	{"license_key", JF_STRING, JF_REQUIRED, 1, SECRET_MAX},
	{"fingerprint", JF_STRING, JF_REQUIRED, 1, 128},
	{"nonce", JF_STRING, JF_REQUIRED, 1, 128},
};
static const struct jfield spec_key[] = {
	{"license_key", JF_STRING, JF_REQUIRED, 1, SECRET_MAX},
	{"fingerprint", JF_STRING, JF_REQUIRED, 1, 128},
	{"nonce", JF_STRING, JF_REQUIRED, 1, 128},
	{"from_tier", JF_STRING, JF_NULLABLE, 1, 64}, /* deprecated: from_beta */
	{"from_beta", JF_NUMBER, JF_NULLABLE, 0, 0},
};

/* Seats the license holds now, or -1. */
static int64_t seats_taken(struct db *db, const struct lic *l)
{
	struct dbq *st = db_q(db, "SELECT COUNT(*) FROM machines WHERE license_id = ?1");

	if (st)
		db_bind_int(st, 1, l->id);
	return db_scalar(st);
}

enum MHD_Result h_activate(struct req *r)
{
	struct jval v[3];
	enum MHD_Result res;
	json_t *root = jreq_parse(r, spec_activate, 3, v, &res), *detail;
	struct db *db = store_db();
	struct lic l;
	enum api_err e;
	struct dbq *st;
	int64_t seats = 0;
	char target[64];
	int fresh = 0, rc;

	if (!root)
		return res;
	if (!db || store_begin(db) != DB_OK) {
		res = reply_error(r, E_UNAVAILABLE, "database busy");
		goto out;
	}
	e = lic_check(db, v[0].s, v[1].s, &l, 0);
	if (!lic_admitted(r, e, &l, &res))
		goto out;
	e = lic_seat(&l);
	if (e == E_LEASE_EXPIRED) /* activating again is a sign of life: renewed below */
		e = E_VALID;
	if (e == E_NOT_ACTIVATED) {
		if ((seats = seats_taken(db, &l)) >= l.max_machines && l.floating &&
		    lic_free_lapsed(db, &l) > 0) /* a floating seat whose lease lapsed goes to this machine */
			seats = seats_taken(db, &l);
		if (seats < 0) {
			res = reply_error(r, E_UNAVAILABLE, "database error while seating the machine; retry");
			goto out;
		}
		if (seats >= l.max_machines) {
			res = reply_error(r, E_TOO_MANY_MACHINES, "all %lld seats of license %lld are taken",
					  (long long)l.max_machines, (long long)l.id);
			goto out;
		}
		st = db_q(db, "INSERT INTO machines (license_id, fingerprint, hostname, activated_at, last_seen, "
			      "lease_expires) VALUES (?1, ?2, ?3, ?4, ?4, ?5) RETURNING id");
		db_bind_int(st, 1, l.id);
		db_bind_text(st, 2, v[1].s);
		db_bind_text(st, 3, v[2].is_null ? NULL : v[2].s);
		db_bind_int(st, 4, l.now);
		if (l.lease_seconds)
			db_bind_int(st, 5, l.lease_expires = l.now + l.lease_seconds);
		rc = db_insert(st, &l.machine);
		snprintf(target, sizeof(target), "license:%lld/machine:%lld", (long long)l.id, (long long)l.machine);
		detail = json_pack("{s:s}", "fingerprint", v[1].s);
		if (detail && v[2].s && !v[2].is_null)
			json_object_set_new(detail, "hostname", json_string(v[2].s));
		rc = rc == DB_DONE ? audit_append(db, "agent", "machine.activate", target, detail) : -1;
		json_decref(detail);
		if (rc < 0) {
			res = reply_error(r, E_UNAVAILABLE, "cannot seat the machine; retry");
			goto out;
		}
		fresh = 1;
	} else if (e != E_VALID) {
		res = reply_error(r, e, "%s", api_errors[e].meaning);
		goto out;
	} else {
		if (lic_touch(db, &l, v[2].is_null ? NULL : v[2].s, 0) < 0) {
			res = reply_error(r, E_UNAVAILABLE, "cannot renew the seat; retry");
			goto out;
		}
	}
	if (store_commit(db) != DB_OK) {
		res = reply_error(r, E_UNAVAILABLE, "cannot commit; retry");
		goto out;
	}
	if (fresh)
		log_info("license %lld: machine %lld activated", (long long)l.id, (long long)l.machine);
	res = reply_json(r, 200,
			 json_pack("{s:b,s:b,s:I,s:I,s:I,s:s,s:o,s:I,s:o}", "activated", 1, "new", fresh, "license",
				   (json_int_t)l.id, "machine", (json_int_t)l.machine, "model", (json_int_t)l.model, "tier",
				   l.tier, "expires_at", json_time(l.expires_at, l.has_exp), "max_machines",
				   (json_int_t)l.max_machines, "lease_expires", lic_lease_json(&l)));
out:
	store_rollback(db);
	json_decref(root);
	return res;
}

/* A heartbeat's lease renewal, inside a shared transaction (batch.h). */
struct renewal {
	const char *key, *fp;
	struct lic l;
	enum api_err e;
};

/*
 * Renew a valid seat's lease, or a lapsed one's that nobody took meanwhile:
 * only the renewal after a lapse is audited (a state change; a heartbeat
 * every few seconds would drown the chain).
 */
static int renew_lease(struct db *db, void *arg)
{
	struct renewal *w = arg;
	int64_t lapsed_at;
	char target[64];
	json_t *detail;
	int rc;

	w->e = lic_check(db, w->key, w->fp, &w->l, 1);
	if (w->e == E_UNAVAILABLE)
		return -1;
	if (w->e != E_VALID && w->e != E_LEASE_EXPIRED)
		return 1;
	lapsed_at = w->l.lease_expires;
	if (lic_touch(db, &w->l, NULL, 0) < 0)
		return -1;
	if (w->e == E_LEASE_EXPIRED) {
		snprintf(target, sizeof(target), "license:%lld/machine:%lld", (long long)w->l.id,
			 (long long)w->l.machine);
		detail = json_pack("{s:o,s:o}", "lapsed_at", json_time(lapsed_at, lapsed_at != 0), "lease_expires",
				   lic_lease_json(&w->l));
		rc = audit_append(db, "agent", "machine.lease_renewed", target, detail);
		json_decref(detail);
		if (rc < 0)
			return -1;
		metrics_lease_lapses(1);
	}
	w->e = E_VALID;
	return 0;
}

/*
 * POST /v1/validate and /v1/heartbeat: always 200, signed, with the code.
 * A heartbeat also renews the seat's lease (a write, group-committed); a
 * validate never writes.
 */
static enum MHD_Result check_answer(struct req *r, int heartbeat)
{
	struct jval v[3];
	enum MHD_Result res;
	json_t *root = jreq_parse(r, spec_validate, 3, v, &res), *body;
	struct db *db = store_db();
	struct renewal w = {0};
	struct lic *l = &w.l;
	struct dbq *st;
	enum api_err e;
	char ts[32];
	int limited;

	if (!root)
		return res;
	if (!db) {
		res = reply_error(r, E_UNAVAILABLE, "database unavailable");
		goto out;
	}
	e = lic_check(db, v[0].s, v[1].s, l, 1);
	store_reset(db);
	if (e == E_UNAVAILABLE) {
		res = reply_error(r, e, "database error");
		goto out;
	}
	if (e != E_NOT_FOUND && (res = http_check_license_rate(r, l->rate_key, &limited), limited))
		goto out;
	if (heartbeat && l->lease_seconds && (e == E_VALID || e == E_LEASE_EXPIRED)) {
		w.key = v[0].s;
		w.fp = v[1].s;
		if (batch_run(db, renew_lease, &w) < 0) {
			res = reply_error(r, E_UNAVAILABLE, "cannot renew the lease; retry");
			goto out;
		}
		e = w.e;
	}
	cl_time_fmt(l->now, ts);
	body = json_pack("{s:b,s:s,s:s,s:s}", "valid", e == E_VALID, "code", api_errors[e].code, "nonce", v[2].s, "ts", ts);
	if (body && e != E_NOT_FOUND) {
		json_object_set_new(body, "license", json_integer((json_int_t)l->id));
		json_object_set_new(body, "model", json_integer((json_int_t)l->model));
		json_object_set_new(body, "tier", json_string(l->tier));
		json_object_set_new(body, "expires_at", json_time(l->expires_at, l->has_exp));
		json_object_set_new(body, "lease_expires", lic_lease_json(l));
		/*
		 * The model the agent must patch and the tier's ratio: it checks
		 * its file before it activates or fetches anything.
		 */
		if (!heartbeat && (st = db_q(db, "SELECT m.locked_sha256, t.ratio FROM models m LEFT JOIN tiers t "
						 "ON t.model_id = m.id AND t.name = ?2 WHERE m.id = ?1"))) {
			db_bind_int(st, 1, l->model);
			db_bind_text(st, 2, l->tier);
			if (db_step(st) == DB_ROW) {
				json_object_set_new(body, "locked_sha256", json_string(db_text(st, 0)));
				if (!db_is_null(st, 1))
					json_object_set_new(body, "beta", json_real(db_double(st, 1)));
			}
			store_reset(db);
		}
	}
	res = body ? reply_signed_json(r, 200, body) : reply_error(r, E_INTERNAL, "out of memory");
out:
	json_decref(root);
	return res;
}

enum MHD_Result h_validate(struct req *r) { return check_answer(r, 0); }
enum MHD_Result h_heartbeat(struct req *r) { return check_answer(r, 1); }

/*
 * The fields of a volume header, in a fixed order.  An upgrade carries
 * from_beta, and from_tier only when the request named one.  A MARKED
 * (fingerprinted) full tier is not the original: it carries no original
 * digest to check against.
 */
static json_t *volume_header(struct db *db, const struct lic *l, double beta, int upgrade, const char *from,
			     double from_beta, int marked, const char *nonce, int64_t checkout_until)
{
	struct dbq *st = db_q(db, "SELECT name, version, unit, scope, alpha, locked_sha256, original_sha256, "
				       "shards FROM models WHERE id = ?1");
	json_t *h = NULL, *shards, *s;
	char ts[32];
	size_t i;

	if (!st)
		return NULL;
	db_bind_int(st, 1, l->model);
	if (db_step(st) != DB_ROW)
		goto out;
	cl_time_fmt(l->now, ts);
	h = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:f,s:s,s:f}", "format", "clvol", "model", (json_int_t)l->model,
		      "model_name", db_text(st, 0), "model_version", db_text(st, 1), "unit", db_text(st, 2),
		      "scope", db_text(st, 3), "alpha", db_double(st, 4), "tier", l->tier, "beta", beta);
	if (!h)
		goto out;
	if (from)
		json_object_set_new(h, "from_tier", json_string(from));
	if (upgrade)
		json_object_set_new(h, "from_beta", json_real(from_beta));
	json_object_set_new(h, "locked_sha256", json_string(db_text(st, 5)));
	if (marked)
		json_object_set_new(h, "fingerprint", json_true());
	else if (beta == 0)
		json_object_set_new(h, "original_sha256", json_string(db_text(st, 6)));
	shards = cl_json_parse(db_text(st, 7), strlen(db_text(st, 7)), 4, NULL, 0);
	json_array_foreach(shards, i, s)
		if (beta != 0 || marked)
			json_object_del(s, "original_sha256");
	json_object_set_new(h, "shards", shards ? shards : json_array());
	json_object_set_new(h, "license", json_integer((json_int_t)l->id));
	/* An offline checkout ends before the license may: the agent refuses the volume after it. */
	if (checkout_until)
		json_object_set_new(h, "expires_at", json_time(checkout_until, 1));
	else
		json_object_set_new(h, "expires_at", json_time(l->expires_at, l->has_exp));
	if (l->lease_seconds)
		json_object_set_new(h, "lease_expires", json_time(l->now + l->lease_seconds, 1));
	json_object_set_new(h, "nonce", json_string(nonce));
	json_object_set_new(h, "ts", json_string(ts));
out:
	db_reset(st);
	return h;
}

/* Entries of T that F does not hold (F is a subset of T: tiers nest). */
static size_t subtract(struct cl_volume_entry *t, size_t nt, const struct cl_volume_entry *f, size_t nf)
{
	size_t j = 0, out = 0;

	for (size_t i = 0; i < nt; i++) {
		while (j < nf && (f[j].shard < t[i].shard || (f[j].shard == t[i].shard && f[j].off < t[i].off)))
			j++;
		if (j < nf && f[j].shard == t[i].shard && f[j].off == t[i].off)
			continue;
		t[out++] = t[i];
	}
	return out;
}

/*
 * What a file at the upgrade's base ratio holds, cut from MODEL's stored key
 * (never from a stored tier, which a re-cut may have moved).  FROM names the
 * base by a tier (deprecated): its current ratio.  The ratio goes to
 * *FROM_BETA; BASE gets its spans (shard and offset only are used, so the
 * key is closed again here).  1 to go on, 0 when *RES holds a refusal.
 */
static int upgrade_base(struct req *r, struct db *db, int64_t model, const char *from, double *from_beta,
			struct tier_cut *base, enum MHD_Result *res)
{
	struct model_key mk;
	struct dbq *st;
	int rc;

	if (from) {
		if (!(st = db_q(db, "SELECT ratio FROM tiers WHERE model_id = ?1 AND name = ?2"))) {
			*res = reply_error(r, E_UNAVAILABLE, "database error");
			return 0;
		}
		db_bind_int(st, 1, model);
		db_bind_text(st, 2, from);
		if ((rc = db_step(st)) == DB_ROW)
			*from_beta = db_double(st, 0);
		db_reset(st);
		if (rc != DB_ROW) {
			*res = rc == DB_DONE ? reply_error(r, E_INVALID_FIELD, "model %lld has no tier '%s'", (long long)model, from)
						 : reply_error(r, E_UNAVAILABLE, "database error");
			return 0;
		}
	}
	if ((rc = model_key_open(db, model, &mk)) < 0) {
		*res = reply_error(r, E_INTERNAL, "cannot open the model's key");
		return 0;
	}
	if (!(*from_beta >= 0) || *from_beta > mk.k->alpha) {
		*res = reply_error(r, E_INVALID_FIELD, "'from_beta' must lie in [0, alpha = %g], not %g", mk.k->alpha,
				   *from_beta);
		model_key_close(&mk);
		return 0;
	}
	rc = tier_cut(mk.k, *from_beta, base);
	model_key_close(&mk);
	if (rc < 0) {
		*res = reply_error(r, E_INTERNAL, "cannot cut ratio %g from the model's key: %s", *from_beta, cl_errmsg());
		return 0;
	}
	return 1;
}

/* Open the license's tier: 1, or 0 when *RES holds the refusal. */
static int open_tier(struct req *r, struct db *db, const struct lic *l, double *beta, struct slice **s,
		     enum MHD_Result *res)
{
	int rc = slice_open(db, l->model, l->tier, beta, s);

	if (rc == -1)
		*res = reply_error(r, E_NOT_FOUND, "the license's tier '%s' no longer exists", l->tier);
	else if (rc < 0)
		*res = reply_error(r, E_INTERNAL, "cannot open the tier's slice");
	return rc == 0;
}

/*
 * Whether tier TIER of MODEL is fingerprinted (*TIER_FP) and whether any of
 * the model's tiers is (*ANY_FP): 0, or -1 on a database error.
 */
static int tier_marks(struct db *db, int64_t model, const char *tier, int *tier_fp, int *any_fp)
{
	struct dbq *st = db_q(db, "SELECT coalesce(max(fingerprint), 0), coalesce(max(CASE WHEN name = ?2 THEN "
				  "fingerprint END), 0) FROM tiers WHERE model_id = ?1");
	int rc;

	if (!st)
		return -1;
	db_bind_int(st, 1, model);
	db_bind_text(st, 2, tier);
	if ((rc = db_step(st)) == DB_ROW) {
		*any_fp = db_int(st, 0) != 0;
		*tier_fp = db_int(st, 1) != 0;
	}
	db_reset(st);
	return rc == DB_ROW ? 0 : -1;
}

/* A delivery to record in a shared transaction (batch.h): what was prepared. */
struct delivery {
	const char *key, *fp;
	const struct lic *l; /* as read before the preparations */
	const char *slice;   /* the id of the slice the volume was cut from */
	json_t *detail;      /* the key.deliver audit entry's detail */
	int64_t checkout_until; /* an offline checkout holds the seat until then; 0: none */
	enum api_err refusal;
};

/* The license's tier no longer is the one the volume was cut from. */
#define TIER_MOVED 2

/*
 * Inside the shared transaction: the license is still valid, seated on the
 * same machine and tier, and the tier still has the slice the volume was cut
 * from (no PATCH or re-cut in between); then last_seen and key.deliver.
 */
static int record_delivery(struct db *db, void *arg)
{
	struct delivery *d = arg;
	struct lic now;
	enum api_err e = lic_check(db, d->key, d->fp, &now, 1);
	struct dbq *st;
	char target[64];
	int rc, same;

	if (e == E_UNAVAILABLE)
		return -1;
	if (e != E_VALID && e != E_LEASE_EXPIRED) { /* a delivery renews a lapsed lease, like activate */
		d->refusal = e;
		return 1;
	}
	if (now.machine != d->l->machine || now.model != d->l->model || strcmp(now.tier, d->l->tier) != 0)
		return TIER_MOVED;
	if (!(st = db_q(db, "SELECT slice_id FROM tiers WHERE model_id = ?1 AND name = ?2")))
		return -1;
	db_bind_int(st, 1, now.model);
	db_bind_text(st, 2, now.tier);
	rc = db_step(st);
	same = rc == DB_ROW && strcmp(db_text(st, 0), d->slice) == 0;
	db_reset(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return -1;
	if (!same)
		return TIER_MOVED;
	/* a delivery is a sign of life: the lease is renewed with last_seen */
	snprintf(target, sizeof(target), "license:%lld/machine:%lld", (long long)now.id, (long long)now.machine);
	if (lic_touch(db, &now, NULL, d->checkout_until) < 0 ||
	    audit_append(db, "agent", d->checkout_until ? "key.checkout" : "key.deliver", target, d->detail) < 0)
		return -1;
	return 0;
}

/*
 * POST /v1/key.  The license is looked at twice: once without the write turn,
 * for refusals, the rate limit and the slow preparations (the upgrade's cut,
 * unsealing the slice, signing the volume), and again inside the transaction
 * that records key.deliver, which is serialised against revoke, suspend,
 * PATCH and machine delete: a delivery is recorded, and sent, only if the
 * license was valid, seated and on that tier, with that slice, when it
 * committed.  Deliveries share their commits (batch.h).  The volume is then
 * streamed from the shared slice (delivery.h).
 */
/* What a key or checkout request asks for. */
struct key_req {
	const char *key, *fp, *nonce;
	const char *from; /* deprecated from_tier, or NULL */
	double from_beta;
	int upgrade;
	int64_t ttl; /* a checkout's; 0: a key delivery */
};

static enum MHD_Result deliver(struct req *r, const struct key_req *q);

enum MHD_Result h_key(struct req *r)
{
	struct jval v[5];
	enum MHD_Result res;
	json_t *root = jreq_parse(r, spec_key, 5, v, &res);
	struct key_req q = {0};

	if (!root)
		return res;
	q.key = v[0].s, q.fp = v[1].s, q.nonce = v[2].s;
	if (v[3].present && !v[3].is_null)
		q.from = v[3].s;
	if (v[4].present && !v[4].is_null) {
		q.from_beta = v[4].d;
		q.upgrade = 1;
	}
	if (q.from && q.upgrade)
		res = reply_error(r, E_INVALID_FIELD, "give 'from_beta' (or the deprecated 'from_tier'), not both");
	else
		res = deliver(r, &q);
	json_decref(root);
	return res;
}

/* POST /v1/checkout: the tier's full volume for offline use, until ttl (capped by max_checkout). */
enum MHD_Result h_checkout(struct req *r)
{
	static const struct jfield spec[] = {
		{"license_key", JF_STRING, JF_REQUIRED, 1, SECRET_MAX},
		{"fingerprint", JF_STRING, JF_REQUIRED, 1, 128},
		{"nonce", JF_STRING, JF_REQUIRED, 1, 128},
		{"ttl", JF_INT, JF_REQUIRED, 1, 31536000},
	};
	struct jval v[4];
	enum MHD_Result res;
	json_t *root = jreq_parse(r, spec, 4, v, &res);
	struct key_req q = {0};

	if (!root)
		return res;
	q.key = v[0].s, q.fp = v[1].s, q.nonce = v[2].s, q.ttl = v[3].i;
	res = deliver(r, &q);
	json_decref(root);
	return res;
}

static enum MHD_Result deliver(struct req *r, const struct key_req *q)
{
	enum MHD_Result res;
	json_t *h = NULL;
	struct db *db = store_db();
	struct lic l;
	enum api_err e;
	struct slice *ts = NULL;
	struct tier_cut base = {0};
	struct cl_volume_entry *table = NULL, *marked = NULL;
	struct cl_entries src;
	struct cl_volstream *vs = NULL;
	const char *from = q->from;
	double beta = 0, from_beta = q->from_beta;
	size_t tn = 0, marked_len = 0;
	uint64_t size = 0;
	int upgrade = q->upgrade || q->from, slot = 0, rc = TIER_MOVED, tries, tier_fp = 0, any_fp = 0;
	/* the newest version the agent's Accept header names, else 2 (docs/api.md) */
	unsigned version = cl_volume_accept(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept"));
	int64_t until = 0;
	struct delivery d = {0};

	if (!db)
		return reply_error(r, E_UNAVAILABLE, "database unavailable");
	e = lic_check(db, q->key, q->fp, &l, 1);
	if (e == E_LEASE_EXPIRED) /* renewed by the delivery's record */
		e = E_VALID;
	if (!lic_admitted(r, e, &l, &res))
		goto out;
	if (q->ttl) {
		if (!l.max_checkout) {
			res = reply_error(r, E_CHECKOUT_DISABLED, "license %lld allows no offline checkout",
					  (long long)l.id);
			goto out;
		}
		until = l.now + (q->ttl < l.max_checkout ? q->ttl : l.max_checkout);
		if (l.has_exp && l.expires_at < until)
			until = l.expires_at;
	}
	if (delivery_take_slot() < 0) {
		res = reply_error(r, E_UNAVAILABLE, "%lld key deliveries are in flight; retry",
				  (long long)srv.cfg->max_deliveries);
		goto out;
	}
	slot = 1;
	if (upgrade && !upgrade_base(r, db, l.model, from, &from_beta, &base, &res))
		goto out;
	/* A PATCH or re-cut between the preparations and the record: prepare again. */
	for (tries = 0; rc == TIER_MOVED && tries < 3; tries++) {
		if (tries) {
			cl_volstream_free(vs);
			json_decref(h);
			json_decref(d.detail);
			free(table);
			OPENSSL_cleanse(marked, marked_len);
			free(marked);
			slice_release(ts);
			vs = NULL, h = NULL, d.detail = NULL, table = NULL, marked = NULL, ts = NULL, marked_len = 0;
			e = lic_check(db, q->key, q->fp, &l, 1);
			if (e != E_VALID && e != E_LEASE_EXPIRED) {
				res = reply_error(r, e, "%s", e == E_UNAVAILABLE ? "database error; retry" : api_errors[e].meaning);
				goto out;
			}
		}
		if (!open_tier(r, db, &l, &beta, &ts, &res))
			goto out;
		if (tier_marks(db, l.model, l.tier, &tier_fp, &any_fp) < 0) {
			res = reply_error(r, E_UNAVAILABLE, "database error; retry");
			goto out;
		}
		store_reset(db);
		src = ts->ent;
		if (upgrade) {
			if (from_beta < beta) {
				res = reply_error(r, E_INVALID_FIELD,
						  "'from_beta' %g is below the license's tier '%s' (%g): not an upgrade",
						  from_beta, l.tier, beta);
				goto out;
			}
		}
		/*
		 * The common delivery streams the slice's entries in place.  An
		 * upgrade subtracts from a table of them (the slice is shared,
		 * slicecache.h), and a fingerprinted tier marks a copy.  While the
		 * model has a fingerprinted tier, the base may hold marked values:
		 * an upgrade then writes every span of the tier again.
		 */
		if ((upgrade && !any_fp) || tier_fp) {
			if (cl_entries_to_table(&ts->ent, &table) < 0) {
				res = reply_error(r, E_INTERNAL, "out of memory");
				goto out;
			}
			tn = ts->ent.n;
			if (upgrade && !any_fp)
				tn = subtract(table, tn, base.e, base.n);
		}
		if (tier_fp) {
			if (delivery_mark(db, l.model, l.id, beta, table, tn, &marked, &marked_len) < 0) {
				res = reply_error(r, E_INTERNAL, "cannot mark the key volume");
				goto out;
			}
			store_reset(db);
			free(table); /* the marked copy holds its own bytes */
			table = NULL;
		}
		if ((marked || table) && cl_entries_table(&src, marked ? marked : table, tn) < 0) {
			log_bug("license %lld: the entries to deliver: %s", (long long)l.id, cl_errmsg());
			res = reply_error(r, E_INTERNAL, "cannot build the key volume");
			goto out;
		}
		tn = src.n;
		if (!(h = volume_header(db, &l, beta, upgrade, from, from_beta, tier_fp, q->nonce, until)) ||
		    cl_volstream_new(h, &src, version, srv.sk, &vs) < 0) {
			res = reply_error(r, E_INTERNAL, "cannot build the key volume");
			goto out;
		}
		store_reset(db);
		size = cl_volstream_size(vs);
		d = (struct delivery){q->key, q->fp, &l, ts->id, NULL, until, E_VALID};
		d.detail = json_pack("{s:I,s:s,s:o,s:o,s:I,s:I,s:s}", "model", (json_int_t)l.model, "tier", l.tier,
				     "from_tier", from ? json_string(from) : json_null(), "from_beta",
				     upgrade ? json_real(from_beta) : json_null(), "entries", (json_int_t)tn, "bytes",
				     (json_int_t)size, "nonce", q->nonce);
		if (d.detail && until)
			json_object_set_new(d.detail, "checkout_until", json_time(until, 1));
		if (!d.detail) {
			res = reply_error(r, E_INTERNAL, "out of memory");
			goto out;
		}
		rc = batch_run(db, record_delivery, &d);
	}
	if (rc != 0) {
		if (rc == 1)
			res = reply_error(r, d.refusal, "%s", api_errors[d.refusal].meaning);
		else
			res = reply_error(r, E_UNAVAILABLE, "cannot record the delivery; retry");
		goto out;
	}
	metrics_delivery(size);
	if (upgrade)
		log_info("license %lld: delivered tier %s from ratio %g (%zu entries, %llu bytes, volume v%u)",
			 (long long)l.id, l.tier, from_beta, tn, (unsigned long long)size, version);
	else
		log_info("license %lld: delivered tier %s (%zu entries, %llu bytes, volume v%u)", (long long)l.id, l.tier,
			 tn, (unsigned long long)size, version);
	/* takes the stream, the slice, the table (at most one of the two) and the slot */
	res = marked ? reply_volume(r, vs, version, ts, marked, marked_len) : reply_volume(r, vs, version, ts, table, 0);
	vs = NULL;
	ts = NULL;
	table = marked = NULL;
	marked_len = 0;
	slot = 0;
out:
	store_rollback(db);
	cl_volstream_free(vs);
	json_decref(h);
	json_decref(d.detail);
	free(table);
	OPENSSL_cleanse(marked, marked_len);
	free(marked);
	tier_cut_free(&base);
	slice_release(ts);
	if (slot)
		delivery_give_slot();
	return res;
}
