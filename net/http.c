/* http.c - libcurl calls with verified TLS, bounded answers and clear failures. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include <jansson.h>
#include <openssl/crypto.h>

#include "error.h"
#include "jsonx.h"
#include "http.h"
#include "textbuf.h"
#include "volume.h"

#define DEFAULT_MAX (64u << 20)

struct clh {
	CURL *c;
	char *url[CLH_MAX_SERVERS]; /* the addresses, in the order given */
	size_t n, cur;		    /* cur: the one that answered last (sticky) */
	char *cacert;
	char *auth; /* "Authorization: Bearer ..." */
	char *who;  /* the program's name for switch lines, or NULL: silent */
	long connect_timeout;
	char errbuf[CURL_ERROR_SIZE];
	char why[CURL_ERROR_SIZE]; /* the last transfer failure, for the switch line */
};

/* The state of one transfer, shared by the callbacks. */
struct xfer {
	struct clh_resp *r;
	size_t cap, max; /* in-memory body */
	int fd;		 /* -1: keep the body in memory */
	uint64_t fd_max;
	int fd_written; /* bytes went to FD: a retry truncates it first */
	int sink_err;	/* a CL_E* code set by a failed write */
	int sent;	/* the request (or part of it) left: it may have reached a server */
	int upload_fd;
	uint64_t upload_size, upload_off;
	clh_progress_fn progress;
	void *progress_arg;
	const struct clh_sink *sink; /* sees a 2xx body written to FD as it arrives */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* One address of the list: https, a host, a URL libcurl can parse; trailing '/' dropped. */
static int add_url(struct clh *h, const char *s, size_t len, const char *list)
{
	char *u;

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!len)
		return cl_fail(CL_EINVAL, "server list '%s' has an empty entry", list);
	if (h->n == CLH_MAX_SERVERS)
		return cl_fail(CL_EINVAL, "server list '%s' has more than %d URLs", list, CLH_MAX_SERVERS);
	if (!(u = strndup(s, len)))
		return cl_fail(CL_ENOMEM, "out of memory");
	h->url[h->n++] = u;
	if (strncasecmp(u, "https://", 8) != 0)
		return cl_fail(CL_EINVAL, "server URL '%s' is not https://", u);
	while (len > 8 && u[len - 1] == '/')
		u[--len] = 0;
	if (len == 8 || strchr("/?#:@", u[8]))
		return cl_fail(CL_EINVAL, "server URL '%s' has no host", u);
#if LIBCURL_VERSION_NUM >= 0x073e00
	CURLU *cu = curl_url();
	CURLUcode uc = cu ? curl_url_set(cu, CURLUPART_URL, u, 0) : CURLUE_OUT_OF_MEMORY;
	curl_url_cleanup(cu);
	if (uc == CURLUE_OUT_OF_MEMORY)
		return cl_fail(CL_ENOMEM, "out of memory");
	if (uc != CURLUE_OK)
		return cl_fail(CL_EINVAL, "server URL '%s' is not a valid URL (bad host or port)", u);
#endif
	return 0;
}

