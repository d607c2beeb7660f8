/* http.c - the libmicrohttpd daemon: routing, auth, body bounds, replies. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "error.h"
#include "guard.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "server.h"
#include "slicecache.h"
#include "store.h"
#include "strict.h"
#include "textbuf.h"

/*
 * TLS 1.3, and on TLS 1.2 only forward-secret AEAD suites: ECDHE key
 * exchange with AES-GCM or ChaCha20-Poly1305 (no static RSA, no CBC, no
 * SHA-1 MAC).  A GnuTLS priority string; docs/api.md lists the suites.
 */
#define TLS_PRIORITIES                                                                                       \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"                        \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE"

static struct MHD_Daemon *daemon_;
static struct ratelimit *rl_ip, *rl_activate;
struct ratelimit *rl_license;

/* ---- replies ---- */

static enum MHD_Result queue(struct req *r, unsigned status, struct MHD_Response *resp, const char *ctype)
{
	enum MHD_Result res;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	res = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	if (res == MHD_YES)
		r->status = status;
	return res;
}

static struct MHD_Response *from_buffer(void *buf, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		free(buf);
	return resp;
}

enum MHD_Result reply_json(struct req *r, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(body);
	if (!text)
		return MHD_NO;
	return queue(r, status, from_buffer(text, strlen(text)), "application/json");
}

static enum MHD_Result add_signature(struct req *r, unsigned status, const char *ctype, uint8_t *buf, size_t len)
{
	uint8_t sig[CL_SIG_LEN];
	char b64[128], hdr[160];
	struct MHD_Response *resp;

	if (cl_sign(srv.sk, buf, len, sig) < 0) {
		free(buf);
		log_bug("cannot sign an answer: %s", cl_errmsg());
		return reply_error(r, E_INTERNAL, "cannot sign the answer");
	}
	cl_b64_encode(sig, sizeof(sig), b64);
	snprintf(hdr, sizeof(hdr), "ed25519=%s", b64);
	if (!(resp = from_buffer(buf, len)))
		return MHD_NO;
	MHD_add_response_header(resp, "Corelocker-Signature", hdr);
	return queue(r, status, resp, ctype);
}

enum MHD_Result reply_signed_json(struct req *r, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(body);
	if (!text)
		return MHD_NO;
	return add_signature(r, status, "application/json", (uint8_t *)text, strlen(text));
}

#define STREAM_BLOCK (32u << 10) /* bytes asked of a streamed reply at a time */

enum MHD_Result reply_stream(struct req *r, unsigned status, const char *ctype, uint64_t size,
			     MHD_ContentReaderCallback read, void *cls, MHD_ContentReaderFreeCallback done)
{
	/* A small block: what one slow reader pins is this buffer, never the body. */
	struct MHD_Response *resp = MHD_create_response_from_callback(size, STREAM_BLOCK, read, cls, done);

	if (!resp) {
		done(cls);
		return MHD_NO;
	}
	return queue(r, status, resp, ctype);
}

enum MHD_Result reply_text(struct req *r, unsigned status, const char *ctype, char *text)
{
	return queue(r, status, from_buffer(text, strlen(text)), ctype);
}

enum MHD_Result reply_empty(struct req *r, unsigned status)
{
	return queue(r, status, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT), "text/plain");
}

static enum MHD_Result reply_error_hdr(struct req *r, enum api_err e, const char *hname, const char *hval,
				       const char *msg)
{
	json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", api_errors[e].code, "message", msg);
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	struct MHD_Response *resp;

	json_decref(body);
	if (!text || !(resp = from_buffer(text, strlen(text))))
		return MHD_NO;
	if (hname)
		MHD_add_response_header(resp, hname, hval);
	return queue(r, api_errors[e].status, resp, "application/json");
}

