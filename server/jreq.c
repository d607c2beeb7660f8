/* jreq.c - JSON request bodies checked against declarative field specs. */
#include <math.h>
#include <string.h>

#include "http.h"
#include "jsonx.h"
#include "util.h"

#define BODY_DEPTH 2 /* flat objects; one more level only to name the error */

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
		return "an RFC 3339 time string";
	default:
		return "an id or a name";
	}
}

static int check_string(const json_t *v, const struct jfield *f, const char **out)
{
	size_t len = json_string_length(v);
	const char *s = json_string_value(v);

	if ((int64_t)len < f->min || (int64_t)len > f->max || strlen(s) != len || !text_ok(s))
		return -1;
	*out = s;
	return 0;
}

json_t *jreq_parse(struct req *r, const struct jfield *spec, size_t n, struct jval *out, enum MHD_Result *res)
{
	char why[200];
	json_t *root, *v;
	const char *key;

	memset(out, 0, n * sizeof(*out));
	root = r->body ? cl_json_parse(r->body, r->len, BODY_DEPTH, why, sizeof(why)) : NULL;
	if (!r->body)
		snprintf(why, sizeof(why), "the body is empty; a JSON object is expected");
	if (!root) {
		*res = reply_error(r, E_INVALID_JSON, "%s", why);
		return NULL;
	}
	if (!json_is_object(root)) {
		*res = reply_error(r, E_INVALID_JSON, "the body must be a JSON object");
		goto fail;
	}
	json_object_foreach(root, key, v) {
		size_t i;
		for (i = 0; i < n && strcmp(spec[i].name, key); i++)
			;
		if (i == n) {
			*res = reply_error(r, E_INVALID_FIELD, "unknown field '%.64s'", key);
			goto fail;
		}
		const struct jfield *f = &spec[i];
		struct jval *o = &out[i];
		o->present = 1;
		o->i = -1;
		if (json_is_null(v)) {
			if (!(f->flags & JF_NULLABLE)) {
				*res = reply_error(r, E_INVALID_FIELD, "'%s' must be %s", f->name, type_name(f->type));
				goto fail;
			}
			o->is_null = 1;
			continue;
		}
		int ok = 0;
		switch (f->type) {
		case JF_STRING:
			ok = json_is_string(v) && check_string(v, f, &o->s) == 0;
			break;
		case JF_INT:
			ok = json_is_integer(v) && json_integer_value(v) >= f->min && json_integer_value(v) <= f->max;
			o->i = ok ? json_integer_value(v) : -1;
			break;
		case JF_NUMBER:
			ok = json_is_number(v) && isfinite(json_number_value(v));
			o->d = ok ? json_number_value(v) : 0;
			break;
		case JF_TIME:
			ok = json_is_string(v) && json_string_length(v) <= 64 && time_parse(json_string_value(v), &o->i) == 0;
			break;
		case JF_REF:
			if (json_is_integer(v) && json_integer_value(v) >= 0) {
				ok = 1;
				o->i = json_integer_value(v);
			} else if (json_is_string(v)) {
				ok = name_ok(json_string_value(v), MAX_SEG_LEN);
				o->s = json_string_value(v);
			}
			break;
		}
		if (!ok) {
			if (f->type == JF_STRING)
				*res = reply_error(r, E_INVALID_FIELD, "'%s' must be a string of %lld to %lld printable characters",
						   f->name, (long long)f->min, (long long)f->max);
			else if (f->type == JF_INT)
				*res = reply_error(r, E_INVALID_FIELD, "'%s' must be an integer in [%lld, %lld]", f->name,
						   (long long)f->min, (long long)f->max);
			else
				*res = reply_error(r, E_INVALID_FIELD, "'%s' must be %s", f->name, type_name(f->type));
			goto fail;
		}
	}
	for (size_t i = 0; i < n; i++)
		if ((spec[i].flags & JF_REQUIRED) && !out[i].present) {
			*res = reply_error(r, E_INVALID_FIELD, "'%s' is required", spec[i].name);
			goto fail;
		}
	return root;
fail:
	json_decref(root);
	return NULL;
}
