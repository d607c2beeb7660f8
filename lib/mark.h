/*
 * mark.h - leak-tracing marks (docs/trace.md, DESIGN §6 "Fingerprints"):
 * a license's own perturbation of the values a fingerprinted tier restores,
 * and the score that finds it again in a suspect model.
 *
 * Each restored element w is delivered as w * (1 + delta * c), rounded to
 * its dtype but at least one step of the dtype away from w (zero,
 * infinities and NaN stay), where delta is cl_mark_delta() of the tier and
 * c is +1 or -1: bit (index mod 256) of
 * HMAC-SHA256(secret, "corelocker-mark-v1" NUL, le64 license, tensor name
 * NUL, le64 index / 256).  Nothing is stored per license: whoever holds the
 * secret recomputes every code.
 *
 * The score of a suspect against one license is the normalised correlation
 * z = sum(c a) / sqrt(sum(a^2)) of the code with a = (s - w') / (CL_MARK_DELTA |w|),
 * clipped to [-CL_MARK_CLIP, CL_MARK_CLIP], where w' is the original w
 * rounded to the suspect's dtype, over the key's elements whose suspect
 * value s lies within half of |w| of w.  For a license
 * whose code is independent of the suspect, Hoeffding's inequality bounds
 * P(z >= t) by exp(-t^2 / 2) whatever a is.
 */
#ifndef CL_MARK_H
#define CL_MARK_H

#include <stddef.h>
#include <stdint.h>

#include "clkey.h"
#include "model.h"
#include "volume.h"

/*
 * Relative amplitudes, chosen by measurement (docs/trace.md): 1 % moves no
 * reference model's full tier by more than 0.1 point, but a partial tier
 * sits on the steep part of the utility curve, where 0.25 % does.
 */
#define CL_MARK_DELTA 0.01
#define CL_MARK_DELTA_PARTIAL 0.0025
#define CL_MARK_CLIP 3.0
#define CL_MARK_SECRET_LEN 32
#define CL_MARK_FP_MAX 1e-6 /* the largest false-positive probability that names a license */

/* The codes of one license, one HMAC block cached. */
struct cl_mark_code {
	const uint8_t *secret; /* CL_MARK_SECRET_LEN bytes, borrowed */
	int64_t license;
	const char *tensor; /* of the cached block, or NULL */
	uint64_t block;
	uint8_t bits[32];
};

/* The code (+1 or -1) of element INDEX of TENSOR; 0 when HMAC fails (cl_errmsg()). */
int cl_mark_code(struct cl_mark_code *g, const char *tensor, uint64_t index);

/* The amplitude of the marks of a tier at ratio BETA. */
double cl_mark_delta(double beta);

/*
 * Copy the N volume entries IN (sorted, of key K's tensors) of a tier at
 * ratio BETA to OUT with their bytes in BYTES (the sum of their lengths),
 * every element moved by LICENSE's code: 0 or a CL_E* code.
 */
int cl_mark_entries(const struct cl_key *k, const uint8_t *secret, int64_t license, double beta,
		    const struct cl_volume_entry *in, size_t n, struct cl_volume_entry *out, uint8_t *bytes);

/* What a suspect gives for one license. */
struct cl_mark_score {
	double sca, saa; /* sum of c * a and of a^2 */
	uint64_t used;	 /* elements that count */
};

/*
 * Score SUSPECT against each of the N LICENSES (their codes under SECRET)
 * over every element of key K: SCORES[i] for LICENSES[i].  SUSPECT must have
 * K's tensors by name and shape, in any float dtype and any order: 0, or
 * CL_EMISMATCH when it has not.
 */
int cl_mark_trace(const struct cl_key *k, const struct cl_model *suspect, const uint8_t *secret,
		  const int64_t *licenses, size_t n, struct cl_mark_score *scores);
/* The score z of S (0 when nothing counted). */
double cl_mark_z(const struct cl_mark_score *s);
/* The false-positive probability of a best score Z among N licenses (Hoeffding and a union bound). */
double cl_mark_fp(double z, size_t n);

#endif
