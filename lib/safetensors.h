/*
 * safetensors.h - parsing and full validation of one safetensors file.
 *
 * The file is 8 bytes of little-endian header length N, N bytes of UTF-8
 * JSON, then the data section.  Tensors come back sorted by data offset;
 * their names and the metadata object are owned by the cl_st.
 */
#ifndef CL_SAFETENSORS_H
#define CL_SAFETENSORS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CL_MAX_NDIM 16
#define CL_MAX_HEADER (100u << 20) /* the reference implementation's bound */

struct cl_tensor {
	const char *name;     /* owned by the cl_st's JSON */
	int dtype;            /* index into the dtype table */
	unsigned ndim;
	uint64_t shape[CL_MAX_NDIM];
	uint64_t begin, end;  /* data_offsets, relative to the data section */
	uint64_t nelem;
	uint32_t shard;       /* which file of a sharded model */
	uint64_t file_off;    /* absolute offset of byte 0 in its file */
	const uint8_t *data;  /* into the file's mapping */
};

struct cl_st {
	uint64_t header_len;
	json_t *header;        /* the parsed header (names point into it) */
	json_t *metadata;      /* borrowed from header, or NULL */
	struct cl_tensor *t;   /* sorted by (begin, end) */
	size_t n;
};

/* Parse and validate BUF (SIZE bytes, a whole file). */
int cl_st_parse(const uint8_t *buf, uint64_t size, uint32_t shard, struct cl_st *out);
void cl_st_free(struct cl_st *st);

#endif
