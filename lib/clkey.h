/*
 * clkey.h - the .clkey key bundle: the owner's secret, enough to cut any tier.
 *
 * Layout (docs/formats.md): magic "CLKEY\r\n\x1a", u32 version, u32 header
 * length, a JSON header, the records, and a SHA-256 of everything before it.
 * Records hold a unit index and the original bytes of that unit, group by
 * group, each group in rank order.  For scope global the model-wide ranking
 * is the merge of the groups by score, which is recomputed from the bytes.
 *
 * A parsed key borrows its record bytes from the buffer it was parsed from.
 */
#ifndef CL_CLKEY_H
#define CL_CLKEY_H

#include "digest.h"
#include "mapfile.h"
#include "outfile.h"
#include "safetensors.h"

#define CL_KEY_MAGIC "CLKEY\r\n\x1a"
/* 2: no group number in global records; 3: unit indexes as narrow as the group allows */
#define CL_KEY_VERSION 3
#define CL_KEY_VERSION_MIN 2 /* the oldest version still read (keys stored by corelockerd) */
#define CL_KEY_MAX_HEADER (64u << 20)
#define CL_KEY_PREFIX 16 /* magic, version, header length */

struct cl_key_shard {
	const char *file;
	uint64_t header_len, size;
	uint8_t locked[CL_SHA256_LEN], original[CL_SHA256_LEN];
};

struct cl_key_tensor {
	const char *name;
	int dtype;
	unsigned ndim;
	uint64_t shape[CL_MAX_NDIM];
	uint32_t shard;
	uint64_t begin, end;
	uint64_t file_off; /* 8 + shard header_len + begin */
};

struct cl_key_group {
	struct {
		uint32_t tensor;
		uint64_t stride;
	} m[2];
	unsigned nm;
	uint64_t units, finite, count, unit_bytes;
	unsigned index_bytes;    /* cl_key_index_bytes(version, units) */
	double scale;            /* score multiplier (global-norm), else 1 */
	const uint8_t *records;  /* this group's block of records */
};

struct cl_key {
	uint32_t version; /* CL_KEY_VERSION_MIN .. CL_KEY_VERSION */
	int unit, scope, select;
	int fill; /* enum cl_fill: header "fill", zero when absent */
	uint8_t fill_seed[CL_SHA256_LEN]; /* the seed of a computed fill (lib/fill.h) */
	double alpha;
	uint64_t seed;
	uint8_t locked[CL_SHA256_LEN], original[CL_SHA256_LEN];
	int sharded;
	struct cl_key_shard *shards;
	uint32_t nshards;
	struct cl_key_tensor *t;
	size_t nt;
	struct cl_key_group *g;
	size_t ng;
	uint64_t finite, count; /* over the whole model (global) or summed */
	const uint8_t *body;
	uint64_t body_len;
	json_t *header;
	struct cl_map map;
	uint64_t file_size;
};

int cl_key_parse(const uint8_t *buf, size_t len, struct cl_key **out);
int cl_key_load(const char *path, struct cl_key **out);
void cl_key_free(struct cl_key *k);

typedef int (*cl_key_restore_fn)(void *ctx, uint32_t group, uint64_t unit, const uint8_t *bytes);
/* Per group (K->ng entries), the leading units in rank order that tier BETA keeps locked. */
int cl_key_kept(const struct cl_key *k, double beta, uint64_t *kept);
/* Calls FN for every unit that tier BETA restores. */
int cl_key_foreach_restore(const struct cl_key *k, double beta, cl_key_restore_fn fn, void *ctx);

/* Writing: the prefix and header, then records, then the trailer. */
int cl_key_write_header(struct cl_out *o, json_t *header);
int cl_key_write_record(struct cl_out *o, unsigned index_bytes, uint64_t unit);
int cl_key_write_trailer(struct cl_out *o);
/* Bytes of one unit index in a group of UNITS (>= 1) units, in a key of VERSION. */
unsigned cl_key_index_bytes(uint32_t version, uint64_t units);

#endif
