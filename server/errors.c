/* errors.c - the registry of API error codes (docs/api.md lists the same). */
#include "errors.h"

const struct api_err_def api_errors[E_COUNT] = {
	[E_BAD_REQUEST] = {"BAD_REQUEST", 400, "the request is malformed (path, query or parameters)"},
	[E_INVALID_JSON] = {"INVALID_JSON", 400, "the body is not a JSON object, or is nested too deep"},
	[E_INVALID_FIELD] = {"INVALID_FIELD", 400, "a field is missing, unknown, of the wrong type or out of bounds"},
	[E_INVALID_KEY] = {"INVALID_KEY", 400, "the uploaded body is not a valid .clkey"},
	[E_UNAUTHORIZED] = {"UNAUTHORIZED", 401, "missing, malformed, unknown, deleted or expired admin token"},
	[E_FORBIDDEN] = {"FORBIDDEN", 403, "the token's scope does not allow this request (a read token may only GET)"},
	[E_NOT_FOUND] = {"NOT_FOUND", 404, "no such resource, or unknown license key"},
	[E_METHOD_NOT_ALLOWED] = {"METHOD_NOT_ALLOWED", 405, "the path exists but not with this method"},
	[E_ALREADY_EXISTS] = {"ALREADY_EXISTS", 409, "a model with this name and version exists"},
	[E_IN_USE] = {"IN_USE", 409, "an active or suspended license uses this model or tier"},
	[E_INVALID_STATE] = {"INVALID_STATE", 409, "the license's status forbids this change"},
	[E_LAST_ADMIN_TOKEN] = {"LAST_ADMIN_TOKEN", 409, "the last live admin-scope token cannot be deleted"},
	[E_PAYLOAD_TOO_LARGE] = {"PAYLOAD_TOO_LARGE", 413, "the body exceeds max_body or max_json"},
	[E_RATE_LIMITED] = {"RATE_LIMITED", 429, "too many requests; retry after Retry-After seconds"},
	[E_INTERNAL] = {"INTERNAL", 500, "a server-side failure (logged)"},
	[E_UNAVAILABLE] = {"UNAVAILABLE", 503, "the database is busy; retry"},
	[E_VALID] = {"VALID", 200, "the license is valid for this machine"},
	[E_REVOKED] = {"REVOKED", 403, "the license was revoked"},
	[E_SUSPENDED] = {"SUSPENDED", 403, "the license is suspended"},
	[E_EXPIRED] = {"EXPIRED", 403, "the license has expired"},
	[E_NOT_ACTIVATED] = {"NOT_ACTIVATED", 403, "this machine has no seat on the license"},
	[E_TOO_MANY_MACHINES] = {"TOO_MANY_MACHINES", 403, "every seat of the license is taken"},
	[E_LEASE_EXPIRED] = {"LEASE_EXPIRED", 403, "this machine's lease lapsed; a heartbeat renews it"},
	[E_CHECKOUT_DISABLED] = {"CHECKOUT_DISABLED", 403, "the license allows no offline checkout (max_checkout is 0)"},
};
