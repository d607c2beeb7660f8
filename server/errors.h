/*
 * errors.h - the one registry of API error codes.  Each has its HTTP status
 * and a stable UPPER_SNAKE code for {"error":{"code","message"}}.  The
 * validation codes of /v1/validate are here too: /v1/activate and /v1/key
 * answer with them as errors.
 */
#ifndef SRV_ERRORS_H
#define SRV_ERRORS_H

enum api_err {
	E_BAD_REQUEST,
	E_INVALID_JSON,
	E_INVALID_FIELD,
	E_INVALID_KEY,
	E_UNAUTHORIZED,
	E_FORBIDDEN,
	E_NOT_FOUND,
	E_METHOD_NOT_ALLOWED,
	E_ALREADY_EXISTS,
	E_IN_USE,
	E_INVALID_STATE,
	E_LAST_ADMIN_TOKEN,
	E_PAYLOAD_TOO_LARGE,
	E_RATE_LIMITED,
	E_INTERNAL,
	E_UNAVAILABLE,
	/* validation codes (VALID is not an error) */
	E_VALID,
	E_REVOKED,
	E_SUSPENDED,
	E_EXPIRED,
	E_NOT_ACTIVATED,
	E_TOO_MANY_MACHINES,
	E_LEASE_EXPIRED,
	E_CHECKOUT_DISABLED,
	E_COUNT
};

struct api_err_def {
	const char *code;
	unsigned status;
	const char *meaning;
};

extern const struct api_err_def api_errors[E_COUNT];

#endif
