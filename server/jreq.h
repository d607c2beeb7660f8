/*
 * jreq.h - declarative JSON request bodies, without libmicrohttpd.
 *
 * A route names its fields in a spec (name, type, flags, bounds);
 * jreq_check() parses a body against it.  http.h's jreq_parse() is the thin
 * wrapper that replies 400 on a refusal.  jreq_routes[] (generated from the
 * route sources by gen-jspecs.sh, for the fuzzer) lists every spec.
 */
#ifndef SRV_JREQ_H
#define SRV_JREQ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#define JREQ_NAME_MAX 64 /* a JF_REF name; http.h MAX_SEG_LEN, as it is also a path segment */

enum jf_type { JF_STRING, JF_INT, JF_NUMBER, JF_TIME, JF_REF, JF_BOOL };
enum jf_flags { JF_REQUIRED = 1, JF_NULLABLE = 2 };

struct jfield {
	const char *name;
	enum jf_type type;
	unsigned flags;
	int64_t min, max; /* JF_INT: value bounds; JF_STRING: length bounds */
};

struct jval {
	int present, is_null;
	const char *s; /* JF_STRING, JF_REF given as a name */
	int64_t i;     /* JF_INT, JF_TIME (unix seconds), JF_BOOL (0 or 1), JF_REF given as an id (else -1) */
	double d;      /* JF_NUMBER */
};

/*
 * Parse LEN bytes of BODY (NULL: no body) as a JSON object against SPEC;
 * unknown fields, wrong types and values out of bounds are refused.  On
 * success the values in OUT borrow from the returned root, which the caller
 * decrefs.  On failure it returns NULL with *CODE (E_INVALID_JSON or
 * E_INVALID_FIELD) and a message in WHY.
 */
json_t *jreq_check(const char *body, size_t len, const struct jfield *spec, size_t n, struct jval *out,
		   enum api_err *code, char *why, size_t whylen);

/* Every route's spec, by "file:handler" (gen-jspecs.sh). */
struct jreq_spec {
	const char *name;
	const struct jfield *spec;
	size_t n;
};
extern const struct jreq_spec jreq_specs[];
extern const size_t njreq_specs;

#endif
