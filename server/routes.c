/* routes.c - THE route table: every endpoint of corelockerd, in one place. */
#include "routes.h"

const struct route routes[] = {
	{"GET", "/healthz", 0, h_healthz},
	{"GET", "/metrics", 0, h_metrics},
	{"GET", "/v1/pubkey", 0, h_pubkey},

	{"POST", "/v1/models", R_ADMIN | R_UPLOAD, h_model_create},
	{"GET", "/v1/models", R_ADMIN, h_model_list},
	{"GET", "/v1/models/{}", R_ADMIN, h_model_show},
	{"DELETE", "/v1/models/{}", R_ADMIN, h_model_delete},

	{"GET", "/v1/models/{}/tiers", R_ADMIN, h_tier_list},
	{"GET", "/v1/models/{}/tiers/{}", R_ADMIN, h_tier_show},
	{"PUT", "/v1/models/{}/tiers/{}", R_ADMIN | R_JSON, h_tier_put},
	{"DELETE", "/v1/models/{}/tiers/{}", R_ADMIN, h_tier_delete},
	{"POST", "/v1/models/{}/trace", R_ADMIN, h_model_trace},

	{"POST", "/v1/licenses", R_ADMIN | R_JSON, h_license_issue},
	{"GET", "/v1/licenses", R_ADMIN, h_license_list},
	{"GET", "/v1/licenses/{}", R_ADMIN, h_license_show},
	{"PATCH", "/v1/licenses/{}", R_ADMIN | R_JSON, h_license_patch},
	{"POST", "/v1/licenses/{}/revoke", R_ADMIN, h_license_revoke},
	{"POST", "/v1/licenses/{}/suspend", R_ADMIN, h_license_suspend},
	{"POST", "/v1/licenses/{}/reinstate", R_ADMIN, h_license_reinstate},

	{"GET", "/v1/licenses/{}/machines", R_ADMIN, h_machine_list},
	{"DELETE", "/v1/licenses/{}/machines/{}", R_ADMIN, h_machine_delete},

	{"GET", "/v1/audit", R_ADMIN, h_audit_list},

	{"GET", "/v1/tokens", R_ADMIN, h_token_list},
	{"POST", "/v1/tokens", R_ADMIN | R_JSON, h_token_create},
	{"DELETE", "/v1/tokens/{}", R_ADMIN, h_token_delete},

	{"POST", "/v1/activate", R_JSON | R_AGENT, h_activate},
	{"POST", "/v1/validate", R_JSON | R_AGENT, h_validate},
	{"POST", "/v1/key", R_JSON | R_AGENT, h_key},
	{"POST", "/v1/heartbeat", R_JSON | R_AGENT, h_heartbeat},
	{"POST", "/v1/checkout", R_JSON | R_AGENT, h_checkout},

	/* the web console: public files; it calls the routes above with a token */
	{"GET", "/console", 0, h_console_root},
	{"GET", "/console/", 0, h_console_index},
	{"GET", "/console/{}", 0, h_console_file},
};
const unsigned nroutes = sizeof(routes) / sizeof(routes[0]);
