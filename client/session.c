/* session.c - the agent's calls to corelockerd: activate, validate, key. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "agent.h"
#include "error.h"
#include "jsonx.h"
#include "seal.h"

/* Validation codes, as the server sends them, to exit statuses. */
static const struct {
	const char *code;
	int status;
} code_table[] = {
    {"VALID", AX_OK},
    {"NOT_FOUND", AX_NOT_FOUND},
    {"REVOKED", AX_REVOKED},
    {"SUSPENDED", AX_SUSPENDED},
    {"EXPIRED", AX_EXPIRED},
    {"NOT_ACTIVATED", AX_NOT_ACTIVATED},
    {"TOO_MANY_MACHINES", AX_MACHINES},
    {"LEASE_EXPIRED", AX_LEASE},
};

int ag_code_status(const char *code)
{
	for (size_t i = 0; i < sizeof(code_table) / sizeof(code_table[0]); i++)
		if (!strcmp(code, code_table[i].code))
			return code_table[i].status;
	return AX_REFUSED;
}

const char *ag_code_text(const char *code)
{
	static const struct {
		const char *code, *text;
	} t[] = {
	    {"NOT_FOUND", "the license key is not known to the server"},
	    {"REVOKED", "the license has been revoked"},
	    {"SUSPENDED", "the license is suspended"},
	    {"EXPIRED", "the license has expired"},
	    {"NOT_ACTIVATED", "this machine is not activated for the license"},
	    {"TOO_MANY_MACHINES", "the license has no free seat for this machine (too many machines)"},
	    {"LEASE_EXPIRED", "this machine's lease lapsed; a heartbeat renews it"},
	    {"CHECKOUT_DISABLED", "the license allows no offline checkout (max_checkout is 0)"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(code, t[i].code))
			return t[i].text;
	return "the server refused the request";
}

int ag_nonce(char out[33])
{
	uint8_t b[16];
	int r = cl_random(b, sizeof(b));

	if (r < 0)
		return r;
	cl_hex(b, sizeof(b), out);
	return 0;
}

/* A refusal of an agent call: 404/403 carry a validation code. */
static int refused(const char *what, const struct clh_resp *r)
{
	if (r->status == 429)
		return ax_fail(AX_REFUSED, "%s: the server is rate limiting this client (retry after %ld s)",
			       what, r->retry_after);
	if ((r->status == 403 || r->status == 404) && r->code[0] && ag_code_status(r->code) != AX_REFUSED)
		return ax_fail(ag_code_status(r->code), "%s refused: %s (%s)", what, ag_code_text(r->code),
			       r->code);
	return ax_fail(AX_REFUSED, "%s: the server answered HTTP %ld %s%s%s", what, r->status, r->code,
		       r->message[0] ? ": " : "", r->message);
}

/* Map a transport failure to its exit status, keeping the message. */
static int transport(int r)
{
	if (r == CLH_EUNREACHABLE)
		return cl_fail(AXF(AX_UNREACHABLE), "%s", cl_errmsg());
	if (r == CLH_ETLS)
		return cl_fail(AXF(AX_TLS), "%s", cl_errmsg());
	return r;
}

int ag_connect(struct agent *a)
{
	/* --quiet: a failover that ended well is not worth a line either. */
	struct clh_opts o = {
	    .url = a->server, .cacert = a->cacert, .who = a->quiet ? NULL : "corelocker-agent"};
	struct clh_resp r;
	const char *pin = clc_get(&a->conf, "server_key");
	char hex[2 * CL_PUB_LEN + 1];
	int rc;

	/* Trust on first use, as ssh does: a pin file that does not exist yet is
	 * filled with the key fetched now, and pins every later run. */
	int save_pin = pin && a->tofu && a->server && access(pin, F_OK) < 0 && errno == ENOENT;
	if (pin && !save_pin) {
		if ((rc = cl_pubkey_load(pin, a->pub)) < 0)
			return ax_fail(AX_USAGE, "--server-key %s: %s", pin, cl_errmsg());
		a->have_pub = 1;
	}
	if (!a->server)
		return 0;
	if ((rc = clh_open(&o, &a->h)) < 0)
		return rc == CL_EINVAL ? ax_fail(AX_USAGE, "%s", cl_errmsg()) : rc;
	if (a->have_pub)
		return 0;
	if (!a->tofu)
		return ax_fail(
		    AX_USAGE,
		    "no pinned server key: give --server-key PUB.pem (the server's GET /v1/pubkey), "
		    "or --insecure-trust-on-first-use");
	if ((rc = clh_call(a->h, "GET", "/v1/pubkey", NULL, 64 << 10, 0, &r)) < 0)
		return transport(rc);
	if (r.status != 200 || cl_pubkey_from_pem(r.body ? r.body : "", r.len, a->pub) < 0) {
		rc = ax_fail(AX_SIGNATURE, "GET /v1/pubkey did not give an Ed25519 public key (HTTP %ld)",
			     r.status);
		clh_resp_free(&r);
		return rc;
	}
	if (save_pin && (rc = ag_write_atomic(pin, r.body, r.len)) < 0) {
		clh_resp_free(&r);
		return ax_fail(rc == CL_ENOSPACE ? AX_DISK : AX_USAGE, "--server-key %s: %s", pin, cl_errmsg());
	}
	clh_resp_free(&r);
	a->have_pub = 1;
	cl_hex(a->pub, CL_PUB_LEN, hex);
	fprintf(stderr,
		"corelocker-agent: warning: trusting the server's signing key on first use, unverified: "
		"ed25519 %s\n",
		hex);
	if (save_pin)
		fprintf(stderr, "corelocker-agent: saved it to %s, which pins it from now on\n", pin);
	else
		fprintf(stderr, "corelocker-agent: warning: save GET %s/v1/pubkey and pin it with --server-key\n",
			clh_url(a->h));
	return 0;
}

static char *license_body(struct agent *a, const char *nonce, const double *from_beta, int64_t ttl)
{
	char host[256] = "";
	json_t *j = json_pack("{s:s,s:s}", "license_key", a->license, "fingerprint", a->fingerprint);
	char *s;

	if (!j)
		return NULL;
	if (nonce)
		json_object_set_new(j, "nonce", json_string(nonce));
	if (from_beta) /* the ratio the file holds: a tier re-cut since then cannot mislead the server */
		json_object_set_new(j, "from_beta", json_real(*from_beta));
	if (ttl > 0) /* a checkout's length */
		json_object_set_new(j, "ttl", json_integer(ttl));
	if (!nonce && gethostname(host, sizeof(host) - 1) == 0 && host[0])
		json_object_set_new(j, "hostname", json_string(host));
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static void free_body(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s)); /* it holds the license key */
		free(s);
	}
}

