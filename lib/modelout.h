/*
 * modelout.h - the output side of a model: one file, or a directory that
 * receives the index (byte-identical) and every shard under its own name.
 * All files are written as temp files and renamed only after all of them
 * were written and fsynced.
 *
 * Modes: a locked model is public (files 0644, a new directory 0755); an
 * unlocked one is the secret a license protects (cl_model_out_open_mode
 * with 0600: a new directory gets 0700).  The mode is set with fchmod, so
 * the umask neither widens nor narrows it.
 */
#ifndef CL_MODELOUT_H
#define CL_MODELOUT_H

#include "model.h"
#include "outfile.h"

struct cl_model_out {
	struct cl_out **shard;
	uint32_t n;
	struct cl_out *index;
	char *made_dir; /* the output directory, when we created it */
};

int cl_model_out_open(const struct cl_model *m, const char *out, struct cl_model_out *mo);
/* The same with file mode MODE (0 to 0777); a directory we create gets cl_dir_mode(MODE). */
int cl_model_out_open_mode(const struct cl_model *m, const char *out, unsigned mode, struct cl_model_out *mo);
int cl_model_out_commit(struct cl_model_out *mo);
void cl_model_out_abort(struct cl_model_out *mo);
/* Refuse to write OUT when it is one of the model's own files. */
int cl_check_not_input(const struct cl_model *m, const char *out);

#endif
