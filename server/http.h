/*
 * http.h - requests, the route table and replies.
 *
 * http.c owns the libmicrohttpd daemon: it matches each request against
 * routes[] (routes.c), checks the admin token, bounds and collects the body
 * (JSON in memory up to max_json, uploads streamed to a spool file up to
 * max_body), then calls the route's handler once, with the whole body.
 * A handler answers with exactly one reply_*() and returns its result.
 */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "errors.h"
#include "jreq.h"

#define MAX_SEGS 3
#define MAX_SEG_LEN 64

struct req;
typedef enum MHD_Result (*handler_fn)(struct req *r);

enum route_flags {
	R_ADMIN = 1,  /* needs Authorization: Bearer <admin token> */
	R_JSON = 2,   /* body: a JSON object up to max_json */
	R_UPLOAD = 4, /* body: streamed to a spool file up to max_body */
	R_AGENT = 8,  /* agent call: counts against the per-license limits */
};

struct route {
	const char *method, *pattern; /* "{}" matches one path segment */
	unsigned flags;
	handler_fn fn;
};

extern const struct route routes[];
extern const unsigned nroutes;

struct req {
	struct MHD_Connection *conn;
	char *target;                    /* the request target as sent (path?query) */
	struct guard *guard;             /* the connection's deadlines (guard.h) */
	int route;                       /* index in routes[], -1 if none */
	char seg[MAX_SEGS][MAX_SEG_LEN + 1]; /* the {} captures */
	/* body */
	char *body;
	size_t len, cap;
	int upload_fd;
	char *upload_path; /* /proc/self/fd/N: the spool file has no name */
	uint64_t upload_len;
	int overflow;
	/* who */
	int64_t token_id;
	char actor[64];
	char ip[64];
	/* outcome */
	struct timespec t0;
	unsigned status;
	int early; /* an answer was queued before the body was read */
};

/* Replies: they take ownership of BODY / BUF. */
enum MHD_Result reply_json(struct req *r, unsigned status, json_t *body);
/* JSON with Corelocker-Signature: ed25519=<base64 over the exact body>. */
enum MHD_Result reply_signed_json(struct req *r, unsigned status, json_t *body);
enum MHD_Result reply_error(struct req *r, enum api_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Stream SIZE bytes that READ produces in order as the client takes them;
 * DONE(CLS) runs exactly once, when the reply is over (sent or not).  Key
 * volumes carry their own signature, so no header signature is added.
 */
enum MHD_Result reply_stream(struct req *r, unsigned status, const char *ctype, uint64_t size,
			     MHD_ContentReaderCallback read, void *cls, MHD_ContentReaderFreeCallback done);
enum MHD_Result reply_text(struct req *r, unsigned status, const char *ctype, char *text);
enum MHD_Result reply_empty(struct req *r, unsigned status);

/* Per-license rate limit (KEY_ID: a hash of the key): on refusal it has
 * replied 429 and *LIMITED is 1. */
enum MHD_Result http_check_license_rate(struct req *r, const char *key_id, int *limited);

/* A query parameter, or NULL. */
const char *req_query(struct req *r, const char *name);

/* Start and stop the HTTPS daemon on an already listening socket. */
int http_start(int fd, const char *cert_pem, const char *key_pem);
void http_stop(void);

/* ---- declarative JSON request bodies ---- */

/*
 * Parse the body as a JSON object against SPEC; unknown fields, wrong types
 * and values out of bounds are refused.  On failure it has replied 400 and
 * returns NULL; on success the values in OUT borrow from the returned root,
 * which the caller decrefs.
 */
json_t *jreq_parse(struct req *r, const struct jfield *spec, size_t n, struct jval *out, enum MHD_Result *res);

#endif
