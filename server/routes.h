/* routes.h - the handlers named by routes[] (routes.c); one file per resource. */
#ifndef SRV_ROUTES_H
#define SRV_ROUTES_H

#include "http.h"

/* r_misc.c */
enum MHD_Result h_healthz(struct req *r);
enum MHD_Result h_metrics(struct req *r);
enum MHD_Result h_pubkey(struct req *r);
/* r_models.c */
enum MHD_Result h_model_create(struct req *r);
enum MHD_Result h_model_list(struct req *r);
enum MHD_Result h_model_show(struct req *r);
enum MHD_Result h_model_delete(struct req *r);
/* r_tiers.c */
enum MHD_Result h_tier_list(struct req *r);
enum MHD_Result h_tier_show(struct req *r);
enum MHD_Result h_tier_put(struct req *r);
enum MHD_Result h_tier_delete(struct req *r);
/* r_trace.c */
enum MHD_Result h_model_trace(struct req *r);
/* r_licenses.c */
enum MHD_Result h_license_issue(struct req *r);
enum MHD_Result h_license_list(struct req *r);
enum MHD_Result h_license_show(struct req *r);
enum MHD_Result h_license_patch(struct req *r);
enum MHD_Result h_license_revoke(struct req *r);
enum MHD_Result h_license_suspend(struct req *r);
enum MHD_Result h_license_reinstate(struct req *r);
/* r_machines.c */
enum MHD_Result h_machine_list(struct req *r);
enum MHD_Result h_machine_delete(struct req *r);
/* r_audit.c */
enum MHD_Result h_audit_list(struct req *r);
/* r_tokens.c */
enum MHD_Result h_token_list(struct req *r);
enum MHD_Result h_token_create(struct req *r);
enum MHD_Result h_token_delete(struct req *r);
/* r_agent.c */
enum MHD_Result h_activate(struct req *r);
enum MHD_Result h_validate(struct req *r);
enum MHD_Result h_key(struct req *r);
enum MHD_Result h_heartbeat(struct req *r);
enum MHD_Result h_checkout(struct req *r);
/* console.c */
enum MHD_Result h_console_root(struct req *r);
enum MHD_Result h_console_index(struct req *r);
enum MHD_Result h_console_file(struct req *r);

#endif