int clh_open(const struct clh_opts *o, struct clh **out)
{
	struct clh *h;
	int r;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return cl_fail(CL_ESYS, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
	if (!o->url || !*o->url)
		return cl_fail(CL_EINVAL, "no server URL (--server or CORELOCKER_SERVER)");
	/* Checked here: libcurl would report a missing file as an untrusted certificate. */
	if (o->cacert && access(o->cacert, R_OK) < 0)
		return cl_fail(CL_EINVAL, "cannot read CA file %s: %s", o->cacert, strerror(errno));
	if (!(h = calloc(1, sizeof(*h))) || !(h->c = curl_easy_init()) ||
	    (o->cacert && !(h->cacert = strdup(o->cacert))) || (o->who && !(h->who = strdup(o->who))) ||
	    (o->token && asprintf(&h->auth, "Authorization: Bearer %s", o->token) < 0)) {
		if (h)
			h->auth = NULL;
		clh_close(h);
		return cl_fail(CL_ENOMEM, "out of memory");
	}
	for (const char *p = o->url;; p++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if ((r = add_url(h, p, len, o->url)) < 0) {
			clh_close(h);
			return r;
		}
		if (!comma)
			break;
		p = comma;
	}
	h->connect_timeout = o->connect_timeout > 0 ? o->connect_timeout : 15;
	*out = h;
	return 0;
}

void clh_close(struct clh *h)
{
	if (!h)
		return;
	if (h->c)
		curl_easy_cleanup(h->c);
	for (size_t i = 0; i < h->n; i++)
		free(h->url[i]);
	free(h->cacert);
	free(h->who);
	if (h->auth) {
		OPENSSL_cleanse(h->auth, strlen(h->auth));
		free(h->auth);
	}
	free(h);
}

const char *clh_url(const struct clh *h)
{
	return h->url[h->cur];
}

void clh_resp_free(struct clh_resp *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

char *clh_escape(const char *s)
{
	char *e, *out;

	pthread_once(&global_once, global_init);
	if (!(e = curl_easy_escape(NULL, s, 0)))
		return NULL;
	out = strdup(e);
	curl_free(e);
	return out;
}

/* ---- callbacks ---- */

static int mem_append(struct xfer *x, const char *p, size_t n)
{
	struct clh_resp *r = x->r;

	if (n > x->max - r->len) {
		x->sink_err = cl_fail(CLH_ETOOBIG, "the answer exceeds %zu bytes", x->max);
		return -1;
	}
	if (cl_textbuf_append(&r->body, &r->len, &x->cap, 4096, p, n) < 0) {
		x->sink_err = cl_fail(CL_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, left = n;
	const uint8_t *chunk = (const uint8_t *)p;

	x->r->received += n;
	if (x->fd < 0 || x->r->status < 200 || x->r->status >= 300)
		return mem_append(x, p, n) < 0 ? 0 : n;
	if (x->r->received > x->fd_max) {
		x->sink_err =
		    cl_fail(CLH_ETOOBIG, "the answer exceeds %llu bytes", (unsigned long long)x->fd_max);
		return 0;
	}
	x->fd_written = 1;
	while (left) {
		ssize_t w = write(x->fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			x->sink_err = cl_fail_errno("cannot store the answer");
			return 0;
		}
		p += w;
		left -= (size_t)w;
	}
	int r = x->sink ? x->sink->data(x->sink->arg, chunk, n) : 0;
	if (r < 0) {
		x->sink_err = r;
		return 0;
	}
	return n;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	while (n && *v == ' ') {
		v++;
		n--;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	struct clh_resp *r = x->r;
	size_t n = size * nmemb;
	const char *colon = memchr(p, ':', n);
	char num[32];

	if (n > 5 && !strncmp(p, "HTTP/", 5)) { /* a new answer (after a 100 Continue, say) */
		const char *sp = memchr(p, ' ', n);
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->sig[0] = r->ctype[0] = 0;
		r->retry_after = 0;
		return n;
	}
	if (!colon)
		return n;
	size_t k = (size_t)(colon - p), vn = n - k - 1;
	if (k == 20 && !strncasecmp(p, "Corelocker-Signature", k))
		copy_value(r->sig, sizeof(r->sig), colon + 1, vn);
	else if (k == 12 && !strncasecmp(p, "Content-Type", k))
		copy_value(r->ctype, sizeof(r->ctype), colon + 1, vn);
	else if (k == 11 && !strncasecmp(p, "Retry-After", k)) {
		copy_value(num, sizeof(num), colon + 1, vn);
		r->retry_after = strtol(num, NULL, 10);
	}
	return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * nmemb;
	ssize_t got;

	if (x->upload_off >= x->upload_size)
		return 0;
	if (want > x->upload_size - x->upload_off)
		want = (size_t)(x->upload_size - x->upload_off);
	do
		got = pread(x->upload_fd, p, want, (off_t)x->upload_off);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		if (got == 0)
			errno = EIO;
		x->sink_err = cl_fail_errno("cannot read the upload");
		return CURL_READFUNC_ABORT;
	}
	x->upload_off += (uint64_t)got;
	return (size_t)got;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = arg;

	if (x->progress) {
		if (ultotal > 0)
			x->progress(x->progress_arg, (uint64_t)ulnow, (uint64_t)ultotal);
		else if (dltotal > 0)
			x->progress(x->progress_arg, (uint64_t)dlnow, (uint64_t)dltotal);
	}
	return 0;
}

/* ---- one transfer ---- */

static int map_curl(struct clh *h, CURLcode rc, const char *url, int sent)
{
	const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);

	snprintf(h->why, sizeof(h->why), "%s", why);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		if (sent)
			return cl_fail(CLH_EUNREACHABLE,
				       "the connection to %s failed after the request was sent: %s", url,
				       why);
		return cl_fail(CLH_EUNREACHABLE, "cannot reach %s: %s", url, why);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return cl_fail(CLH_ETLS, "TLS with %s failed, the server's certificate is not trusted: %s",
			       url, why);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL: return cl_fail(CL_EINVAL, "bad server URL %s: %s", url, why);
	default: return cl_fail(CLH_EPROTO, "HTTP exchange with %s failed: %s", url, why);
	}
}

static void parse_error_body(struct clh_resp *r)
{
	json_t *j, *e;

	if (r->status < 400 || !r->body)
		return;
	if (!(j = cl_json_parse(r->body, r->len, 4, NULL, 0)))
		return;
	e = json_object_get(j, "error");
	if (json_is_string(json_object_get(e, "code")))
		snprintf(r->code, sizeof(r->code), "%s", json_string_value(json_object_get(e, "code")));
	if (json_is_string(json_object_get(e, "message")))
		snprintf(r->message, sizeof(r->message), "%s",
			 json_string_value(json_object_get(e, "message")));
	json_decref(j);
}

/* One attempt on address I. */
static int perform(struct clh *h, size_t i, const char *method, const char *path, const char *json,
		   struct xfer *x)
{
	struct curl_slist *hdr = NULL;
	char *url = NULL;
	CURLcode rc;
	int r;

	memset(x->r, 0, sizeof(*x->r));
	x->sent = 0;
	if (asprintf(&url, "%s%s", h->url[i], path) < 0)
		return cl_fail(CL_ENOMEM, "out of memory");
	curl_easy_reset(h->c); /* keeps the connection */
	h->errbuf[0] = 0;
	curl_easy_setopt(h->c, CURLOPT_URL, url);
	curl_easy_setopt(h->c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(h->c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h->c, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(h->c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(h->c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h->c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h->c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (h->cacert)
		curl_easy_setopt(h->c, CURLOPT_CAINFO, h->cacert);
	curl_easy_setopt(h->c, CURLOPT_CONNECTTIMEOUT, h->connect_timeout);
	/* No overall timeout (models are big), but a stalled transfer ends. */
	curl_easy_setopt(h->c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h->c, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(h->c, CURLOPT_USERAGENT, "corelocker/" PACKAGE_VERSION);
	/*
	 * Tests and benchmarks only: a slow network on loopback (docs/bench.md,
	 * "The agent's overlap").  Small reads: libcurl reads up to 100 buffers
	 * in a row while the socket has data, a burst the cap only averages out.
	 */
	const char *rate = getenv("CORELOCKER_TEST_MAX_RECV_SPEED");
	if (rate && strtoll(rate, NULL, 10) > 0) {
		curl_easy_setopt(h->c, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)strtoll(rate, NULL, 10));
		curl_easy_setopt(h->c, CURLOPT_BUFFERSIZE, 1024L);
	}
	curl_easy_setopt(h->c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h->c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->c, CURLOPT_HEADERDATA, x);
	if (x->progress) {
		curl_easy_setopt(h->c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h->c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h->c, CURLOPT_XFERINFODATA, x);
	}
	if (h->auth)
		hdr = curl_slist_append(hdr, h->auth);
	/* key volumes: version 3 is read (lib/volume.c); a daemon that does not know it sends 2 */
	hdr = curl_slist_append(hdr, "Accept: application/json, " CL_VOLUME_MEDIA "; version=3, */*");
	if (x->upload_fd >= 0) {
		hdr = curl_slist_append(hdr, "Content-Type: application/octet-stream");
		curl_easy_setopt(h->c, CURLOPT_POST, 1L);
		curl_easy_setopt(h->c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h->c, CURLOPT_READDATA, x);
		curl_easy_setopt(h->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->upload_size);
	} else if (json) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		hdr = curl_slist_append(hdr, "Expect:");
		curl_easy_setopt(h->c, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(h->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(h->c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(h->c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h->c, CURLOPT_HTTPHEADER, hdr);

	rc = curl_easy_perform(h->c);
	if (rc != CURLE_OK) {
		/* Request bytes handed to the connection: the server may have acted on them. */
		long reqsize = 0;
		curl_easy_getinfo(h->c, CURLINFO_REQUEST_SIZE, &reqsize);
		x->sent = reqsize > 0;
	}
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &x->r->status);
		parse_error_body(x->r);
		r = 0;
	} else if (x->sink_err) {
		r = x->sink_err; /* the message was set by the callback */
	} else {
		r = map_curl(h, rc, url, x->sent);
	}
	curl_slist_free_all(hdr);
	free(url);
	if (r < 0)
		clh_resp_free(x->r);
	return r;
}

/* ---- the calls: each address in turn from the sticky one ---- */

static int idempotent(const char *method, unsigned flags)
{
	static const char *const safe[] = {"GET", "HEAD", "DELETE"};

	if (flags & CLH_IDEMPOTENT)
		return 1;
	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (!strcmp(method, safe[i]))
			return 1;
	return 0;
}

/* An answer a load balancer or a node gives when another node may do better. */
static int gateway_status(long status)
{
	return status == 502 || status == 503 || status == 504;
}

/* Back to the state before the first attempt: the body is sent, and written, from the start. */
static int rewind_xfer(struct xfer *x, off_t fd_start)
{
	x->sink_err = 0;
	x->upload_off = 0;
	x->cap = 0;
	if (x->fd >= 0 && x->fd_written) {
		if (x->sink) /* before the bytes it may be reading go */
			x->sink->restart(x->sink->arg);
		if (ftruncate(x->fd, fd_start) < 0 || lseek(x->fd, fd_start, SEEK_SET) < 0)
			return cl_fail_errno("cannot restart the download");
		x->fd_written = 0;
	}
	return 0;
}

static void say_switch(const struct clh *h, size_t from, size_t to, const char *what)
{
	if (h->who)
		fprintf(stderr, "%s: server %s %s; trying %s\n", h->who, h->url[from], what, h->url[to]);
}

static int run(struct clh *h, const char *method, const char *path, const char *json, unsigned flags,
	       struct xfer *x)
{
	struct clh_resp gateway = {0}; /* the last 502/503/504 answer, if nothing better comes */
	off_t fd_start = x->fd >= 0 ? lseek(x->fd, 0, SEEK_CUR) : 0;
	int idem = idempotent(method, flags), r = 0;
	char what[CURL_ERROR_SIZE + 64];
	size_t i = h->cur;

	if (fd_start < 0)
		fd_start = 0;
	for (size_t k = 0; k < h->n; k++, i = (i + 1) % h->n) {
		int last = k + 1 == h->n;
		if (k && (r = rewind_xfer(x, fd_start)) < 0)
			goto fail;
		r = perform(h, i, method, path, json, x);
		if (r == 0 && (!idem || last || !gateway_status(x->r->status))) {
			h->cur = i;
			clh_resp_free(&gateway);
			return 0;
		}
		if (r == 0) { /* a 502/503/504 to a call that may be repeated */
			long wait =
			    x->r->retry_after < CLH_RETRY_AFTER_CAP ? x->r->retry_after : CLH_RETRY_AFTER_CAP;
			snprintf(what, sizeof(what), "answered HTTP %ld%s%s", x->r->status,
				 x->r->code[0] ? " " : "", x->r->code);
			if (wait > 0)
				snprintf(what + strlen(what), sizeof(what) - strlen(what),
					 " (retry after %ld s)", x->r->retry_after);
			say_switch(h, i, (i + 1) % h->n, what);
			clh_resp_free(&gateway);
			gateway = *x->r;
			memset(x->r, 0, sizeof(*x->r));
			if (wait > 0)
				sleep((unsigned)wait);
			continue;
		}
		/* Local failures (out of memory, a full disk, an answer too big) end the call. */
		if (x->sink_err || (r != CLH_EUNREACHABLE && r != CLH_ETLS && r != CLH_EPROTO))
			goto fail;
		if (x->sent && !idem) {
			r = cl_fail(r,
				    "%s %s%s: the connection failed after the request was sent (%s); it may "
				    "or may not "
				    "have been applied, so it was not repeated: check before trying again",
				    method, h->url[i], path, h->why);
			goto fail;
		}
		if (!last) {
			snprintf(what, sizeof(what), "%s (%s)",
				 x->sent ? "failed after the request was sent" : "unreachable", h->why);
			say_switch(h, i, (i + 1) % h->n, what);
		}
	}
	if (gateway.status) { /* every later address failed: that answer is the best there is */
		*x->r = gateway;
		return 0;
	}
	return r;
fail:
	clh_resp_free(&gateway);
	return r;
}

int clh_call(struct clh *h, const char *method, const char *path, const char *json, size_t max,
	     unsigned flags, struct clh_resp *r)
{
	struct xfer x = {.r = r, .max = max ? max : DEFAULT_MAX, .fd = -1, .upload_fd = -1};
	return run(h, method, path, json, flags, &x);
}

int clh_call_to_fd(struct clh *h, const char *method, const char *path, const char *json, int fd,
		   uint64_t max, unsigned flags, struct clh_resp *r)
{
	return clh_call_to_sink(h, method, path, json, fd, max, flags, NULL, r);
}

int clh_call_to_sink(struct clh *h, const char *method, const char *path, const char *json, int fd,
		     uint64_t max, unsigned flags, const struct clh_sink *sink, struct clh_resp *r)
{
	struct xfer x = {.r = r, .max = DEFAULT_MAX, .fd = fd, .fd_max = max, .upload_fd = -1, .sink = sink};
	return run(h, method, path, json, flags, &x);
}

int clh_upload(struct clh *h, const char *method, const char *path, int fd, uint64_t size,
	       clh_progress_fn progress, void *arg, unsigned flags, struct clh_resp *r)
{
	struct xfer x = {.r = r,
			 .max = DEFAULT_MAX,
			 .fd = -1,
			 .upload_fd = fd,
			 .upload_size = size,
			 .progress = progress,
			 .progress_arg = arg};
	return run(h, method, path, NULL, flags, &x);
}
