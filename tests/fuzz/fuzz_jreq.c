/*
 * fuzz_jreq.c - libFuzzer target for JSON request bodies.
 *
 * The first byte picks one of the routes' real field specs (jreq_specs[],
 * generated from server/r_*.c by gen-jspecs.sh); the rest is the body, given
 * to jreq_check() exactly as the daemon gives it.  An oracle checks every
 * answer: a refusal has a code and a message; an accepted body holds no raw
 * NUL, every required field is present, and every value keeps its spec's
 * type and bounds (strings without control characters, times that format
 * and parse back to themselves).  A broken invariant aborts, like a crash.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jreq.h"
#include "jsonx.h"
#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "fuzz_jreq: %s: '%s' fails (%s:%d)\n", sp->name, #cond, \
				__FILE__, __LINE__);                                           \
			abort();                                                               \
		}                                                                              \
	} while (0)

#define MAX_FIELDS 16

static void oracle(const struct jreq_spec *sp, const json_t *root, const struct jval *v)
{
	CHECK(json_is_object(root));
	CHECK(json_object_size(root) <= sp->n);
	for (size_t i = 0; i < sp->n; i++) {
		const struct jfield *f = &sp->spec[i];
		const json_t *j = json_object_get(root, f->name);
		char back[CL_TIME_LEN];

		CHECK(v[i].present == (j != NULL));
		CHECK(!(f->flags & JF_REQUIRED) || v[i].present);
		if (!v[i].present)
			continue;
		CHECK(v[i].is_null == json_is_null(j));
		CHECK(!v[i].is_null || (f->flags & JF_NULLABLE));
		if (v[i].is_null)
			continue;
		switch (f->type) {
		case JF_STRING:
			CHECK(v[i].s && (int64_t)strlen(v[i].s) >= f->min && (int64_t)strlen(v[i].s) <= f->max);
			CHECK(strlen(v[i].s) == json_string_length(j) && cl_text_ok(v[i].s, strlen(v[i].s)));
			break;
		case JF_INT:
			CHECK(v[i].i >= f->min && v[i].i <= f->max && v[i].i == json_integer_value(j));
			break;
		case JF_NUMBER:
			CHECK(isfinite(v[i].d));
			break;
		case JF_TIME:
			CHECK(v[i].i >= 0 && v[i].i <= CL_TIME_MAX);
			CHECK(cl_time_fmt(v[i].i, back) == 0 && cl_time_parse(back) == v[i].i);
			break;
		case JF_BOOL:
			CHECK(json_is_boolean(j) && v[i].i == json_is_true(j));
			break;
		case JF_REF:
			CHECK((v[i].s != NULL) != (v[i].i >= 0));
			CHECK(!v[i].s || (strlen(v[i].s) >= 1 && strlen(v[i].s) <= JREQ_NAME_MAX));
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct jreq_spec *sp;
	struct jval v[MAX_FIELDS];
	enum api_err code;
	char why[200], *body;
	json_t *root;

	if (size < 1 || njreq_specs == 0)
		return 0;
	sp = &jreq_specs[data[0] % njreq_specs];
	if (sp->n > MAX_FIELDS)
		abort(); /* a route grew: raise MAX_FIELDS */
	/* the body in a buffer of exactly its size, as the daemon holds it */
	body = malloc(size - 1 ? size - 1 : 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	why[0] = 0;
	root = jreq_check(size > 1 ? body : NULL, size - 1, sp->spec, sp->n, v, &code, why, sizeof(why));
	if (root) {
		CHECK(!memchr(body, 0, size - 1));
		oracle(sp, root, v);
		json_decref(root);
	} else {
		CHECK(code == E_INVALID_JSON || code == E_INVALID_FIELD);
		CHECK(why[0] != 0);
	}
	free(body);
	return 0;
}
