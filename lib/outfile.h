/*
 * outfile.h - an output file that appears whole or not at all.
 *
 * Bytes go to a hidden temp file beside the destination, hashed with SHA-256
 * on the way.  commit() flushes, fsyncs, renames over the destination and
 * fsyncs the directory; abort() (or free before commit) unlinks the temp
 * file, so no reader ever sees a half-written output.
 */
#ifndef CL_OUTFILE_H
#define CL_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"

struct cl_out;

/* MODE is the file mode; CL_OUT_NOHASH in it skips hashing (the caller hashes). */
#define CL_OUT_NOHASH 0x10000u
int cl_out_open(const char *path, unsigned mode, struct cl_out **out);
/*
 * An output that never gets a name: a memfd (MFD_CLOEXEC | MFD_ALLOW_SEALING)
 * called NAME (for /proc and messages); of MODE only CL_OUT_NOHASH counts.
 * cl_out_release() hands it over.
 */
int cl_out_open_memfd(const char *name, unsigned mode, struct cl_out **out);
/* Flush, free O and return its descriptor (the caller owns it), or <0. */
int cl_out_release(struct cl_out *o);
int cl_out_write(struct cl_out *o, const void *p, size_t n);
/* Append LEN bytes of FD from OFF (mapped at SRC) with an in-kernel copy. */
int cl_out_copy(struct cl_out *o, const uint8_t *src, int fd, uint64_t off, uint64_t len);
/*
 * Map bytes [0, len) of the file written so far for in-place patching; NULL
 * when the output cannot be mapped (the caller then streams instead).
 * Unmap with cl_out_unmap before finishing.
 */
uint8_t *cl_out_map(struct cl_out *o, uint64_t len);
void cl_out_unmap(uint8_t *p, uint64_t len);
/* SHA-256 of everything written so far (the stream goes on). */
void cl_out_digest(struct cl_out *o, uint8_t out[CL_SHA256_LEN]);
uint64_t cl_out_size(const struct cl_out *o);
/* Flush and fsync, ready to rename. */
int cl_out_finish(struct cl_out *o);
/* Rename into place and free. */
int cl_out_commit(struct cl_out *o);
/* Unlink the temp file and free; NULL-safe. */
void cl_out_abort(struct cl_out *o);

/* The mode of a directory holding files of MODE: x wherever r is set (0600 -> 0700). */
unsigned cl_dir_mode(unsigned mode);
/*
 * Create directory PATH with exactly MODE (chmod after mkdir: the umask does
 * not apply): 1 created, 0 it already exists (left as it is), <0 error.
 */
int cl_mkdir_mode(const char *path, unsigned mode);

/* fsync the directory holding PATH, so a rename survives a crash. */
int cl_sync_dir_of(const char *path);

#endif
