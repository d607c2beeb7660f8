/*
 * metrics.h - counters for /metrics (Prometheus text format 0.0.4):
 * requests by route and status, a latency histogram, key deliveries (done
 * and in flight).
 */
#ifndef SRV_METRICS_H
#define SRV_METRICS_H

#include <stdint.h>

/* ROUTE is an index in routes[], or -1 for an unmatched path. */
void metrics_request(int route, unsigned status, double seconds);
void metrics_delivery(uint64_t bytes);
void metrics_rate_limited(void);
/* One group commit (batch.h) of JOBS writes. */
void metrics_batch(unsigned jobs);
/* N seat leases lapsed (seats freed, or renewed after a lapse). */
void metrics_lease_lapses(unsigned n);
/* Leases live now (from the database; -1: unknown), shown by the next render. */
void metrics_leases_active(int64_t n);
/* The exposition text (malloc'd), or NULL. */
char *metrics_render(void);

#endif
