/*
 * volume.h - the key volume: what one agent receives for one tier, or for an
 * upgrade between two tiers (docs/formats.md, "Key volume").
 *
 * Layout: magic "CLVOL\r\n\x1a", u32 version, u32 header length, a JSON
 * header, the entries sorted by (shard, file offset), and a 64-byte Ed25519
 * signature: in versions 2 and 3 over "corelocker-volume-v2" NUL and the
 * SHA-256 of every byte before it (one fast hash pass instead of Ed25519's
 * two SHA-512 passes over the whole volume); in version 1, still read, over
 * those bytes.  A version 1 or 2 entry is u32 shard, u64 file offset, u32
 * length, then that many original bytes; a version 3 entry is LEB128 shard
 * delta, LEB128 gap (from the end of the previous entry in the same shard,
 * else from offset 0), LEB128 length, the bytes: 3 or 4 bytes of head for a
 * BF16 element instead of 16.  Version 3 is written only to agents that ask
 * for it (cl_volume_accept), version 2 otherwise.
 *
 * A parsed volume borrows its strings from its JSON header and its entries
 * from the buffer it was parsed from: it holds no table of them (24 bytes an
 * entry would be four times a BF16 element's 6 bytes in version 3), only
 * where each shard's entries start; cl_volume_iter_*() and cl_volume_next()
 * read them in order, straight from the buffer.  cl_volume_free() releases
 * the header and the shard table, never the buffer.
 */
#ifndef CL_VOLUME_H
#define CL_VOLUME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "sign.h"

#define CL_VOLUME_MAGIC "CLVOL\r\n\x1a"
#define CL_VOLUME_VERSION 3 /* the newest; 2 is written too, 1 only read */
#define CL_VOLUME_VERSION_DEFAULT 2 /* for a request that names no version */
#define CL_VOLUME_MEDIA "application/vnd.corelocker.volume"
#define CL_VOLUME_PREFIX 16
#define CL_VOLUME_MAX_HEADER (16u << 20)
#define CL_VOLUME_ENTRY_HEAD 16 /* versions 1 and 2: shard, offset, length */
#define CL_VOLUME_HEAD_MAX 30    /* version 3: three LEB128 integers of at most 10 bytes */
#define CL_VOLUME_ENTRY_MIN3 4   /* version 3: three 1-byte integers and one byte */
/* Versions 2 and 3 sign this context (with its NUL) followed by the SHA-256. */
#define CL_VOLUME_SIGN_CONTEXT "corelocker-volume-v2"
#define CL_VOLUME_SIGNED_LEN (sizeof(CL_VOLUME_SIGN_CONTEXT) + CL_SHA256_LEN)

struct cl_volume_entry {
	uint32_t shard;
	uint64_t off;
	uint32_t len;
	const uint8_t *bytes;
};

struct cl_volume_shard {
	const char *file;
	uint64_t header_len, size;
	uint8_t locked[CL_SHA256_LEN];
	size_t n;          /* its entries */
	const uint8_t *at; /* the first one's head, when n > 0 */
};

struct cl_volume {
	json_t *header;
	int64_t model, license;
	const char *model_name, *model_version, *tier, *nonce, *ts;
	int upgrade;            /* the header has from_beta: entries build on a file at from_beta */
	const char *from_tier;  /* the tier an upgrade named, or NULL (never set without upgrade) */
	const char *expires_at; /* NULL when the license never expires */
	double alpha, beta, from_beta; /* from_beta: alpha unless an upgrade */
	int unit, scope;
	uint8_t locked[CL_SHA256_LEN];
	uint8_t original[CL_SHA256_LEN];
	int has_original; /* only for the full tier (beta 0) */
	int fingerprint;  /* the values are a license's marked copy (docs/trace.md) */
	int exact;        /* the result must be the original: the full tier, unmarked */
	struct cl_volume_shard *shards;
	uint32_t nshards;
	const uint8_t *entries; /* the first entry's head */
	size_t n;
	uint64_t bytes; /* sum of entry lengths */
	const uint8_t *signed_data; /* every byte before the signature */
	size_t signed_len;
	const uint8_t *sig;
	unsigned version; /* 1: signed bytes; 2: signed digest; 3: and compact entries */
};

