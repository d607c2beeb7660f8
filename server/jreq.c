/* jreq.c - JSON request bodies checked against declarative field specs (no MHD). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jreq.h"
#include "jsonx.h"
#include "util.h"

#define BODY_DEPTH 2 /* flat objects; one more level only to name the error */
#define TIME_MAX_LEN 64

static const char *type_name(enum jf_type t)
{
	switch (t) {
	case JF_STRING:
		return "a string";
	case JF_INT:
		return "an integer";
	case JF_NUMBER:
		return "a number";
	case JF_TIME:
		return "an RFC 3339 time string between 1970 and 9999";
	case JF_BOOL:
		return "true or false";
	default:
		return "an id or a name";
	}
}

/* One field: 1 when V fits F (and O is filled), else 0. */
static int check_field(const json_t *v, const struct jfield *f, struct jval *o)
{
	size_t len;

	switch (f->type) {
	case JF_STRING:
		if (!json_is_string(v))
			return 0;
		len = json_string_length(v);
		if ((int64_t)len < f->min || (int64_t)len > f->max || !cl_text_ok(json_string_value(v), len))
			return 0;
		o->s = json_string_value(v);
		return 1;
	case JF_INT:
		if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max)
			return 0;
		o->i = json_integer_value(v);
		return 1;
	case JF_NUMBER:
		if (!json_is_number(v) || !isfinite(json_number_value(v)))
			return 0;
		o->d = json_number_value(v);
		return 1;
	case JF_TIME:
		if (!json_is_string(v) || json_string_length(v) > TIME_MAX_LEN ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    (o->i = cl_time_parse(json_string_value(v))) < 0)
			return 0;
		return 1;
	case JF_BOOL:
		if (!json_is_boolean(v))
			return 0;
		o->i = json_is_true(v);
		return 1;
	case JF_REF:
		if (json_is_integer(v) && json_integer_value(v) >= 0) {
			o->i = json_integer_value(v);
			return 1;
		}
		if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
		    name_ok(json_string_value(v), JREQ_NAME_MAX)) {
			o->s = json_string_value(v);
			return 1;
		}
		return 0;
	}
	return 0;
}

json_t *jreq_check(const char *body, size_t len, const struct jfield *spec, size_t n, struct jval *out,
		   enum api_err *code, char *why, size_t whylen)
{
	json_t *root, *v;
	const char *key;

	memset(out, 0, n * sizeof(*out));
	*code = E_INVALID_JSON;
	if (!body || !len) {
		snprintf(why, whylen, "the body is empty; a JSON object is expected");
		return NULL;
	}
	if (!(root = cl_json_parse(body, len, BODY_DEPTH, why, whylen)))
		return NULL;
	if (!json_is_object(root)) {
		snprintf(why, whylen, "the body must be a JSON object");
		goto fail;
	}
	*code = E_INVALID_FIELD;
	json_object_foreach(root, key, v) {
		const struct jfield *f;
		size_t i;
		for (i = 0; i < n && strcmp(spec[i].name, key); i++)
			;
		if (i == n) {
			snprintf(why, whylen, "unknown field '%.64s'", key);
			goto fail;
		}
		f = &spec[i];
		out[i].present = 1;
		out[i].i = -1;
		if (json_is_null(v)) {
			if (!(f->flags & JF_NULLABLE)) {
				snprintf(why, whylen, "'%s' must be %s", f->name, type_name(f->type));
				goto fail;
			}
			out[i].is_null = 1;
			continue;
		}
		if (!check_field(v, f, &out[i])) {
			if (f->type == JF_STRING)
				snprintf(why, whylen, "'%s' must be a string of %lld to %lld characters, none a control character",
					 f->name, (long long)f->min, (long long)f->max);
			else if (f->type == JF_INT)
				snprintf(why, whylen, "'%s' must be an integer in [%lld, %lld]", f->name,
					 (long long)f->min, (long long)f->max);
			else
				snprintf(why, whylen, "'%s' must be %s", f->name, type_name(f->type));
			goto fail;
		}
	}
	for (size_t i = 0; i < n; i++)
		if ((spec[i].flags & JF_REQUIRED) && !out[i].present) {
			snprintf(why, whylen, "'%s' is required", spec[i].name);
			goto fail;
		}
	return root;
fail:
	json_decref(root);
	memset(out, 0, n * sizeof(*out));
	return NULL;
}
