/*
 * console.h - the web admin console: static files compiled into the daemon
 * (gen-console.sh), served under /console/ with a strict
 * Content-Security-Policy.  The page is plain HTML, CSS and JavaScript that
 * talks to the same REST API as corelockerctl, with the admin token the user
 * types in; the daemon holds no console state.
 */
#ifndef SRV_CONSOLE_H
#define SRV_CONSOLE_H

#include <stddef.h>

struct console_asset {
	const char *name;	  /* the file name under /console/ */
	const unsigned char *raw; /* as it is */
	size_t raw_len;
	const unsigned char *gz; /* gzip -9n */
	size_t gz_len;
};

/* console-assets.c, generated */
extern const struct console_asset console_assets[];
extern const unsigned console_nassets;

/* Content-Security-Policy of every console answer: no inline script or
 * style, nothing from another origin, no framing. */
#define CONSOLE_CSP                                                                                          \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src "        \
	"'self'; "                                                                                           \
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* 1 when an Accept-Encoding value accepts gzip (a "gzip" or "*" coding
 * whose q is not 0). */
int console_accepts_gzip(const char *accept_encoding);

#endif
