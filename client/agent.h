/*
 * agent.h - corelocker-agent: the settings of one run, the exit-status
 * table, and the modules (session.c: the server; volfile.c: key volumes;
 * overlap.c: patching while a volume downloads; state.c: the state file;
 * inplace.c: the undo journal; jkey.c: the key that authenticates
 * journals; unlock.c: the flow).
 *
 * Failures: a function returns 0 or a negative code and cl_errmsg() holds
 * one line.  A code made with ax_fail() carries the exit status itself;
 * ax_exit() turns any code (library, HTTP or agent) into the exit status.
 */
#ifndef CL_AGENT_H
#define CL_AGENT_H

#include <pthread.h>
#include <stdint.h>

#include "conf.h"
#include "digest.h"
#include "http.h"
#include "sign.h"
#include "threads.h"
#include "volread.h"
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
	AX_LEASE = 16,
};

struct ax_row {
	int status;
	const char *name;
	const char *meaning;
};
extern const struct ax_row ax_table[];
extern const unsigned ax_count;

#define AXF(x) (-(100 + (x)))
#define AX_LAST AX_LEASE
int ax_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ax_exit(int code);

struct agent {
	struct clc conf;
	const char *server, *license, *cacert;
	char fingerprint[129];
	uint8_t pub[CL_PUB_LEN];
	int have_pub, tofu, quiet;
	struct clh *h;
	int exit_status; /* run: CMD's status, or the license's that stopped it */
};

/* ---- session.c: talking to corelockerd ---- */
/* Open the connection; load the pinned key, or fetch it when trusting on first use. */
int ag_connect(struct agent *a);
int ag_activate(struct agent *a);
/* A signed answer of validate or heartbeat, its nonce checked. */
struct ag_answer {
	char code[32], tier[65];
	int64_t model;
	double beta;	       /* NAN when absent */
	int64_t lease_expires; /* seconds since the epoch; -1: the license has no lease */
	int64_t ts;	       /* the server's time of the answer; -1 if absent */
	uint8_t locked[CL_SHA256_LEN]; /* validate: the licensed model's locked fingerprint */
	int has_locked;		       /* 0: an older server that does not send it */
};
/* POST /v1/validate (HEARTBEAT 0) or /v1/heartbeat (1: renews the lease). */
int ag_check(struct agent *a, int heartbeat, struct ag_answer *out);
/*
 * POST /v1/checkout for TTL seconds into FD (a fresh nonce in NONCE): an
 * offline volume, exactly like /v1/key's.
 */
int ag_checkout(struct agent *a, int64_t ttl, int fd, uint64_t max, char nonce[33], uint64_t *bytes);
/* AX_* status for a validation code (AX_OK for VALID), and what it means in words. */
int ag_code_status(const char *code);
const char *ag_code_text(const char *code);
/*
 * POST /v1/key with a fresh nonce (written to NONCE) into FD, shown to SINK
 * (or NULL) as it arrives; FROM_BETA (or NULL) is the ratio the file to
 * upgrade holds.  A 400 for it returns AXF(AX_REFUSED) with *from_refused set.
 */
int ag_fetch_key(struct agent *a, const double *from_beta, int fd, uint64_t max, const struct clh_sink *sink,
		 char nonce[33], uint64_t *bytes, int *from_refused);
/* 32 random bytes' worth of hex (16 bytes). */
int ag_nonce(char out[33]);

