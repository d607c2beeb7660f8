/*
 * console.c - GET /console/ and its files: the web admin console.
 *
 * Every answer is built once, at the first console request (as GNU Taler's
 * mhd_spa.c does): for each file, its bytes as they are and the gzip copy
 * made at build time, each with the headers below, plus a 304 for each.
 * libmicrohttpd reference-counts responses, so the same one is queued on
 * every connection and none is ever freed.  Files are revalidated on every
 * load (no-cache with an ETag), so a new daemon serves its new console at
 * once; the API answers the page then fetches are never cached (http.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "console.h"
#include "digest.h"
#include "log.h"
#include "routes.h"

static const struct {
	const char *ext, *ctype;
} ctypes[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
};

/* Headers of every console answer. */
static const char *const common_headers[][2] = {
    {"Content-Security-Policy", CONSOLE_CSP},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cache-Control", "no-cache"},
    {"Vary", "Accept-Encoding"},
};

enum { V_RAW, V_GZ, V_COUNT };

struct variant {
	struct MHD_Response *ok, *not_modified;
	char etag[24];
};

#define MAX_ASSETS 16
static struct variant variants[MAX_ASSETS][V_COUNT];
static struct MHD_Response *redirect;
static int ready;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *ctype_of(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(ctypes) / sizeof(ctypes[0]); i++) {
		size_t e = strlen(ctypes[i].ext);
		if (n > e && !strcmp(name + n - e, ctypes[i].ext))
			return ctypes[i].ctype;
	}
	return "application/octet-stream";
}

static int add_common(struct MHD_Response *resp)
{
	for (size_t i = 0; i < sizeof(common_headers) / sizeof(common_headers[0]); i++)
		if (MHD_add_response_header(resp, common_headers[i][0], common_headers[i][1]) != MHD_YES)
			return -1;
	return 0;
}

static int build_variant(struct variant *v, const char *name, const unsigned char *p, size_t n, int gz)
{
	uint8_t h[CL_SHA256_LEN];
	char hex[2 * 8 + 1];

	cl_sha256(p, n, h);
	cl_hex(h, 8, hex);
	snprintf(v->etag, sizeof(v->etag), "\"%.16s%s\"", hex, gz ? "-gz" : "");
	v->ok = MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_PERSISTENT);
	v->not_modified = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!v->ok || !v->not_modified || add_common(v->ok) < 0 || add_common(v->not_modified) < 0 ||
	    MHD_add_response_header(v->ok, MHD_HTTP_HEADER_CONTENT_TYPE, ctype_of(name)) != MHD_YES ||
	    MHD_add_response_header(v->ok, MHD_HTTP_HEADER_ETAG, v->etag) != MHD_YES ||
	    MHD_add_response_header(v->not_modified, MHD_HTTP_HEADER_ETAG, v->etag) != MHD_YES ||
	    (gz && MHD_add_response_header(v->ok, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") != MHD_YES))
		return -1;
	return 0;
}

static void build(void)
{
	if (console_nassets > MAX_ASSETS) {
		log_bug("console: %u files, room for %d", console_nassets, MAX_ASSETS);
		return;
	}
	for (unsigned i = 0; i < console_nassets; i++) {
		const struct console_asset *a = &console_assets[i];
		if (build_variant(&variants[i][V_RAW], a->name, a->raw, a->raw_len, 0) < 0 ||
		    build_variant(&variants[i][V_GZ], a->name, a->gz, a->gz_len, 1) < 0) {
			log_err("console: cannot build the answer for %s (out of memory)", a->name);
			return;
		}
	}
	redirect = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!redirect || add_common(redirect) < 0 ||
	    MHD_add_response_header(redirect, MHD_HTTP_HEADER_LOCATION, "/console/") != MHD_YES)
		return;
	ready = 1;
}

static char *trim(char *s)
{
	char *e;

	s += strspn(s, " \t");
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = 0;
	return s;
}

/* One coding of Accept-Encoding, e.g. "gzip;q=0.5" (modified in place). */
static int coding_is_gzip(char *item)
{
	char *save = NULL, *tok = strtok_r(item, ";", &save), *p;

	if (!tok || (strcasecmp(trim(tok), "gzip") && strcmp(trim(tok), "*")))
		return 0;
	while ((p = strtok_r(NULL, ";", &save))) {
		p = trim(p);
		if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
			return strtod(p + 2, NULL) > 0; /* q=0: "not acceptable" */
	}
	return 1;
}

int console_accepts_gzip(const char *ae)
{
	char item[64];

	while (ae && *ae) {
		size_t len = strcspn(ae, ",");
		if (len < sizeof(item)) { /* a longer item is no coding we know */
			memcpy(item, ae, len);
			item[len] = 0;
			if (coding_is_gzip(item))
				return 1;
		}
		ae += len + (ae[len] == ',');
	}
	return 0;
}

static enum MHD_Result console_send(struct req *r, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result res = MHD_queue_response(r->conn, status, resp);

	if (res == MHD_YES)
		r->status = status;
	return res;
}

enum MHD_Result h_console_root(struct req *r)
{
	pthread_once(&once, build);
	if (!ready)
		return reply_error(r, E_INTERNAL, "the console is unavailable");
	return console_send(r, 308, redirect);
}

/* Serve the file called NAME, gzip'd when the client accepts it. */
static enum MHD_Result serve(struct req *r, const char *name)
{
	const char *ae, *inm;
	struct variant *v;
	unsigned i;

	pthread_once(&once, build);
	if (!ready)
		return reply_error(r, E_INTERNAL, "the console is unavailable");
	for (i = 0; i < console_nassets && strcmp(console_assets[i].name, name); i++)
		;
	if (i == console_nassets)
		return reply_error(r, E_NOT_FOUND, "the console has no file '%s'", name);
	ae = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	v = &variants[i][console_accepts_gzip(ae) ? V_GZ : V_RAW];
	inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm && (strstr(inm, v->etag) || !strcmp(inm, "*")))
		return console_send(r, 304, v->not_modified);
	return console_send(r, 200, v->ok);
}

enum MHD_Result h_console_index(struct req *r)
{
	return serve(r, "index.html");
}

enum MHD_Result h_console_file(struct req *r)
{
	return serve(r, r->seg[0]);
}