enum MHD_Result reply_error(struct req *r, enum api_err e, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The database went away during this request: whatever failed, it is
	 * worth a retry, not a 500 or a 401 over a token that could not be read. */
	if (db_lost && e != E_UNAVAILABLE) {
		snprintf(msg, sizeof(msg), "the database is unreachable; retry");
		e = E_UNAVAILABLE;
	}
	if (api_errors[e].status >= 500)
		log_warn("%s %s: %s", api_errors[e].code, r->route >= 0 ? routes[r->route].pattern : "-", msg);
	if (e == E_UNAVAILABLE)
		return reply_error_hdr(r, e, MHD_HTTP_HEADER_RETRY_AFTER, "1", msg);
	return reply_error_hdr(r, e, NULL, NULL, msg);
}

static enum MHD_Result reply_limited(struct req *r, double wait)
{
	char secs[32];

	metrics_rate_limited();
	snprintf(secs, sizeof(secs), "%.0f", ceil(wait) < 1 ? 1 : ceil(wait));
	return reply_error_hdr(r, E_RATE_LIMITED, MHD_HTTP_HEADER_RETRY_AFTER, secs, "too many requests");
}

enum MHD_Result http_check_license_rate(struct req *r, const char *key_id, int *limited)
{
	double wait = rl_take(rl_license, key_id);

	*limited = wait > 0;
	return *limited ? reply_limited(r, wait) : MHD_YES;
}

const char *req_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- routing ---- */

/* Match the raw PATH against PATTERN; captures go to R->seg.  1 on a match. */
static int match(const char *pattern, const char *path, struct req *r)
{
	unsigned n = 0;

	while (*pattern && *path) {
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t len = strcspn(path, "/");
			if (len == 0 || len > MAX_SEG_LEN || n >= MAX_SEGS)
				return 0;
			memcpy(r->seg[n], path, len);
			r->seg[n++][len] = 0;
			path += len;
			pattern += 2;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	return !*pattern && !*path;
}

/* HEAD is served by the GET route: the same answer without its body. */
static int method_is(const struct route *rt, const char *method)
{
	return !strcmp(rt->method, method) || (!strcmp(method, "HEAD") && !strcmp(rt->method, "GET"));
}

static int find_route(struct req *r, const char *path, const char *method, char *allow, size_t allowlen)
{
	int path_found = 0;

	allow[0] = 0;
	for (unsigned i = 0; i < nroutes; i++) {
		if (!match(routes[i].pattern, path, r))
			continue;
		if (method_is(&routes[i], method)) {
			for (unsigned s = 0; s < MAX_SEGS; s++)
				strict_decode_segment(r->seg[s]);
			return (int)i;
		}
		path_found = 1;
		snprintf(allow + strlen(allow), allowlen - strlen(allow), "%s%s%s", allow[0] ? ", " : "",
			 routes[i].method, strcmp(routes[i].method, "GET") ? "" : ", HEAD");
	}
	return path_found ? -2 : -1;
}

/* ---- request life cycle ---- */

static void addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	snprintf(buf, len, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)len);
}

static void client_ip(struct req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	addr_str(ci ? ci->client_addr : NULL, r->ip, sizeof(r->ip));
}

static uint64_t body_cap(const struct req *r)
{
	return routes[r->route].flags & R_UPLOAD ? (uint64_t)srv.cfg->max_body : (uint64_t)srv.cfg->max_json;
}

/* A bad request head: 400, and the connection is closed, since the bytes
 * after a head that can be read two ways cannot be trusted as the next
 * request. */
static enum MHD_Result refuse_head(struct req *r, const char *method, const char *why)
{
	log_peer("%s: %s %s: %s", r->ip, method, r->target, why);
	return reply_error_hdr(r, E_BAD_REQUEST, MHD_HTTP_HEADER_CONNECTION, "close", why);
}

/*
 * An upload spool file without a name (O_TMPFILE), so the plaintext key
 * never sits in a named file and a crash leaves nothing behind.  Where the
 * file system lacks O_TMPFILE, a named file is unlinked at once (main.c
 * sweeps any ".upload-*" left by a crash in between).  Handlers read it
 * through /proc/self/fd.
 */
