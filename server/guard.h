/*
 * guard.h - deadlines on slow clients that libmicrohttpd 0.9.75 lacks.
 *
 * libmicrohttpd only knows an inactivity timeout, so a client that sends
 * one header byte every few seconds holds its connection for ever.  Each
 * connection gets a guard (created when it opens, freed when it closes);
 * one watchdog thread shuts down the socket of a connection whose request
 * head is not complete within header_timeout seconds, or whose body
 * arrives slower than min_upload_rate bytes per second.  shutdown(2) makes
 * libmicrohttpd see the end of the stream and close the connection in its
 * own thread, so the guard never frees anything libmicrohttpd owns.
 *
 * Phases: HEAD from the connection's start or the end of the previous
 * answer, BODY while a request body is read, BUSY while the handler runs
 * and the answer is sent (no deadline: [server] timeout still applies).
 */
#ifndef SRV_GUARD_H
#define SRV_GUARD_H

#include <stdint.h>

struct guard;

/* Start the watchdog; a zero HEADER_TIMEOUT turns it off.  0 or -1. */
int guard_start(int64_t header_timeout, int64_t min_upload_rate);
void guard_stop(void);

/* A new connection on socket FD from address IP (copied); NULL when off. */
struct guard *guard_open(int fd, const char *ip);
void guard_close(struct guard *g);

/* Phase changes and body progress; each accepts NULL. */
void guard_body(struct guard *g);
void guard_body_bytes(struct guard *g, uint64_t n);
void guard_busy(struct guard *g);
void guard_idle(struct guard *g);

#endif
