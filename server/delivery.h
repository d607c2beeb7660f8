/*
 * delivery.h - a key volume streamed to one agent, and the cap on how many
 * are in flight ([limits] max_deliveries).
 *
 * A delivery holds a slot from delivery_take_slot() until its reply is over:
 * reply_volume() takes over the slot, the stream, the slice reference and the
 * entry table it is given, and releases them when the client has the last
 * byte or goes away.  What one delivery holds is the stream's header, a
 * fixed buffer in libmicrohttpd and, for upgrades, its entry table (a
 * fingerprinted tier: its marked copy); the common delivery reads its
 * entries, heads and bytes, in place from the shared slice.
 */
#ifndef SRV_DELIVERY_H
#define SRV_DELIVERY_H

#include "db.h"
#include "http.h"
#include "slicecache.h"
#include "volstream.h"

/* 0, or -1 when max_deliveries are in flight already. */
int delivery_take_slot(void);
void delivery_give_slot(void);
/* Deliveries in flight now (for /metrics). */
unsigned delivery_in_flight(void);

/* The secret of MODEL's leak-tracing codes, derived from the master key (docs/trace.md). */
int delivery_mark_secret(int64_t model, uint8_t out[32]);
/*
 * LICENSE's marked copy of the N entries E of a fingerprinted tier of MODEL
 * at ratio BETA (lib/mark.h): *OUT is one malloc'd block of *OUTLEN bytes, the entries
 * then their bytes.  0, or -1 (logged).
 */
int delivery_mark(struct db *db, int64_t model, int64_t license, double beta, const struct cl_volume_entry *e,
		  size_t n, struct cl_volume_entry **out, size_t *outlen);

/*
 * Answer 200 with volume VS of VERSION (it names the Content-Type); takes VS, S, OWN (malloc'd, or NULL; its first
 * OWN_LEN bytes are wiped when it is freed) and the slot in every case.
 */
enum MHD_Result reply_volume(struct req *r, struct cl_volstream *vs, unsigned version, struct slice *s, void *own,
			     size_t own_len);

#endif