/* Where a reader of a parsed volume's entries is (cl_volume_iter_shard, cl_volume_iter_all). */
struct cl_volume_iter {
	const uint8_t *p;
	size_t left; /* entries still to read */
	unsigned version;
	uint32_t shard;
	uint64_t end; /* the end of the entry read last, in its shard */
	int fresh;    /* the next entry is the first of SHARD: no delta, no base */
};

/* Read shard S's entries of V, or all of them, in order; V and its buffer must outlive IT. */
void cl_volume_iter_shard(const struct cl_volume *v, uint32_t s, struct cl_volume_iter *it);
void cl_volume_iter_all(const struct cl_volume *v, struct cl_volume_iter *it);
/* Shard S's first N entries from AT, its first entry's head (a volume still arriving: volread.h). */
void cl_volume_iter_at(const struct cl_volume *v, uint32_t s, const uint8_t *at, size_t n, struct cl_volume_iter *it);
/* The next entry in *E (its bytes point into the volume): 1, or 0 after the last. */
int cl_volume_next(struct cl_volume_iter *it, struct cl_volume_entry *e);
/* Every entry of V in one malloc'd table (tests and tools that rebuild a volume). */
int cl_volume_entries(const struct cl_volume *v, struct cl_volume_entry **out);

/* Whether E may follow PREV in a volume: sorted by (shard, off), no overlap. */
static inline int cl_volume_entry_follows(const struct cl_volume_entry *prev, const struct cl_volume_entry *e)
{
	return e->shard > prev->shard || (e->shard == prev->shard && e->off >= prev->off + prev->len);
}

/* E sorted by (shard, off) without overlap: 0 and the sum of lengths in *BYTES. */
int cl_volume_entries_check(const struct cl_volume_entry *e, size_t n, uint64_t *bytes);

/*
 * The head of entry E in VERSION (2 or 3) at OUT: its length.  PREV is the
 * entry before E, or NULL for the first (version 3 encodes E against it).
 */
size_t cl_volume_head(unsigned version, const struct cl_volume_entry *prev, const struct cl_volume_entry *e,
		      uint8_t out[CL_VOLUME_HEAD_MAX]);

/* The version (2 or 3) to write for an HTTP Accept header (NULL: none); docs/api.md. */
unsigned cl_volume_accept(const char *accept);

/*
 * Build a signed volume of VERSION (2 or 3).  HEADER (borrowed) gets
 * "entries" and "bytes" set; E must be sorted by (shard, off) without
 * overlap.  *OUT is malloc'd.
 */
int cl_volume_build(json_t *header, const struct cl_volume_entry *e, size_t n, unsigned version,
		    const struct cl_signkey *sk, uint8_t **out, size_t *outlen);

/*
 * The steps of cl_volume_parse, for the streaming reader (volread.h).  The
 * CL_VOLUME_PREFIX bytes at BUF: magic, version and header length checked.
 * Then the HLEN-byte JSON header after them parsed into V (V->version set)
 * and V filled from it.  Then entry I at C after PREV (NULL for the first),
 * every check of a parse (bounds, order, length), counted in its shard;
 * CL_EFORMAT also when C ends inside it.
 */
struct cl_cursor;
int cl_volume_prefix(const uint8_t *buf, unsigned *version, size_t *hlen);
int cl_volume_parse_header(struct cl_volume *v, const uint8_t *buf, size_t hlen);
int cl_volume_parse_entry(struct cl_volume *v, struct cl_cursor *c, const struct cl_volume_entry *prev,
			  struct cl_volume_entry *e, size_t i);

/* Parse and fully validate (structure only; see cl_volume_verify). */
int cl_volume_parse(const uint8_t *buf, size_t len, struct cl_volume **out);
/* Check the Ed25519 signature against PUB: 0 or CL_EINTEGRITY. */
/*
 * Check the magic, the version and the signature of a raw volume before
 * parsing it: CL_EFORMAT, CL_EUNSUPPORTED or CL_EINTEGRITY.
 */
int cl_volume_authenticate(const uint8_t *buf, size_t len, const uint8_t pub[CL_PUB_LEN]);
int cl_volume_verify(const struct cl_volume *v, const uint8_t pub[CL_PUB_LEN]);
void cl_volume_free(struct cl_volume *v);

/* An RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ) as seconds since the epoch, or -1. */
int64_t cl_time_parse(const char *s);

#endif
