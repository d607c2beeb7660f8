/* jreq_http.c - jreq_parse: jreq_check on a request's body, 400 on a refusal. */
#include "http.h"
#include "jreq.h"

json_t *jreq_parse(struct req *r, const struct jfield *spec, size_t n, struct jval *out, enum MHD_Result *res)
{
	char why[200];
	enum api_err code;
	json_t *root = jreq_check(r->body, r->len, spec, n, out, &code, why, sizeof(why));

	if (!root)
		*res = reply_error(r, code, "%s", why);
	return root;
}