static int spool_open(struct req *r)
{
	char *tmpl = NULL;
	int fd = open(srv.spool, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) &&
	    asprintf(&tmpl, "%s/.upload-XXXXXX", srv.spool) >= 0) {
		if ((fd = mkostemp(tmpl, O_CLOEXEC)) >= 0)
			unlink(tmpl);
		free(tmpl);
	}
	if (fd < 0) {
		log_err("%s: cannot create an upload file: %s", srv.spool, strerror(errno));
		return -1;
	}
	if (asprintf(&r->upload_path, "/proc/self/fd/%d", fd) < 0) {
		r->upload_path = NULL;
		close(fd);
		return -1;
	}
	r->upload_fd = fd;
	return 0;
}

static enum MHD_Result begin(struct req *r, const char *url, const char *method, const char *version)
{
	char allow[128], path[2048];
	const char *cl, *why;
	double wait;
	struct db *db;

	r->early = 1;
	db_lost = 0;
	if ((why = strict_target(r->target, url, version)) || (why = strict_headers(r->conn, version)) ||
	    (why = strict_query(r->conn)))
		return refuse_head(r, method, why);
	if (strcspn(r->target, "?") >= sizeof(path))
		return reply_error(r, E_NOT_FOUND, "no such path");
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(r->target, "?"), r->target);
	r->route = find_route(r, path, method, allow, sizeof(allow));
	if (r->route == -1)
		return reply_error(r, E_NOT_FOUND, "no such path");
	if (r->route == -2) {
		r->route = -1;
		char msg[160];
		snprintf(msg, sizeof(msg), "use %s", allow);
		return reply_error_hdr(r, E_METHOD_NOT_ALLOWED, MHD_HTTP_HEADER_ALLOW, allow, msg);
	}
	if ((wait = rl_take(rl_ip, r->ip)) > 0)
		return reply_limited(r, wait);
	if (!strcmp(routes[r->route].pattern, "/v1/activate") &&
	    (wait = rl_take(rl_activate, r->ip)) > 0)
		return reply_limited(r, wait);
	if (routes[r->route].flags & R_ADMIN) {
		if (!(db = store_db()))
			return reply_error(r, E_UNAVAILABLE, "database unavailable");
		int a = auth_admin(r, db);
		store_reset(db);
		if (a == AUTH_READ_ONLY) /* auth.c: a read-scope token on a non-GET route */
			return reply_error(r, E_FORBIDDEN, "this token has the read scope: it may only GET");
		if (a < 0) {
			log_peer("%s: %s %s: missing or unknown admin token", r->ip, method, r->target);
			return reply_error(r, E_UNAUTHORIZED, "missing or unknown admin token");
		}
	}
	cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno || *end || n > body_cap(r))
			return reply_error(r, E_PAYLOAD_TOO_LARGE, "the body exceeds the %llu-byte limit",
					   (unsigned long long)body_cap(r));
	}
	if ((routes[r->route].flags & R_UPLOAD) && spool_open(r) < 0)
		return reply_error(r, E_INTERNAL, "cannot spool the upload");
	r->early = 0;
	guard_body(r->guard);
	return MHD_YES;
}

static int body_append(struct req *r, const char *data, size_t n)
{
	if (r->upload_len + n > body_cap(r))
		return -1;
	r->upload_len += n;
	guard_body_bytes(r->guard, n);
	if (r->upload_fd >= 0) {
		while (n) {
			ssize_t w = write(r->upload_fd, data, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				log_err("%s: cannot write the upload: %s", srv.spool, strerror(errno));
				return -1;
			}
			data += w;
			n -= (size_t)w;
		}
		return 0;
	}
	return cl_textbuf_append(&r->body, &r->len, &r->cap, 1024, data, n);
}

