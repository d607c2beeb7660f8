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
};

CL_API const char *cl_strerror(int code);
/* The reason for the last failure of this thread ("" if none). */
CL_API const char *cl_errmsg(void);

enum cl_unit { CL_UNIT_ELEMENT, CL_UNIT_NEURON, CL_UNIT_CHANNEL };
enum cl_scope { CL_SCOPE_LAYER, CL_SCOPE_GLOBAL };
enum cl_select { CL_SELECT_TOP, CL_SELECT_RANDOM };

CL_API const char *cl_unit_name(int unit);
CL_API const char *cl_scope_name(int scope);
CL_API int cl_unit_parse(const char *s);  /* -1 if unknown */
CL_API int cl_scope_parse(const char *s); /* -1 if unknown */

/* Count of units extracted at ratio r out of n: floor(r * n + 0.5). */
CL_API uint64_t cl_count(double ratio, uint64_t n);

struct cl_lock_opts {
	double ratio;        /* alpha, in (0, 0.5] */
	int unit;            /* enum cl_unit */
	int scope;           /* enum cl_scope */
	int select;          /* enum cl_select */
	uint64_t seed;       /* for CL_SELECT_RANDOM */
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

/* Describe a safetensors file, sharded index or .clkey as JSON (for inspect). */
CL_API int cl_describe(const char *path, json_t **out);

/* Parsers exposed for fuzzing: validate a buffer, 0 if it is well formed. */
CL_API int cl_fuzz_safetensors(const uint8_t *buf, size_t len);
CL_API int cl_fuzz_clkey(const uint8_t *buf, size_t len);
CL_API int cl_fuzz_volume(const uint8_t *buf, size_t len); /* a signed key volume */

#ifdef __cplusplus
}
#endif
#endif