int ag_activate(struct agent *a)
{
	struct clh_resp r;
	char *body = license_body(a, NULL, NULL, 0);
	int rc;

	if (!body)
		return cl_fail(CL_ENOMEM, "out of memory");
	/* Every agent call may be repeated: a second activation of this fingerprint is a success. */
	rc = clh_call(a->h, "POST", "/v1/activate", body, 1 << 20, CLH_IDEMPOTENT, &r);
	free_body(body);
	if (rc < 0)
		return transport(rc);
	rc = r.status == 200 ? 0 : refused("activation", &r);
	clh_resp_free(&r);
	return rc;
}

/* Check "Corelocker-Signature: ed25519=<base64>" over the exact body. */
static int check_signed(struct agent *a, const struct clh_resp *r, const char *what)
{
	uint8_t sig[CL_SIG_LEN];
	const char *b64 = r->sig;

	if (strncmp(b64, "ed25519=", 8) || cl_b64_decode(b64 + 8, strlen(b64 + 8), sig, sizeof(sig)) < 0)
		return ax_fail(AX_SIGNATURE, "%s: the answer carries no Ed25519 signature", what);
	if (cl_verify(a->pub, r->body ? r->body : "", r->len, sig) < 0)
		return ax_fail(AX_SIGNATURE,
			       "%s: the answer's signature does not verify with the pinned server key", what);
	return 0;
}

/* An RFC 3339 time field: seconds since the epoch, -1 when null or absent, -2 when malformed. */
static int64_t time_field(json_t *j, const char *name)
{
	json_t *f = json_object_get(j, name);

	if (!f || json_is_null(f))
		return -1;
	return json_is_string(f) && cl_time_parse(json_string_value(f)) >= 0 ? cl_time_parse(json_string_value(f))
									     : -2;
}

