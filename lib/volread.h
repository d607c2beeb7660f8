/*
 * volread.h - a key volume read as it arrives, for patching while it
 * downloads (corelocker-agent unlock, docs/man/corelocker-agent.1).
 *
 * The bytes land in one buffer that only grows, at the same address (the
 * agent maps its download file).  Each feed checks what is new exactly as
 * cl_volume_parse() does (the header as soon as it is whole, then entry
 * after entry: bounds, order, lengths) and hashes it into the SHA-256 a
 * version 2 or 3 signature covers.  Entries arrive sorted by shard, so
 * shard s is whole, and safe to iterate with cl_volume_iter_shard(), once
 * an entry of a later shard (or the last entry) arrived: `ready` counts the
 * shards before that point.  The body ends with the 64-byte signature right
 * after the header's number of entries, and nothing else.
 *
 * Nothing read is trusted until cl_volread_verify() passed: a caller may
 * only start work whose result it can throw away.
 */
#ifndef CL_VOLREAD_H
#define CL_VOLREAD_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "sign.h"
#include "volume.h"

struct cl_volread {
	struct cl_volume *v; /* NULL until the header arrived; then filled as cl_volume_parse fills it */
	uint32_t ready;	     /* shards [0, ready) have all their entries, checked */
	int done;	     /* every entry and the signature arrived */
	/* private */
	const uint8_t *buf;
	size_t pos;  /* bytes read, checked and hashed */
	size_t next; /* the current entry's end, once its head arrived (0: unknown) */
	size_t i;    /* entries read */
	uint64_t sum, bytes;
	struct cl_volume_entry prev;
	struct cl_sha *sha;
	uint8_t digest[CL_SHA256_LEN];
	int err;
};

void cl_volread_init(struct cl_volread *r);
/*
 * BUF now holds the first LEN bytes of the volume (the same BUF every call,
 * LEN never smaller): 0, or the CL_E* code of the first bad byte, for good.
 */
int cl_volread_feed(struct cl_volread *r, const uint8_t *buf, size_t len);
/* The body ended at the last LEN fed: 0 if the volume is whole, else CL_EFORMAT. */
int cl_volread_end(struct cl_volread *r);
/* The signature of a whole volume against PUB: 0 or CL_EINTEGRITY. */
int cl_volread_verify(const struct cl_volread *r, const uint8_t pub[CL_PUB_LEN]);
/* Free everything, the volume too unless TAKE (then the caller frees it with cl_volume_free). */
void cl_volread_free(struct cl_volread *r, int take);

#endif
