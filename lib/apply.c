/*
 * apply.c - cl_volume_apply: patch a model held in memory with a signed key
 * volume.  Everything is checked, and the result's digest computed, before
 * the first byte changes: a failure leaves the buffers as they were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cursor.h"
#include "error.h"
#include "volume.h"

#define CHUNK (4u << 20)

/*
 * One pass over shard I: the SHA-256 of its bytes as they are (BASE) and as
 * they will be once patched (AFTER), chunk by chunk through SCRATCH.
 */
static int digests(const struct cl_membuf *b, const struct cl_volume *v, uint32_t i, uint8_t *scratch,
		   uint8_t base[CL_SHA256_LEN], uint8_t after[CL_SHA256_LEN])
{
	struct cl_sha *sb = NULL, *sa = NULL;
	struct cl_volume_iter it;
	struct cl_volume_entry e;
	int r, have;

	if ((r = cl_sha_new(&sb)) < 0 || (r = cl_sha_new(&sa)) < 0) {
		cl_sha_free(sb);
		return r;
	}
	cl_volume_iter_shard(v, i, &it);
	have = cl_volume_next(&it, &e);
	for (uint64_t pos = 0; pos < b->len; pos += CHUNK) {
		uint64_t end = b->len - pos < CHUNK ? b->len : pos + CHUNK;
		const uint8_t *src = b->data + pos;
		cl_sha_update(sb, src, (size_t)(end - pos));
		if (!have || e.off >= end) {
			cl_sha_update(sa, src, (size_t)(end - pos));
			continue;
		}
		memcpy(scratch, src, (size_t)(end - pos));
		/* an entry may straddle chunks: apply the part that falls here, keep it for the next */
		while (have && e.off < end) {
			uint64_t a = e.off > pos ? e.off : pos;
			uint64_t z = e.off + e.len < end ? e.off + e.len : end;
			if (a < z)
				memcpy(scratch + (a - pos), e.bytes + (a - e.off), (size_t)(z - a));
			if (e.off + e.len > end)
				break;
			have = cl_volume_next(&it, &e);
		}
		cl_sha_update(sa, scratch, (size_t)(end - pos));
	}
	cl_sha_final(sb, base);
	cl_sha_final(sa, after);
	cl_sha_free(sb);
	cl_sha_free(sa);
	return 0;
}

/* The original SHA-256 of shard I (full tier): the shard's own, else the model's for one file. */
static int original_of(const struct cl_volume *v, uint32_t i, uint8_t out[CL_SHA256_LEN])
{
	json_t *s = json_array_get(json_object_get(v->header, "shards"), i);
	json_t *o = json_object_get(s, "original_sha256");

	if (json_is_string(o) && json_string_length(o) == 64 &&
	    cl_unhex(json_string_value(o), out, CL_SHA256_LEN) == 0)
		return 0;
	if (v->nshards == 1 && v->has_original) {
		memcpy(out, v->original, CL_SHA256_LEN);
		return 0;
	}
	return cl_fail(CL_EFORMAT, "volume header: shard %u has no original_sha256 for the full tier", i);
}

