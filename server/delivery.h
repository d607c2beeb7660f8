/*
 * delivery.h - a key volume streamed to one agent, and the cap on how many
 * are in flight ([limits] max_deliveries).
 *
 * A delivery holds a slot from delivery_take_slot() until its reply is over:
 * reply_volume() takes over the slot, the stream, the slice reference and the
 * entry table it is given, and releases them when the client has the last
 * byte or goes away.  What one delivery holds is the stream's header, a
 * fixed buffer in libmicrohttpd and, for upgrades, its entry table; the
 * entry bytes stay in the shared slice.
 */
#ifndef SRV_DELIVERY_H
#define SRV_DELIVERY_H

#include "http.h"
#include "slicecache.h"
#include "volstream.h"

/* 0, or -1 when max_deliveries are in flight already. */
int delivery_take_slot(void);
void delivery_give_slot(void);
/* Deliveries in flight now (for /metrics). */
unsigned delivery_in_flight(void);

/* Answer 200 with volume VS; takes VS, S, OWN (malloc'd, or NULL) and the slot in every case. */
enum MHD_Result reply_volume(struct req *r, struct cl_volstream *vs, struct slice *s, void *own);

#endif
