/*
 * corelocker.h - public API of libcorelocker.
 *
 * libcorelocker reads and validates safetensors models, locks them by
 * extracting their most significant units into a key (.clkey), and restores
 * any tier of utility from that key.  It knows nothing of HTTP, SQL or the
 * terminal.
 *
 * Conventions: every function that can fail returns 0 or a negative CL_E*
 * code; cl_errmsg() then holds a one-line, human-readable reason for the
 * calling thread.  Outputs are set only on success.  Every *_free accepts
 * NULL.  Objects returned through an out-pointer belong to the caller.
 */
#ifndef CORELOCKER_H
#define CORELOCKER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#if defined(__GNUC__)
#define CL_API __attribute__((visibility("default")))
#else
#define CL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes.  Values are negative; errno values map to CL_ESYS. */
enum cl_err {
	CL_OK = 0,
	CL_ESYS = -1,       /* operating system error (see message) */
	CL_ENOMEM = -2,     /* out of memory */
	CL_EINVAL = -3,     /* invalid argument or option */
	CL_EFORMAT = -4,    /* malformed model file */
	CL_EKEY = -5,       /* malformed or corrupted key file */
	CL_EMISMATCH = -6,  /* key and model do not belong together */
	CL_EINTEGRITY = -7, /* a checksum did not verify */
	CL_ELIMIT = -8,     /* a size limit was exceeded */
	CL_ENOSPACE = -9,   /* disk full */
	CL_EUNSUPPORTED = -10,
	CL_ENOUNITS = -11, /* the lock would extract nothing: no eligible tensor, or a ratio too small */
};

CL_API const char *cl_strerror(int code);
/* The reason for the last failure of this thread ("" if none). */
CL_API const char *cl_errmsg(void);

enum cl_unit { CL_UNIT_ELEMENT, CL_UNIT_NEURON, CL_UNIT_CHANNEL };
/* global-norm ranks globally after dividing each tensor's scores by their RMS. */
enum cl_scope { CL_SCOPE_LAYER, CL_SCOPE_GLOBAL, CL_SCOPE_GLOBAL_NORM };
enum cl_select { CL_SELECT_TOP, CL_SELECT_RANDOM };
/* What a lock writes at the extracted units (lib/fill.c, docs/formats.md). */
enum cl_fill { CL_FILL_ZERO, CL_FILL_RESAMPLE, CL_FILL_FLIP };

CL_API const char *cl_unit_name(int unit);
CL_API const char *cl_scope_name(int scope);
CL_API int cl_unit_parse(const char *s);  /* -1 if unknown */
CL_API int cl_scope_parse(const char *s); /* -1 if unknown */
CL_API const char *cl_fill_name(int fill);
CL_API int cl_fill_parse(const char *s);  /* -1 if unknown */

/* Count of units extracted at ratio r out of n: floor(r * n + 0.5). */
CL_API uint64_t cl_count(double ratio, uint64_t n);

struct cl_lock_opts {
	double ratio;        /* alpha, in (0, 0.5] */
	int unit;            /* enum cl_unit */
	int scope;           /* enum cl_scope */
	int select;          /* enum cl_select */
	uint64_t seed;       /* for CL_SELECT_RANDOM */
	int fill;            /* enum cl_fill */
	const char *include; /* POSIX extended regex on tensor names, or NULL */
	const char *exclude; /* idem */
	/* Progress callback: done and total bytes of the current phase. */
	void (*progress)(void *arg, const char *phase, uint64_t done, uint64_t total);
	void *progress_arg;
};

struct cl_lock_stats {
	uint64_t model_bytes;  /* bytes of all input files */
	uint64_t key_bytes;    /* size of the written .clkey */
	uint64_t units_total;  /* eligible units with a finite score */
	uint64_t units_locked; /* units extracted */
	uint64_t tensors_touched;
};

/*
 * Lock MODEL (a .safetensors file, or a sharded *.index.json) into OUT (a
 * file, or a directory for a sharded model) and write the key to KEY.
 * Both outputs appear atomically or not at all.
 */
CL_API int cl_lock(const char *model, const char *out, const char *key,
		   const struct cl_lock_opts *opts, struct cl_lock_stats *stats);

/*
 * Restore tier BETA (0 = the original) of LOCKED with KEY into OUT.  Refuses
 * a key that belongs to another model.  A full restore is checked against
 * the original's SHA-256.
 */
CL_API int cl_unlock(const char *locked, const char *key, double beta,
		     const char *out, uint64_t *restored_units);

/* Describe a safetensors file, sharded index, .clkey or key volume as JSON (for inspect). */
CL_API int cl_describe(const char *path, json_t **out);
/*
 * Which file of KEY's family the model at PATH is: {"is": "locked", "tier",
 * "original" or "other", "beta", "units_restored" (and "reason" for other)}.
 */
CL_API int cl_identify(const char *path, const char *key, json_t **out);

/*
 * Applying a key volume to a model held in memory, for inference servers
 * that never want unlocked weights on disk (lib/apply.c).
 *
 * SHARDS[i] is the whole file of shard i, in the volume's shard order (a
 * single-file model has one; a sharded model's shards go in file-name order,
 * as listed by the volume and the index).  The volume is checked first:
 * structure, the Ed25519 signature with the server's key, the nonce (when
 * given), the license's expiry, each buffer's size and header length, and
 * the SHA-256 of each buffer, against the locked model (or BASE_SHA256 for
 * an upgrade volume, which builds on a tier).  The SHA-256 of the patched
 * result is computed before anything is written and, for the full tier,
 * must be the original's.  Only then are the bytes patched: on any failure
 * the buffers are untouched.  Codes: CL_EFORMAT (malformed volume),
 * CL_EINTEGRITY (signature, nonce, expiry or result digest), CL_EMISMATCH
 * (the buffers are not the model or tier the volume is for), CL_EINVAL.
 */
struct cl_membuf {
	uint8_t *data; /* the shard's whole safetensors file */
	size_t len;
};

struct cl_apply_opts {
	const char *pubkey_pem;   /* the server's key as GET /v1/pubkey gives it (PEM), or NULL */
	const uint8_t *pubkey;    /* or its raw 32 bytes */
	const char *nonce;        /* the volume must answer this nonce; NULL: not checked */
	const uint8_t (*base_sha256)[32]; /* upgrade volumes: each shard's SHA-256 as it is now */
	int64_t now;              /* seconds since the epoch for the expiry check; 0: time(NULL) */
};

struct cl_apply_info {
	int64_t model, license;
	char model_name[65], model_version[65], tier[65], from_tier[65]; /* from_tier "" unless an upgrade */
	double beta;
	uint64_t entries, bytes;   /* spans and bytes patched */
	int original_verified;     /* full tier, not fingerprinted: every shard now hashes to the original */
};

/* OUT_SHA256 (optional, NSHARDS entries) receives each shard's SHA-256 after patching. */
CL_API int cl_volume_apply(const void *volume, size_t volume_len, const struct cl_apply_opts *opts,
			   struct cl_membuf *shards, uint32_t nshards, struct cl_apply_info *info,
			   uint8_t (*out_sha256)[32]);

/* Parsers exposed for fuzzing: validate a buffer, 0 if it is well formed. */
CL_API int cl_fuzz_safetensors(const uint8_t *buf, size_t len);
CL_API int cl_fuzz_clkey(const uint8_t *buf, size_t len);
CL_API int cl_fuzz_volume(const uint8_t *buf, size_t len); /* a signed key volume */

#ifdef __cplusplus
}
#endif
#endif