static int check(const struct cl_volume *v, const struct cl_apply_opts *o, struct cl_membuf *shards,
		 uint32_t nshards, uint8_t (*after)[CL_SHA256_LEN])
{
	uint8_t base[CL_SHA256_LEN], orig[CL_SHA256_LEN], *scratch;
	int64_t now = o->now ? o->now : (int64_t)time(NULL), exp;
	int r = 0;

	if (o->nonce && strcmp(o->nonce, v->nonce))
		return cl_fail(CL_EINTEGRITY, "key volume answers another nonce: a replay");
	if (v->expires_at && ((exp = cl_time_parse(v->expires_at)) < 0 || exp <= now))
		return cl_fail(CL_EINTEGRITY, "key volume: the license expired at %s", v->expires_at);
	if (nshards != v->nshards)
		return cl_fail(CL_EMISMATCH, "the key volume is for %u shards, not %u", v->nshards, nshards);
	if (v->upgrade && !o->base_sha256)
		return cl_fail(CL_EINVAL, "an upgrade volume (from ratio %g) needs the base_sha256 of each shard",
			       v->from_beta);
	for (uint32_t i = 0; i < nshards; i++) {
		const struct cl_volume_shard *s = &v->shards[i];
		if (!shards[i].data || shards[i].len != s->size || shards[i].len < 8 ||
		    cl_le(shards[i].data, 8) != s->header_len)
			return cl_fail(
			    CL_EMISMATCH,
			    "shard %u (%s) is not the model the key volume is for (size %zu, expected %llu)",
			    i, s->file, shards[i].len, (unsigned long long)s->size);
	}
	if (!(scratch = malloc(CHUNK)))
		return cl_fail(CL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < nshards && r == 0; i++) {
		if ((r = digests(&shards[i], v, i, scratch, base, after[i])) < 0)
			break;
		if (memcmp(base, v->upgrade ? o->base_sha256[i] : v->shards[i].locked, CL_SHA256_LEN))
			r = cl_fail(CL_EMISMATCH,
				    "shard %u (%s) does not hash to the %s the key volume builds on", i,
				    v->shards[i].file, v->upgrade ? "tier" : "locked model");
		else if (v->exact &&
			 ((r = original_of(v, i, orig)) < 0 || memcmp(after[i], orig, CL_SHA256_LEN)))
			r = r < 0 ? r
				  : cl_fail(CL_EINTEGRITY,
					    "shard %u (%s) would not match the original's SHA-256", i,
					    v->shards[i].file);
	}
	free(scratch);
	return r;
}

int cl_volume_apply(const void *volume, size_t volume_len, const struct cl_apply_opts *opts,
		    struct cl_membuf *shards, uint32_t nshards, struct cl_apply_info *info,
		    uint8_t (*out_sha256)[32])
{
	struct cl_volume *v = NULL;
	uint8_t(*after)[CL_SHA256_LEN] = NULL;
	int r;

	const uint8_t *raw = volume;
	uint8_t pub[CL_PUB_LEN];

	if (!volume || !opts || (!shards && nshards))
		return cl_fail(CL_EINVAL, "cl_volume_apply: missing argument");
	if (opts->pubkey)
		memcpy(pub, opts->pubkey, CL_PUB_LEN);
	else if (!opts->pubkey_pem)
		return cl_fail(CL_EINVAL, "cl_volume_apply: no server key to verify the volume with");
	else if ((r = cl_pubkey_from_pem(opts->pubkey_pem, strlen(opts->pubkey_pem), pub)) < 0)
		return r;
	/* Authenticate the bytes before parsing them further than the magic. */
	if ((r = cl_volume_authenticate(raw, volume_len, pub)) < 0)
		return r == CL_EUNSUPPORTED ? cl_fail(CL_EFORMAT, "%s", cl_errmsg()) : r;
	if ((r = cl_volume_parse(volume, volume_len, &v)) < 0)
		return r;
	if (!(after = calloc(nshards ? nshards : 1, CL_SHA256_LEN))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	if ((r = check(v, opts, shards, nshards, after)) < 0)
		goto out;
	struct cl_volume_iter it;
	struct cl_volume_entry e;
	for (cl_volume_iter_all(v, &it); cl_volume_next(&it, &e);)
		memcpy(shards[e.shard].data + e.off, e.bytes, e.len);
	if (out_sha256)
		memcpy(out_sha256, after, (size_t)nshards * CL_SHA256_LEN);
	if (info) {
		memset(info, 0, sizeof(*info));
		info->model = v->model;
		info->license = v->license;
		snprintf(info->model_name, sizeof(info->model_name), "%s", v->model_name);
		snprintf(info->model_version, sizeof(info->model_version), "%s", v->model_version);
		snprintf(info->tier, sizeof(info->tier), "%s", v->tier);
		snprintf(info->from_tier, sizeof(info->from_tier), "%s", v->from_tier ? v->from_tier : "");
		info->beta = v->beta;
		info->entries = v->n;
		info->bytes = v->bytes;
		info->original_verified = v->exact;
	}
out:
	free(after);
	cl_volume_free(v);
	return r;
}
