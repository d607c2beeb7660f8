/*
 * agent.h - corelocker-agent: the settings of one run, the exit-status
 * table, and the modules (session.c: the server; volfile.c: key volumes;
 * state.c: the state file; inplace.c: the undo journal; unlock.c: the flow).
 *
 * Failures: a function returns 0 or a negative code and cl_errmsg() holds
 * one line.  A code made with ax_fail() carries the exit status itself;
 * ax_exit() turns any code (library, HTTP or agent) into the exit status.
 */
#ifndef CL_AGENT_H
#define CL_AGENT_H

#include <stdint.h>

#include "conf.h"
#include "digest.h"
#include "http.h"
#include "sign.h"
#include "volume.h"

/* Exit statuses; ax_table (agent.c) names and documents them. */
enum ax {
	AX_OK = 0,
	AX_OTHER = 1,
	AX_USAGE = 2,
	AX_UNREACHABLE = 3,
	AX_TLS = 4,
	AX_SIGNATURE = 5,
	AX_REVOKED = 6,
	AX_EXPIRED = 7,
	AX_SUSPENDED = 8,
	AX_MACHINES = 9,
	AX_NOT_FOUND = 10,
	AX_BASE = 11,
	AX_DISK = 12,
	AX_VOLUME = 13,
	AX_NOT_ACTIVATED = 14,
	AX_REFUSED = 15,
};

struct ax_row {
	int status;
	const char *name;
	const char *meaning;
};
extern const struct ax_row ax_table[];
extern const unsigned ax_count;

#define AXF(x) (-(100 + (x)))
int ax_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ax_exit(int code);

struct agent {
	struct clc conf;
	const char *server, *license, *cacert;
	char fingerprint[129];
	uint8_t pub[CL_PUB_LEN];
	int have_pub, tofu, quiet;
	struct clh *h;
};

/* ---- session.c: talking to corelockerd ---- */
/* Open the connection; load the pinned key, or fetch it when trusting on first use. */
int ag_connect(struct agent *a);
int ag_activate(struct agent *a);
/* Validate with a fresh nonce and check the signed answer; CODE and TIER out. */
int ag_validate(struct agent *a, char code[32], char tier[65], int64_t *model);
/* AX_* status for a validation code (AX_OK for VALID). */
int ag_code_status(const char *code);
/*
 * POST /v1/key with a fresh nonce (written to NONCE) into FD.  A 400 for
 * FROM_TIER returns AXF(AX_REFUSED) with *from_refused set.
 */
int ag_fetch_key(struct agent *a, const char *from_tier, int fd, uint64_t max, char nonce[33],
		 uint64_t *bytes, int *from_refused);
/* 32 random bytes' worth of hex (16 bytes). */
int ag_nonce(char out[33]);

/* ---- volfile.c: a key volume in a file ---- */
struct ag_vol {
	int fd;
	const uint8_t *data;
	uint64_t size;
	struct cl_volume *v;
};
/*
 * Map FD (the volume bytes; always taken over), check its signature with PUB
 * over the raw bytes (AXF(AX_SIGNATURE)), then parse it (AXF(AX_VOLUME)).
 */
int ag_vol_open(int fd, const uint8_t pub[CL_PUB_LEN], struct ag_vol *out);
void ag_vol_close(struct ag_vol *vol);
/* NONCE (if non-NULL) and expiry. */
int ag_vol_check(const struct ag_vol *vol, const char *nonce);
/* A temp file for a download in the directory of PATH (unlinked at once). */
int ag_tmpfile_near(const char *path);
/* Seconds since the epoch of an RFC 3339 UTC time, or -1. */

/* ---- state.c: PATH.clstate, what the agent last made of PATH ---- */
/* Write DEST whole or not at all (temp file, fsync, rename), mode 0644. */
int ag_write_atomic(const char *dest, const char *text, size_t len);
struct ag_state {
	int64_t model, license;
	char model_name[65], model_version[65], tier[65];
	double beta;
	uint8_t locked[CL_SHA256_LEN], sha[CL_SHA256_LEN];
};
/* 1 and *S when the state file exists and parses, 0 when absent, <0 on error. */
int ag_state_load(const char *path, struct ag_state *s);
/* Write it atomically (temp file, fsync, rename). */
int ag_state_save(const char *path, const struct ag_state *s);
/* The state file's text (malloc'd) or NULL with *len 0 when absent. */
int ag_state_read_raw(const char *path, char **text, size_t *len);
/* Put back raw text (NULL: remove the state file). */
int ag_state_restore_raw(const char *path, const char *text, size_t len);
char *ag_state_path(const char *path);

/* ---- inplace.c: patching a file in place under an undo journal ---- */
/* Roll back PATH's journal if there is one: 1 rolled back, 0 none, <0 error. */
int ag_journal_recover(const char *path, int quiet);
/*
 * Patch PATH in place with V's entries: BASE must already be verified.
 * The journal holds the old bytes and the old state file text.
 */
int ag_patch_in_place(const char *path, const struct cl_volume *v, const struct ag_state *newstate);

/*
 * CORELOCKER_TEST_PAUSE_AFTER_SPANS=N (tests only): the patch stops after N
 * spans (in place: after writing them) and waits to be killed.
 */
uint64_t ag_pause_after(void);
void ag_test_pause(uint64_t spans) __attribute__((noreturn));

/* ---- unlock.c ---- */
struct unlock_args {
	const char *locked, *out, *volume_file, *nonce;
	int in_place;
};
int ag_unlock(struct agent *a, const struct unlock_args *u);

#endif