/* ---- volfile.c: a key volume in a file ---- */
struct ag_vol {
	int fd;
	const uint8_t *data;
	uint64_t size;
	uint64_t maplen; /* of the mapping at DATA, when not SIZE (a streamed download's) */
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
/*
 * A volume file: its issue time "ts" must lie within MAX_AGE seconds before
 * now (0: any age) and at most AG_TS_SKEW seconds after it.
 */
#define AG_MAX_AGE_DEFAULT (7 * 86400)
#define AG_TS_SKEW 300
int ag_vol_check_age(const struct ag_vol *vol, int64_t max_age);
/* An age: N, Ns, Nm, Nh or Nd (seconds, minutes, hours, days); "0" or "none" is 0. */
int ag_parse_age(const char *s, int64_t *out);
/* A temp file for a download in the directory of PATH (unlinked at once). */
int ag_tmpfile_near(const char *path);
/* Seconds since the epoch of an RFC 3339 UTC time, or -1. */

/* ---- overlap.c: patching while the key volume downloads ---- */
/*
 * The download goes to FD as before; the stream maps FD and reads what
 * arrived with a cl_volread (lib/volread.h).  Once the header is whole,
 * START(ARG, V) says whether to go on (0: V's header passed the caller's
 * checks and its outputs are open); then TASK(ARG, i) runs for every shard
 * i on workers (cl_queue, one per core) while the rest downloads, reading
 * shard i's entries with ag_stream_entry(), which waits for each to arrive.
 * Any bad byte, a failover that restarts the answer, or a START that says
 * no, and the stream stops: the passes end at once, and the caller does
 * everything as before, from the file.
 */
struct ag_stream {
	int (*start)(void *arg, const struct cl_volume *v);
	cl_task_fn task;
	void *arg;
	int state; /* -1: off; 0: waiting for the header; 1: passes running */
	/* private */
	const uint8_t *map;
	uint64_t cap, len;
	struct cl_volread r;
	struct cl_queue *q;
	/* what the passes may read, under MU: the reader's progress as of the last piece */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int sync, abort;
	uint32_t ready, cur; /* shards [0, ready) whole; CUR is being read, */
	size_t cur_n;	     /* with this many entries checked, */
	const uint8_t *cur_at; /* the first one here */
	uint64_t at_len;       /* bytes arrived then */
};
/* Map FD (up to MAX bytes) and arm S; when it cannot, S stays off (no error: the old order). */
void ag_stream_open(struct ag_stream *s, int fd, uint64_t max);
/* The sink to give the download (inert while S is off). */
struct clh_sink ag_stream_sink(struct ag_stream *s);
/*
 * For a pass over shard I that has read K of its entries with IT: wait until
 * entry K arrived and checked (1: IT reads on, up to every entry checked so
 * far), or the shard has only K (0: its end), or S stopped (-1: end the pass,
 * its output will not count).
 */
int ag_stream_entry(struct ag_stream *s, uint32_t i, size_t k, struct cl_volume_iter *it);
/*
 * After the download: 0 when the whole volume arrived, its signature
 * verifies with PUB and every pass succeeded (VOL then holds the volume and
 * FD); the failure of the lowest failing pass, with its reason, when the
 * signature verified but a pass failed; 1 when S is off or the volume is not
 * whole or not signed: nothing it ran counts, read FD the old way.
 */
int ag_stream_finish(struct ag_stream *s, int fd, const uint8_t pub[CL_PUB_LEN], struct ag_vol *vol);
/* Stop any pass (ending them, waiting for them) and unmap; S's outputs are the caller's. */
void ag_stream_close(struct ag_stream *s);

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

/* ---- jkey.c: the user's journal key ---- */
#define AG_JKEY_LEN 32
/* Load the key into KEY; CREATE makes it (mode 0600) when there is none. */
int ag_journal_key(uint8_t key[AG_JKEY_LEN], int create);
/* Where it lives (malloc'd), for messages. */
char *ag_journal_key_path(void);

/* ---- inplace.c: patching a file in place under an undo journal ---- */
/*
 * Roll back PATH's journal if there is one (PATH: a file, or a sharded
 * model's index): 1 rolled back, 0 none, <0 error (a journal that is not
 * the user's, fails its MAC, names another file, or a file that is a
 * symbolic link: refused, every file left alone).
 */
int ag_journal_recover(const char *path, int quiet);
/*
 * Patch model M (a file, or every shard of a sharded model) in place with
 * V's entries: M's bytes must already be verified.  The journal, beside
 * M's path, holds the old bytes and the old state file text.  Every file's
 * mode becomes the stricter of its own and MODE.
 */
struct cl_model;
int ag_patch_in_place(const struct cl_model *m, const struct cl_volume *v, const struct ag_state *newstate,
		      unsigned mode);

/*
 * CORELOCKER_TEST_PAUSE_AFTER_SPANS=N (tests only): the patch stops after N
 * spans (in place: after writing them) and waits to be killed.
 */
uint64_t ag_pause_after(void);
void ag_test_pause(uint64_t spans) __attribute__((noreturn));

/* ---- unlock.c ---- */
#define AG_MODE_DEFAULT 0600 /* an unlocked model is the secret the license protects */
struct unlock_args {
	const char *locked, *out, *volume_file, *nonce;
	int in_place;
	unsigned mode; /* of the output's files; a directory we create gets cl_dir_mode(mode) */
	int64_t max_age; /* --volume-file: seconds; 0 = no limit */
};
int ag_unlock(struct agent *a, const struct unlock_args *u);

/*
 * ag_unlock_memory: the same fetch and checks as unlock, but every unlocked
 * byte goes to memfds (MFD_CLOEXEC | MFD_ALLOW_SEALING, not sealed yet), and
 * the key volume too: nothing touches a named file.
 */
struct ag_memmodel {
	int *fds; /* one per shard, in the model's shard order */
	char **names; /* the shards' names (the index's spelling) */
	uint32_t n;
	int sharded;
	char *index_name; /* sharded: the index's file name */
	json_t *index;	  /* sharded: the locked model's index JSON */
	char tier[65], model_name[65];
	double beta;
	char code[32]; /* the validation that preceded the fetch */
	int64_t lease_expires, ts;
};
int ag_unlock_memory(struct agent *a, const char *locked, struct ag_memmodel *out);
void ag_memmodel_free(struct ag_memmodel *mm);

/* ---- run.c: corelocker-agent run ---- */
struct run_args {
	const char *locked;
	char **cmd;	/* NULL-terminated */
	int64_t every;	/* seconds between checks; 0: lease / 3, or 60 without a lease */
	int64_t grace;	/* seconds between SIGTERM and SIGKILL */
};
int ag_run(struct agent *a, const struct run_args *r);
/* Heartbeat once, or every EVERY seconds until the answer is not VALID. */
int ag_heartbeat(struct agent *a, int64_t every);

#endif