/* Called by libmicrohttpd with the raw request target (path and query, as
 * sent), before it splits and unescapes it; the req it returns is the
 * request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct req *r = calloc(1, sizeof(*r));
	const union MHD_ConnectionInfo *ci;

	(void)cls;
	if (!r)
		return NULL;
	if (!(r->target = strdup(uri))) {
		free(r);
		return NULL;
	}
	r->route = -1;
	r->upload_fd = -1;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	r->guard = ci ? ci->socket_context : NULL;
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *data, size_t *size, void **ctx)
{
	struct req *r = *ctx;
	enum MHD_Result res;

	(void)cls;
	if (!r)
		return MHD_NO; /* on_uri ran out of memory */
	if (!r->conn) {
		r->conn = conn;
		clock_gettime(CLOCK_MONOTONIC, &r->t0);
		client_ip(r);
		res = begin(r, url, method, version);
		if (r->early)
			guard_busy(r->guard);
		return res;
	}
	if (*size) {
		if (!r->early && body_append(r, data, *size) < 0) {
			/* Over the cap without a Content-Length (chunked): drop the connection. */
			log_peer("%s: %s %s: body over %llu bytes, connection closed", r->ip, method, r->target,
				 (unsigned long long)body_cap(r));
			return MHD_NO;
		}
		*size = 0;
		return MHD_YES;
	}
	if (r->early)
		return MHD_YES;
	r->early = 1; /* the handler runs once */
	guard_busy(r->guard);
	db_lost = 0;
	res = routes[r->route].fn(r);
	struct db *db = store_db();
	if (db)
		store_rollback(db); /* a handler never leaves a transaction open */
	return res;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx, enum MHD_RequestTerminationCode why)
{
	struct req *r = *ctx;
	struct timespec t1;
	double secs;

	(void)cls;
	(void)conn;
	if (!r)
		return;
	guard_idle(r->guard); /* the next request head starts its clock now */
	if (r->conn) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - r->t0.tv_sec) + (t1.tv_nsec - r->t0.tv_nsec) / 1e9;
		metrics_request(r->route, r->status, secs);
		if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK)
			log_debug("%s: request %s ended early (code %d)", r->ip,
				  r->route >= 0 ? routes[r->route].pattern : "-", (int)why);
		log_debug("%s %s %s -> %u (%.1f ms)", r->ip, r->route >= 0 ? routes[r->route].method : "-",
			  r->route >= 0 ? routes[r->route].pattern : "-", r->status, secs * 1000);
	}
	if (r->upload_fd >= 0)
		close(r->upload_fd); /* unnamed: closing it frees the plaintext */
	free(r->upload_path);
	free(r->target);
	free(r->body);
	free(r);
	*ctx = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *fd, *addr;
	char ip[64];

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		guard_close(*socket_ctx);
		*socket_ctx = NULL;
		return;
	}
	fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	addr = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	addr_str(addr ? addr->client_addr : NULL, ip, sizeof(ip));
	*socket_ctx = fd ? guard_open(fd->connect_fd, ip) : NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	log_debug("http: %s", line);
}

int http_start(int fd, const char *cert_pem, const char *key_pem)
{
	const struct config *c = srv.cfg;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG | MHD_USE_AUTO;

	rl_ip = rl_new((double)c->rate, (double)c->burst);
	rl_activate = rl_new((double)c->activate_rate, (double)c->activate_burst);
	rl_license = rl_new((double)c->license_rate, (double)c->license_burst);
	if (guard_start(c->header_timeout, c->min_upload_rate) < 0)
		return -1;
	daemon_ = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
		MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)c->max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)c->max_header, MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned)c->threads, MHD_OPTION_END);
	if (!daemon_) {
		log_err("cannot start the HTTPS server (bad certificate or key? see --debug)");
		return -1;
	}
	return 0;
}

void http_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
	guard_stop();
	slice_cache_clear(); /* no request runs now: wipe the unsealed slices */
	rl_free(rl_ip);
	rl_free(rl_activate);
	rl_free(rl_license);
	rl_ip = rl_activate = rl_license = NULL;
}
