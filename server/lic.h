/*
 * lic.h - a license as the agent's calls see it: found by its key, checked
 * in a fixed order (NOT_FOUND, REVOKED, SUSPENDED, EXPIRED, then the seat:
 * NOT_ACTIVATED, TOO_MANY_MACHINES, LEASE_EXPIRED), with the database's time.
 *
 * Leases: a license with lease_seconds gives each seat a lease that
 * activate, key and heartbeat renew.  A seat's lease lapses at
 * lease_expires + [limits] lease_grace (the grace absorbs clock drift
 * between the machine and the database), unless an offline checkout holds
 * the seat until later.  A lapsed seat is LEASE_EXPIRED until its next
 * heartbeat; on a floating license it may also be freed for another machine
 * (lic_free_lapsed).
 */
#ifndef SRV_LIC_H
#define SRV_LIC_H

#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "db.h"
#include "errors.h"

struct req;

struct lic {
	int64_t id, model, expires_at, max_machines, machine;
	int64_t now;           /* the database's time when the license was read */
	int64_t lease_seconds; /* 0: no lease */
	int64_t max_checkout;  /* 0: no offline checkout */
	int64_t lease_expires, checkout_until; /* the seat's; 0 when none */
	int64_t rank; /* the seat's place among the license's, oldest first */
	int has_exp, floating, seated;
	char tier[65], status[16];
	char rate_key[33]; /* hash prefix: the per-license rate-limit key */
};

/* Look up and check a license for an agent call (SEAT: and the machine's
 * seat FP): E_VALID, a code, or E_UNAVAILABLE. */
enum api_err lic_check(struct db *db, const char *key, const char *fp, struct lic *l, int seat);
/* The seat's code alone, for a license lic_check() found (it reads the seat too). */
enum api_err lic_seat(const struct lic *l);

/*
 * After lic_check: answer a database error, the license's rate limit, or a
 * refused license (404 NOT_FOUND, else 403 with the code).  0 when *RES holds
 * the reply to send, 1 when the request may go on.
 */
int lic_admitted(struct req *r, enum api_err e, const struct lic *l, enum MHD_Result *res);

/*
 * The seat was seen (activate, heartbeat, key): last_seen, the lease renewed
 * (when the license has one), HOSTNAME when not NULL, and an offline
 * checkout held until CHECKOUT_UNTIL when it is later than the seat's; one
 * write.  0 or -1.
 */
int lic_touch(struct db *db, struct lic *l, const char *hostname, int64_t checkout_until);

/* Free the lapsed seats of floating license L (audited): how many, or -1. */
int64_t lic_free_lapsed(struct db *db, const struct lic *l);

/* The seat's lease end for answers and volumes: a time, or JSON null. */
json_t *lic_lease_json(const struct lic *l);

#endif