int ag_check(struct agent *a, int heartbeat, struct ag_answer *out)
{
	const char *what = heartbeat ? "heartbeat" : "validation";
	struct clh_resp r;
	char nonce[33], *body;
	json_t *j = NULL;
	int rc;

	if ((rc = ag_nonce(nonce)) < 0)
		return rc;
	if (!(body = license_body(a, nonce, NULL, 0)))
		return cl_fail(CL_ENOMEM, "out of memory");
	/* A heartbeat repeated on another node renews the same lease again: harmless. */
	rc = clh_call(a->h, "POST", heartbeat ? "/v1/heartbeat" : "/v1/validate", body, 1 << 20, CLH_IDEMPOTENT,
		      &r);
	free_body(body);
	if (rc < 0)
		return transport(rc);
	if (r.status != 200) {
		rc = refused(what, &r);
		goto out;
	}
	if ((rc = check_signed(a, &r, what)) < 0)
		goto out;
	j = cl_json_parse(r.body, r.len, 4, NULL, 0);
	if (!json_is_string(json_object_get(j, "code")) || !json_is_string(json_object_get(j, "nonce"))) {
		rc = ax_fail(AX_REFUSED, "%s: the answer is not a validation result", what);
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(j, "nonce")), nonce)) {
		rc = ax_fail(AX_SIGNATURE, "%s: the answer is a replay (its nonce is not ours)", what);
		goto out;
	}
	snprintf(out->code, sizeof(out->code), "%s", json_string_value(json_object_get(j, "code")));
	snprintf(out->tier, sizeof(out->tier), "%s",
		 json_is_string(json_object_get(j, "tier")) ? json_string_value(json_object_get(j, "tier"))
							    : "");
	out->model = json_integer_value(json_object_get(j, "model"));
	out->beta = json_is_number(json_object_get(j, "beta")) ? json_number_value(json_object_get(j, "beta")) : NAN;
	out->has_locked = json_is_string(json_object_get(j, "locked_sha256")) &&
			  cl_unhex(json_string_value(json_object_get(j, "locked_sha256")), out->locked,
				   CL_SHA256_LEN) == 0;
	out->ts = time_field(j, "ts");
	out->lease_expires = time_field(j, "lease_expires");
	if (out->lease_expires < -1 || out->ts < -1)
		rc = ax_fail(AX_REFUSED, "%s: the answer's lease_expires or ts is not an RFC 3339 time", what);
out:
	json_decref(j);
	clh_resp_free(&r);
	return rc;
}

int ag_checkout(struct agent *a, int64_t ttl, int fd, uint64_t max, char nonce[33], uint64_t *bytes)
{
	struct clh_resp r;
	char *body;
	int rc;

	if ((rc = ag_nonce(nonce)) < 0)
		return rc;
	if (!(body = license_body(a, nonce, NULL, ttl)))
		return cl_fail(CL_ENOMEM, "out of memory");
	/* Repeating a checkout for the same fingerprint only moves its end: idempotent. */
	rc = clh_call_to_fd(a->h, "POST", "/v1/checkout", body, fd, max, CLH_IDEMPOTENT, &r);
	free_body(body);
	if (rc < 0)
		return rc == CLH_ETOOBIG ? ax_fail(AX_VOLUME, "%s", cl_errmsg()) : transport(rc);
	*bytes = r.received;
	rc = r.status == 200 ? 0 : refused("checkout", &r);
	clh_resp_free(&r);
	return rc;
}

int ag_fetch_key(struct agent *a, const double *from_beta, int fd, uint64_t max, const struct clh_sink *sink,
		 char nonce[33], uint64_t *bytes, int *from_refused)
{
	struct clh_resp r;
	char *body;
	int rc;

	*from_refused = 0;
	if ((rc = ag_nonce(nonce)) < 0)
		return rc;
	if (!(body = license_body(a, nonce, from_beta, 0)))
		return cl_fail(CL_ENOMEM, "out of memory");
	rc = clh_call_to_sink(a->h, "POST", "/v1/key", body, fd, max, CLH_IDEMPOTENT, sink, &r);
	free_body(body);
	if (rc < 0)
		return rc == CLH_ETOOBIG ? ax_fail(AX_VOLUME, "%s", cl_errmsg()) : transport(rc);
	*bytes = r.received;
	if (r.status == 400 && from_beta && !strcmp(r.code, "INVALID_FIELD")) {
		*from_refused = 1;
		rc = ax_fail(AX_REFUSED, "the server will not upgrade from ratio %g: %s", *from_beta, r.message);
	} else if (r.status != 200) {
		rc = refused("key delivery", &r);
	}
	clh_resp_free(&r);
	return rc;
}
