/*
 * http.h - the HTTPS client that corelocker-agent and corelockerctl share.
 *
 * libcurl, built against OpenSSL: the server certificate is always verified
 * (against --cacert, or the system's CA bundle), proxies come from the usual
 * environment variables, and only https:// URLs are accepted.  One handle
 * keeps its connection open from call to call.
 *
 * Failover: the URL may be a comma-separated list of up to CLH_MAX_SERVERS
 * addresses.  A call starts at the address that answered last (the first
 * one at the start) and moves on to the next, once each:
 *   - for any call, when the request never left (resolve, connect or TLS
 *     handshake failed): nothing can have been applied;
 *   - for an idempotent call (GET, HEAD, DELETE, or CLH_IDEMPOTENT), also
 *     when the connection failed after the request was sent, and after a
 *     502, 503 or 504 answer (waiting out its Retry-After, at most
 *     CLH_RETRY_AFTER_CAP seconds).  A streamed answer restarts on the next
 *     address with FD truncated back to where it was.
 * Any other call that failed after its request was sent is not repeated: its
 * message says it may or may not have been applied.  Each switch is one
 * line on stderr when clh_opts.who names the program.  A host name that
 * resolves to several addresses is libcurl's business: it tries each one
 * when connecting.
 *
 * Every call returns 0 once an HTTP answer arrived, whatever its status (the
 * caller reads resp->status), or a negative code when no answer did:
 * CLH_EUNREACHABLE, CLH_ETLS, CLH_ETOOBIG, CLH_EPROTO, CL_EINVAL (a bad
 * URL), CL_ENOSPACE or CL_ESYS (writing a streamed answer).  cl_errmsg()
 * then holds one line naming the URL and the reason.  A response's buffers
 * belong to it: clh_resp_free() releases them.
 */
#ifndef CL_NET_HTTP_H
#define CL_NET_HTTP_H

#include <stddef.h>
#include <stdint.h>

enum clh_err {
	CLH_EUNREACHABLE = -201, /* cannot resolve, connect or finish: the server is unreachable */
	CLH_ETLS = -202,	 /* the certificate is not trusted, or the TLS handshake failed */
	CLH_ETOOBIG = -203,	 /* the answer is larger than the caller allows */
	CLH_EPROTO = -204,	 /* any other transfer failure */
};

#define CLH_MAX_SERVERS 8
#define CLH_RETRY_AFTER_CAP 5 /* seconds: longer Retry-After values are cut to this */

/* Call flags. */
enum {
	CLH_IDEMPOTENT = 1, /* repeating the call is harmless: fail over even after it may have arrived */
};

struct clh_opts {
	const char *url;      /* https://host:port[,https://host2:port...] (a trailing '/' is ignored) */
	const char *cacert;   /* PEM file of trusted CAs, or NULL for the system bundle */
	const char *token;    /* admin bearer token, or NULL */
	long connect_timeout; /* seconds; 0 = 15 */
	const char *who;      /* program name for the failover lines on stderr, or NULL */
};

struct clh_resp {
	long status;
	char *body; /* in-memory answers (and error bodies): NUL-terminated */
	size_t len;
	uint64_t received; /* body bytes received, wherever they went */
	char sig[128];	   /* the Corelocker-Signature value, "" if none */
	char ctype[128];   /* Content-Type, "" if none */
	long retry_after;  /* seconds, 0 if none */
	char code[64];	   /* "error.code" of an error body, "" if none */
	char message[512]; /* "error.message" of an error body */
};

struct clh;

/* Progress of an upload or download: bytes done of TOTAL (0 if unknown). */
typedef void (*clh_progress_fn)(void *arg, uint64_t done, uint64_t total);

int clh_open(const struct clh_opts *o, struct clh **out);
void clh_close(struct clh *h);
void clh_resp_free(struct clh_resp *r);

/* METHOD PATH with an optional JSON body; the answer (<= MAX bytes, 0 = 64 MiB) in memory. */
int clh_call(struct clh *h, const char *method, const char *path, const char *json, size_t max,
	     unsigned flags, struct clh_resp *r);
/*
 * The same, but a 2xx answer's body is written to FD (at most MAX bytes);
 * any other answer is kept in memory for its error code.
 */
int clh_call_to_fd(struct clh *h, const char *method, const char *path, const char *json, int fd,
		   uint64_t max, unsigned flags, struct clh_resp *r);
/*
 * clh_call_to_fd that also shows SINK each piece of a 2xx body once it is
 * written to FD: data() returns 0, or a negative code that ends the call
 * (with cl_errmsg set).  restart() comes before a failover truncates FD:
 * the answer starts over, from another server.
 */
struct clh_sink {
	int (*data)(void *arg, const uint8_t *p, size_t n);
	void (*restart)(void *arg);
	void *arg;
};
int clh_call_to_sink(struct clh *h, const char *method, const char *path, const char *json, int fd,
		     uint64_t max, unsigned flags, const struct clh_sink *sink, struct clh_resp *r);
/* METHOD PATH with SIZE bytes of FD (read from offset 0) as an octet-stream body. */
int clh_upload(struct clh *h, const char *method, const char *path, int fd, uint64_t size,
	       clh_progress_fn progress, void *arg, unsigned flags, struct clh_resp *r);

/* URL-encode S (malloc'd), or NULL when out of memory. */
char *clh_escape(const char *s);
/* The base URL the handle talks to now: the address that answered last. */
const char *clh_url(const struct clh *h);

#endif
