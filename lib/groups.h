/*
 * groups.h - the lockable units of a model.
 *
 * A group is the set of units one ranking pool draws from in one tensor (or
 * batch-norm layer): all entries of a tensor (element), its rows (neuron),
 * or the channels of a BN layer (channel).  Unit u of a group covers bytes
 * [u*stride, (u+1)*stride) of each member tensor: the weight row and its
 * sibling bias entry, or gamma and beta.  Groups are in file order of their
 * first member, which the tie-breaking rule relies on.
 */
#ifndef CL_GROUPS_H
#define CL_GROUPS_H

#include "model.h"

#define CL_MAX_MEMBERS 2

struct cl_member {
	uint32_t tensor; /* index into the model's tensors */
	uint64_t stride; /* bytes per unit */
};

struct cl_group {
	struct cl_member m[CL_MAX_MEMBERS];
	unsigned nm;
	uint64_t units;  /* all units */
	uint64_t finite; /* units with a finite score (set by the selection) */
	uint64_t count;  /* units selected */
	uint64_t unit_bytes; /* sum of member strides */
	double scale;        /* scores are multiplied by it: 1, or 1/RMS for global-norm */
};

int cl_groups_build(const struct cl_model *m, int unit, const char *include, const char *exclude,
		    struct cl_group **out, size_t *n);

/* Scores of units [u0, u0+n) of G into OUT (|w|, row l1 or |gamma|, times G's scale). */
void cl_group_scores(const struct cl_model *m, const struct cl_group *g, int unit, uint64_t u0,
		     size_t n, double *out);

/* Set each group's scale to 1 / RMS of its finite raw scores (1 when that is 0 or not finite). */
void cl_groups_normalize(const struct cl_model *m, struct cl_group *g, size_t n, int unit);

/* Name of the sibling bias for weight NAME into BUF; 0, or -1 if none. */
int cl_sibling_name(const char *name, char *buf, size_t len);

#endif
