/*
 * unlock.c - corelocker-agent unlock: get a verified key volume (from the
 * server, or from a file for air-gapped sites), check it against the file it
 * will patch, and patch: into a temp file renamed over OUT, or in place
 * under an undo journal.  The model is mmapped and streamed, never read into
 * the heap.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "error.h"
#include "fingerprint.h"
#include "mapfile.h"
#include "model.h"
#include "outfile.h"
#include "patch.h"
#include "threads.h"

/*
 * The volume's entries of one shard as patch spans, in file order, read
 * straight from the volume; or from a volume still arriving (STREAM), each
 * waited for.
 */
struct vit {
	struct cl_volume_iter it;
	uint64_t pause, done; /* the test hook, for the writer's walk */
	struct ag_stream *stream;
	uint32_t shard;
	size_t taken;
};

static struct vit vit_of(const struct cl_volume *v, uint32_t shard, struct ag_stream *stream)
{
	struct vit it = {.stream = stream, .shard = shard};
	if (!stream)
		cl_volume_iter_shard(v, shard, &it.it);
	return it;
}

static int next_entry(void *ctx, struct cl_span *s)
{
	struct vit *it = ctx;
	struct cl_volume_entry e;
	int r;

	if (it->stream && !it->it.left && (r = ag_stream_entry(it->stream, it->shard, it->taken, &it->it)) <= 0) {
		if (r == 0)
			return 0;
		/* the stream stopped: a span no file holds ends the pass at once (its output is thrown away) */
		*s = (struct cl_span){.off = 0, .len = UINT64_MAX, .src = NULL};
		return 1;
	}
	if (!cl_volume_next(&it->it, &e))
		return 0;
	it->taken++;
	if (it->pause && it->done++ == it->pause)
		ag_test_pause(it->pause);
	s->off = e.off;
	s->len = e.len;
	s->src = e.bytes;
	return 1;
}

/* SHA-256 of a mapped file on a thread of its own. */
struct hash_job {
	const struct cl_map *m;
	uint8_t *d;
	int r;
	pthread_t t;
	int started;
};

static void *hash_thread(void *arg)
{
	struct hash_job *j = arg;
	struct cl_sha *s;

	if ((j->r = cl_sha_new(&s)) < 0)
		return NULL;
	for (uint64_t off = 0; off < j->m->size; off += 1u << 24)
		cl_sha_update(s, j->m->data + off,
			      (size_t)(j->m->size - off < (1u << 24) ? j->m->size - off : 1u << 24));
	cl_sha_final(s, j->d);
	cl_sha_free(s);
	return NULL;
}

static void hash_start(struct hash_job *j, const struct cl_map *m, uint8_t *d)
{
	j->m = m;
	j->d = d;
	j->started = pthread_create(&j->t, NULL, hash_thread, j) == 0;
	if (!j->started)
		hash_thread(j);
}

static int hash_join(struct hash_job *j)
{
	if (j->started)
		pthread_join(j->t, NULL);
	j->started = 0;
	return j->r;
}

/* Open a model (a file, or a sharded *.index.json); a file that is no model is the wrong base. */
static int model_open(const char *path, struct cl_model **m)
{
	int r = cl_model_open(path, m);

	if (r == CL_EFORMAT || r == CL_ELIMIT || r == CL_EUNSUPPORTED)
		return ax_fail(AX_BASE, "wrong base model: %s", cl_errmsg());
	return r;
}

/* The model fingerprint (docs/formats.md) from its shards' digests D. */
static int fingerprint(const struct cl_model *m, const uint8_t (*d)[CL_SHA256_LEN],
		       uint8_t out[CL_SHA256_LEN])
{
	const char **names = calloc(m->nshards, sizeof(*names));
	uint8_t index_sha[CL_SHA256_LEN];

	if (!names)
		return cl_fail(CL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < m->nshards; i++)
		names[i] = m->shards[i].name;
	if (m->sharded)
		cl_sha256(m->index.data, (size_t)m->index.size, index_sha);
	cl_fingerprint(m->sharded ? index_sha : NULL, m->nshards, names, d, out);
	free(names);
	return 0;
}

/* The fingerprint of the model at PATH, read whole. */
static int model_digest(const char *path, uint8_t out[CL_SHA256_LEN])
{
	struct cl_model *m;
	uint8_t(*d)[CL_SHA256_LEN];
	int r = model_open(path, &m);

	if (r < 0)
		return r;
	if (!(d = calloc(m->nshards, CL_SHA256_LEN))) {
		cl_model_free(m);
		return cl_fail(CL_ENOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < m->nshards; i++) {
		struct hash_job j = {0};
		cl_map_sequential(&m->shards[i].map);
		j.m = &m->shards[i].map;
		j.d = d[i];
		hash_thread(&j);
		if ((r = j.r) < 0)
			break;
	}
	if (r == 0)
		r = fingerprint(m, (const uint8_t(*)[CL_SHA256_LEN])d, out);
	free(d);
	cl_model_free(m);
	return r;
}

/* The model must have the volume's shards: names (sharded), sizes and header lengths. */
static int check_shape(const struct cl_model *m, const struct cl_volume *v)
{
	if (m->nshards != v->nshards)
		return ax_fail(AX_BASE,
			       "wrong base model: %s has %u shard%s, the key volume's model (%s %s) %u",
			       m->path, m->nshards, m->nshards == 1 ? "" : "s", v->model_name,
			       v->model_version, v->nshards);
	for (uint32_t i = 0; i < m->nshards; i++) {
		const struct cl_volume_shard *s = &v->shards[i];
		const struct cl_shard *f = &m->shards[i];
		if ((m->sharded && strcmp(f->name, s->file)) || f->map.size != s->size ||
		    f->st.header_len != s->header_len)
			return ax_fail(
			    AX_BASE,
			    "wrong base model: %s is not the model the key volume is for (%s %s: %s of "
			    "%llu bytes, this file %llu)",
			    f->path, v->model_name, v->model_version, s->file, (unsigned long long)s->size,
			    (unsigned long long)f->map.size);
	}
	return 0;
}

static int wrong_base(const char *path, const struct cl_volume *v)
{
	return ax_fail(
	    AX_BASE,
	    "wrong base model: the SHA-256 of %s is not that of the model the key volume builds on "
	    "(%s %s)",
	    path, v->model_name, v->model_version);
}

static int not_original(const char *path)
{
	return ax_fail(
	    AX_VOLUME,
	    "bad key volume: the unlocked %s does not match the original's SHA-256; nothing written", path);
}

/* The original SHA-256 of shard I (full tier): the shard's own, else the model's for one file. */
static int original_of(const struct cl_volume *v, uint32_t i, uint8_t out[CL_SHA256_LEN])
{
	json_t *o =
	    json_object_get(json_array_get(json_object_get(v->header, "shards"), i), "original_sha256");

	if (json_is_string(o) && cl_unhex(json_string_value(o), out, CL_SHA256_LEN) == 0)
		return 0;
	if (v->nshards == 1 && v->has_original) {
		memcpy(out, v->original, CL_SHA256_LEN);
		return 0;
	}
	return ax_fail(AX_VOLUME, "bad key volume: shard %u has no original_sha256 for the full tier", i);
}

static char *join(const char *dir, const char *name)
{
	char *s;
	return asprintf(&s, "%s/%s", dir, name) < 0 ? NULL : s;
}

/*
 * One pass over shard I of M (its entries from V, or from STREAM while V
 * arrives): its patched bytes go to O (NULL: only hashed)
 * and hash into AD; the base is hashed into BD when it must be checked
 * (EXPECT given, not the full tier).  Then the shard's own checks; OUTNAME
 * names the result in messages.
 */
static int shard_pass(const struct cl_model *m, const struct cl_volume *v, struct ag_stream *stream, uint32_t i,
		      const uint8_t *expect, struct cl_out *o, const char *outname, uint8_t bd[CL_SHA256_LEN],
		      uint8_t ad[CL_SHA256_LEN])
{
	const struct cl_map *map = &m->shards[i].map;
	struct hash_job hj = {0};
	struct vit w = vit_of(v, i, stream);
	uint8_t orig[CL_SHA256_LEN];
	int r;

	w.pause = o ? ag_pause_after() : 0; /* in place, the writer pauses (inplace.c), not this check */
	cl_map_sequential(map);
	/*
	 * The full tier is checked against the original's digest, which a
	 * wrong base cannot pass: the base is hashed only to name the failure.
	 * Other tiers hash the base while it is patched.
	 */
	if (expect && !v->exact)
		hash_start(&hj, map, bd);
	/* one pass: each piece patched once, hashed while hot and written (the shards run side by side) */
	r = o ? cl_patch_write_digest(map, next_entry, &w, o, ad) : cl_patch_digest(map, next_entry, &w, ad);
	if (expect && !v->exact && hash_join(&hj) < 0 && r == 0)
		r = hj.r;
	if (r == 0 && v->exact && ((r = original_of(v, i, orig)) < 0 || memcmp(ad, orig, CL_SHA256_LEN))) {
		if (r == 0 && expect)
			hash_thread(&(struct hash_job){.m = map, .d = bd});
		return r < 0 ? r
		       : expect && memcmp(bd, v->shards[i].locked, CL_SHA256_LEN) ? wrong_base(m->shards[i].path, v)
									       : not_original(outname);
	}
	if (r == 0 && expect && !v->exact && memcmp(bd, v->shards[i].locked, CL_SHA256_LEN))
		r = wrong_base(m->shards[i].path, v);
	return r;
}

/* Every shard's pass (shard_pass), one shard per core: O[i] gets shard i (O NULL: only hashed). */
struct passes {
	const struct cl_model *m;
	const struct cl_volume *v;
	struct ag_stream *stream; /* V still arriving (overlap.c), or NULL */
	const uint8_t *expect;
	struct cl_out **o;
	char **names; /* the results' names in messages (NULL: the shards' own) */
	uint8_t (*bd)[CL_SHA256_LEN], (*ad)[CL_SHA256_LEN];
};

static int pass_task(void *arg, size_t i, unsigned worker)
{
	const struct passes *p = arg;

	(void)worker;
	return shard_pass(p->m, p->v, p->stream, (uint32_t)i, p->expect, p->o ? p->o[i] : NULL,
			  p->names ? p->names[i] : p->m->shards[i].path, p->bd[i], p->ad[i]);
}

/*
 * After every shard's pass: the base's fingerprint (shard digests BD)
 * against EXPECT, and RESULT, the fingerprint of the result (AD), against
 * the original for the full tier.  NAME names the result in messages.
 */
static int model_checks(const struct cl_model *m, const struct cl_volume *v, const uint8_t *expect,
			const uint8_t (*bd)[CL_SHA256_LEN], const uint8_t (*ad)[CL_SHA256_LEN],
			uint8_t result[CL_SHA256_LEN], const char *name)
{
	uint8_t fp[CL_SHA256_LEN];
	int r;

	if (expect && !v->exact) {
		if ((r = fingerprint(m, bd, fp)) < 0)
			return r;
		if (memcmp(fp, expect, CL_SHA256_LEN))
			return wrong_base(m->path, v);
	}
	if ((r = fingerprint(m, ad, result)) < 0)
		return r;
	if (v->exact && memcmp(result, v->original, CL_SHA256_LEN)) /* the index, for a sharded model */
		return not_original(name);
	return 0;
}

/*
 * The outputs of a copy of model M: one temp file per shard (OUT a file, or
 * for a sharded model a directory that receives the index and every shard),
 * or with MEMFD one memfd per shard (the caller writes any index); the
 * digests of the shard passes; nothing renamed until copy_publish().
 */
struct copy {
	uint32_t n;
	struct cl_out **o, *index;
	uint8_t (*bd)[CL_SHA256_LEN], (*ad)[CL_SHA256_LEN];
	char **names; /* the results' names in messages */
	char *dir;    /* OUT, when this run created it: removed again unless published */
};

static void copy_free(struct copy *c)
{
	for (uint32_t i = 0; c->o && i < c->n; i++)
		cl_out_abort(c->o[i]);
	cl_out_abort(c->index);
	for (uint32_t i = 0; c->names && i < c->n; i++)
		free(c->names[i]);
	if (c->dir)
		rmdir(c->dir); /* only if empty: nothing of ours is left in it */
	free(c->dir);
	free(c->names);
	free(c->o);
	free(c->bd);
	free(c->ad);
	memset(c, 0, sizeof(*c));
}

static int copy_open(struct copy *c, const struct cl_model *m, const char *out, unsigned mode, int memfd)
{
	uint32_t n = m->nshards;
	char *path = NULL;
	int r = 0;

	memset(c, 0, sizeof(*c));
	c->n = n;
	c->o = calloc(n, sizeof(*c->o));
	c->bd = calloc(n, CL_SHA256_LEN);
	c->ad = calloc(n, CL_SHA256_LEN);
	c->names = calloc(n, sizeof(*c->names));
	if (!c->o || !c->bd || !c->ad || !c->names) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	if (m->sharded && !memfd) {
		const char *slash = strrchr(m->path, '/');
		if ((r = cl_mkdir_mode(out, cl_dir_mode(mode))) < 0)
			goto out;
		if (r == 1 && !(c->dir = strdup(out))) {
			r = cl_fail(CL_ENOMEM, "out of memory");
			goto out;
		}
		r = 0;
		if (!(path = join(out, slash ? slash + 1 : m->path))) {
			r = cl_fail(CL_ENOMEM, "out of memory");
			goto out;
		}
		if ((r = cl_out_open(path, mode | CL_OUT_NOHASH, &c->index)) < 0 ||
		    (r = cl_out_write(c->index, m->index.data, (size_t)m->index.size)) < 0)
			goto out;
	}
	for (uint32_t i = 0; i < n && r == 0; i++) {
		char *p = memfd ? strdup(m->shards[i].name) : m->sharded ? join(out, m->shards[i].name) : strdup(out);
		if (!(c->names[i] = p)) {
			r = cl_fail(CL_ENOMEM, "out of memory");
			break;
		}
		r = memfd ? cl_out_open_memfd(p, mode | CL_OUT_NOHASH, &c->o[i]) : cl_out_open(p, mode | CL_OUT_NOHASH, &c->o[i]);
	}
out:
	free(path);
	return r;
}

static struct passes copy_passes(const struct copy *c, const struct cl_model *m, const struct cl_volume *v,
				 struct ag_stream *stream, const uint8_t *expect)
{
	return (struct passes){m, v, stream, expect, c->o, c->names, c->bd, c->ad};
}

/*
 * After every shard's pass into C: the model's checks (model_checks, RESULT
 * gets the new fingerprint), then fsync and rename everything into place,
 * or with MEMFDS hand the memfds over.  NAME names the result in messages.
 */
static int copy_publish(struct copy *c, const struct cl_model *m, const struct cl_volume *v, const uint8_t *expect,
			uint8_t result[CL_SHA256_LEN], const char *name, int *memfds)
{
	uint32_t n = c->n;
	int r;

	if ((r = model_checks(m, v, expect, (const uint8_t(*)[CL_SHA256_LEN])c->bd,
			      (const uint8_t(*)[CL_SHA256_LEN])c->ad, result, name)) < 0)
		return r;
	if (memfds) { /* verified: hand them over (memory: nothing to fsync) */
		for (uint32_t i = 0; i < n; i++)
			memfds[i] = -1;
		for (uint32_t i = 0; i < n && r >= 0; i++) {
			r = memfds[i] = cl_out_release(c->o[i]);
			c->o[i] = NULL;
		}
		for (uint32_t i = 0; r < 0 && i < n; i++)
			if (memfds[i] >= 0)
				close(memfds[i]), memfds[i] = -1;
		return r < 0 ? r : 0;
	}
	for (uint32_t i = 0; i < n && r == 0; i++)
		r = cl_out_finish(c->o[i]);
	if (r == 0 && c->index)
		r = cl_out_finish(c->index);
	for (uint32_t i = 0; i < n && r == 0; i++) {
		r = cl_out_commit(c->o[i]);
		c->o[i] = NULL;
	}
	if (r == 0 && c->index) {
		r = cl_out_commit(c->index);
		c->index = NULL;
	}
	if (r == 0) { /* published: the directory stays */
		free(c->dir);
		c->dir = NULL;
	}
	return r;
}

/*
 * Copy model M to OUT with the volume's spans (copy_open), verified against
 * the fingerprint EXPECT (unless NULL) while it is read, the full tier's
 * result against the original; RESULT gets the new fingerprint.  Nothing is
 * renamed into place unless every check passed.
 */
static int patch_copy(const struct cl_model *m, const char *out, unsigned mode, const struct cl_volume *v,
		      const uint8_t *expect, uint8_t result[CL_SHA256_LEN], int *memfds)
{
	struct copy c;
	struct passes p;
	int r = copy_open(&c, m, out, mode, memfds != NULL);

	p = copy_passes(&c, m, v, NULL, expect);
	if (r == 0)
		r = cl_parallel(m->nshards, pass_task, &p);
	if (r == 0)
		r = copy_publish(&c, m, v, expect, result, out ? out : m->path, memfds);
	copy_free(&c);
	return r;
}

/*
 * In place (a file, or every shard of a sharded model): verify the base and
 * the result's digest, shard by shard, before touching any file.
 */
static int patch_in_place(const struct cl_model *m, const struct cl_volume *v, const uint8_t *expect,
			  struct ag_state *ns, unsigned mode)
{
	uint32_t n = m->nshards;
	uint8_t(*bd)[CL_SHA256_LEN] = calloc(n, CL_SHA256_LEN),
	(*ad)[CL_SHA256_LEN] = calloc(n, CL_SHA256_LEN);
	int r = 0;

	if (!bd || !ad)
		r = cl_fail(CL_ENOMEM, "out of memory");
	if (r == 0)
		r = cl_parallel(n, pass_task, &(struct passes){m, v, NULL, expect, NULL, NULL, bd, ad});
	if (r == 0)
		r = model_checks(m, v, expect, (const uint8_t(*)[CL_SHA256_LEN])bd,
				 (const uint8_t(*)[CL_SHA256_LEN])ad, ns->sha, m->path);
	free(bd);
	free(ad);
	return r == 0 ? ag_patch_in_place(m, v, ns, mode) : r;
}

/* Bytes of the model at PATH (all shards of a sharded one), 0 if it cannot be read. */
static uint64_t model_bytes(const char *path)
{
	struct cl_model *m;
	struct stat st;
	uint64_t n;

	if (!cl_path_is_index(path))
		return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
	if (cl_model_open(path, &m) < 0)
		return 0;
	n = m->bytes;
	cl_model_free(m);
	return n;
}

/* An upgrade volume names the ratio it builds on (from_beta, always; from_tier only if asked). */
static int vol_upgrade(const struct cl_volume *v, double *from_beta)
{
	json_t *f = json_object_get(v->header, "from_beta");

	*from_beta = json_number_value(f);
	return json_is_number(f);
}

/* The volume must be the tier the license was validated at (and its ratio, when validate names it). */
static int check_asked(const struct ag_vol *vol, const char *tier, double beta)
{
	const struct cl_volume *v = vol->v;

	if (strcmp(v->tier, tier) || (!isnan(beta) && v->beta != beta))
		return ax_fail(AX_REFUSED,
			       "the server sent tier '%s' (ratio %g), not the license's tier '%s' it validated "
			       "(it changed meanwhile?); nothing written, run again",
			       v->tier, v->beta, tier);
	return 0;
}

/*
 * Everything that takes a seat or records a delivery waits for this: validate
 * (which never writes), then, when the server names the licensed model's
 * locked fingerprint, check the file to patch against it (ST, when given,
 * stands for a file patched before: it recorded the locked model it builds
 * on), and only then activate.  A machine seated just now is validated
 * again, for its fresh lease.  An older server names no fingerprint: the
 * volume's own check after the fetch is then the only one.
 */
static int preflight(struct agent *a, const char *locked, const struct ag_state *st, struct ag_answer *an)
{
	uint8_t d[CL_SHA256_LEN];
	int s, r;

	if ((r = ag_check(a, 0, an)) < 0)
		return r;
	s = ag_code_status(an->code);
	if (s != AX_OK && s != AX_NOT_ACTIVATED && s != AX_LEASE)
		return ax_fail(s, "the license is not valid: %s (%s)", ag_code_text(an->code), an->code);
	if (an->has_locked && st && memcmp(st->locked, an->locked, CL_SHA256_LEN))
		return ax_fail(AX_BASE,
			       "wrong base model: %s holds tier '%s' of %s %s, not of the licensed model; nothing "
			       "was fetched",
			       locked, st->tier, st->model_name, st->model_version);
	/* The full tier is checked against the original after patching: any file that becomes it will do. */
	if (an->has_locked && !st && an->beta != 0) {
		if ((r = model_digest(locked, d)) < 0)
			return r;
		if (memcmp(d, an->locked, CL_SHA256_LEN))
			return ax_fail(AX_BASE,
				       "wrong base model: %s is not the locked model the license is for (its SHA-256 "
				       "differs: the original, or another model?); give the .locked file you were "
				       "sent. Nothing was fetched",
				       locked);
	}
	if ((r = ag_activate(a)) < 0 || s == AX_OK)
		return r;
	if ((r = ag_check(a, 0, an)) < 0)
		return r;
	s = ag_code_status(an->code);
	return s == AX_OK ? 0 : ax_fail(s, "the license is not valid: %s (%s)", ag_code_text(an->code), an->code);
}

static int already(const struct agent *a, const char *target, const struct ag_state *st, uint64_t bytes)
{
	if (!a->quiet)
		printf("%s is already at tier %s (ratio %g) of %s %s; nothing to do (%llu bytes "
		       "transferred)\n",
		       target, st->tier, st->beta, st->model_name, st->model_version, (unsigned long long)bytes);
	return 0;
}

/* Fetch the license's volume into FD, from the file's ratio when ST says it has one. */
static int fetch(struct agent *a, const struct unlock_args *u, const char *target, struct ag_state *st,
		 int *have_state, int fd, uint64_t max, const struct clh_sink *sink, char nonce[33], uint64_t *bytes)
{
	int refused, r;

	r = ag_fetch_key(a, *have_state ? &st->beta : NULL, fd, max, sink, nonce, bytes, &refused);
	if (r < 0 && refused) {
		if (u->in_place)
			return ax_fail(AX_REFUSED,
				       "%s holds tier '%s' (ratio %g), which the license's tier does not build on; "
				       "unlock a fresh copy of the locked model instead",
				       target, st->tier, st->beta);
		if (!a->quiet)
			fprintf(stderr,
				"corelocker-agent: %s holds tier '%s' (ratio %g), more than the license's tier "
				"restores; unlocking %s again\n",
				target, st->tier, st->beta, u->locked);
		*have_state = 0;
		if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
			return cl_fail_errno("key volume");
		r = ag_fetch_key(a, NULL, fd, max, sink, nonce, bytes, &refused);
	}
	return r;
}

/* What a key volume applies to (plan_volume). */
struct plan {
	const struct cl_model *m; /* the model to read: the locked one, or the file a state file names */
	struct cl_model *own;	  /* that file, when it is not the locked model */
	const uint8_t *expect;	  /* the fingerprint M must have; NULL when its state file vouches for it */
	int upgrade;
	double from_beta;
	struct ag_state ns; /* the result's state (its sha once patched) */
};

/*
 * Which model volume V applies to, and what it must hash to: 0, 1 when
 * TARGET already holds it (nothing to do), or <0.  Only V's header is read.
 * An upgrade volume holds the spans between two ratios: it applies only to
 * a file that holds exactly its from_beta (the state file ST says so, and
 * the file still hashes to what the state recorded).  A whole tier's volume
 * applies to the locked model LOCKED, or in place over a file that restores
 * no more than it (restoring original bytes twice is harmless).
 */
static int plan_volume(const struct unlock_args *u, const char *target, const char *tmodel, const struct ag_state *st,
		       int have_state, const struct cl_model *locked, const struct cl_volume *v, struct plan *p)
{
	int from_file, r;

	p->upgrade = vol_upgrade(v, &p->from_beta);
	from_file = p->upgrade || (u->in_place && have_state);
	if (p->upgrade && !have_state)
		return ax_fail(AX_BASE,
			       "wrong base model: the key volume upgrades from ratio %g, but %s has no valid state "
			       "file saying it holds that ratio",
			       p->from_beta, target);
	if (from_file && (memcmp(st->locked, v->locked, CL_SHA256_LEN) ||
			  (p->upgrade ? p->from_beta != st->beta : st->beta < v->beta))) {
		char from[48] = "";
		if (p->upgrade)
			snprintf(from, sizeof(from), ", from ratio %g", p->from_beta);
		return ax_fail(AX_BASE,
			       "wrong base model: %s holds tier '%s' (ratio %g) of %s %s; the key volume (%s %s "
			       "tier '%s', ratio %g%s) does not build on it",
			       target, st->tier, st->beta, st->model_name, st->model_version, v->model_name,
			       v->model_version, v->tier, v->beta, from);
	}
	if (p->upgrade && v->n == 0 && v->beta == st->beta && !strcmp(v->tier, st->tier))
		return 1;
	p->expect = from_file ? NULL : v->locked; /* a file is hashed above against its state */
	p->m = locked;
	if (from_file) {
		if ((r = model_open(tmodel, &p->own)) < 0)
			return r;
		p->m = p->own;
	}
	if ((r = check_shape(p->m, v)) < 0)
		return r;

	memset(&p->ns, 0, sizeof(p->ns));
	p->ns.model = v->model;
	p->ns.license = v->license;
	snprintf(p->ns.model_name, sizeof(p->ns.model_name), "%s", v->model_name);
	snprintf(p->ns.model_version, sizeof(p->ns.model_version), "%s", v->model_version);
	snprintf(p->ns.tier, sizeof(p->ns.tier), "%s", v->tier);
	p->ns.beta = v->beta;
	memcpy(p->ns.locked, v->locked, CL_SHA256_LEN);
	return 0;
}

/*
 * The copy's shard passes, started while the volume still downloads
 * (overlap.c): when its header arrived, the checks that follow the
 * signature's are run on it (nonce, expiry, tier, plan_volume), the outputs
 * opened and every shard's pass started, each taking its entries as they
 * arrive.  Every
 * byte goes to temp files, renamed only once the signature verified (see
 * ag_unlock).  Any doubt, and the speculation is dropped for today's order.
 */
struct spec {
	const struct unlock_args *u;
	const char *target, *tmodel, *nonce;
	const struct ag_state *st;
	const int *have_state;
	const struct cl_model *m;
	const struct ag_answer *an;
	struct ag_stream *stream;
	struct plan plan;
	struct copy copy;
	struct passes passes;
};

static int spec_start(void *arg, const struct cl_volume *v)
{
	struct spec *sp = arg;
	struct ag_vol hv = {.fd = -1, .v = (struct cl_volume *)v};

	if (ag_vol_check(&hv, sp->nonce) < 0 || check_asked(&hv, sp->an->tier, sp->an->beta) < 0 ||
	    plan_volume(sp->u, sp->target, sp->tmodel, sp->st, *sp->have_state, sp->m, v, &sp->plan) != 0 ||
	    copy_open(&sp->copy, sp->plan.m, sp->target, sp->u->mode, 0) < 0)
		return -1;
	sp->passes = copy_passes(&sp->copy, sp->plan.m, v, sp->stream, sp->plan.expect);
	return 0;
}

static int spec_task(void *arg, size_t i, unsigned worker)
{
	return pass_task(&((struct spec *)arg)->passes, i, worker);
}

static void plan_free(struct plan *p)
{
	cl_model_free(p->own);
	p->own = NULL;
}

int ag_unlock(struct agent *a, const struct unlock_args *u)
{
	const char *target = u->in_place ? u->locked : u->out;
	int sharded = cl_path_is_index(u->locked);
	struct ag_state st;
	struct ag_answer an;
	struct ag_vol vol = {.fd = -1};
	struct cl_model *m = NULL;
	const struct cl_volume *v;
	uint8_t cur[CL_SHA256_LEN];
	char nonce[33] = "", *tmodel = NULL;
	const char *slash = strrchr(u->locked, '/');
	uint64_t transferred = 0;
	struct plan plan = {0}, *pl = &plan;
	struct spec sp = {0};
	struct ag_stream stream = {.state = -1};
	int have_state = 0, r, fd, streamed = 0;

	/* The model the target holds: the file (or index) itself, or the index inside the output directory. */
	tmodel = sharded && !u->in_place ? join(target, slash ? slash + 1 : u->locked) : strdup(target);
	if (!tmodel)
		return cl_fail(CL_ENOMEM, "out of memory");
	if ((r = ag_journal_recover(target, a->quiet)) < 0)
		goto out;
	/* LOCKED is a readable, valid model before the server hears of this run. */
	if ((r = model_open(u->locked, &m)) < 0)
		goto out;
	r = ag_state_load(target, &st);
	if (r < 0) {
		fprintf(stderr, "corelocker-agent: ignoring %s\n", cl_errmsg());
	} else if (r == 1 && access(tmodel, F_OK) == 0) {
		if ((r = model_digest(tmodel, cur)) < 0 && r != AXF(AX_BASE))
			goto out;
		have_state = r == 0 && !memcmp(cur, st.sha, CL_SHA256_LEN);
		if (!have_state && !a->quiet)
			fprintf(stderr,
				"corelocker-agent: %s changed since it was unlocked at tier '%s'; its state "
				"file is stale\n",
				target, st.tier);
	}

	if (u->volume_file) {
		if ((fd = open(u->volume_file, O_RDONLY | O_CLOEXEC)) < 0) {
			r = cl_fail_errno("%s", u->volume_file);
			goto out;
		}
		if ((r = ag_vol_open(fd, a->pub, &vol)) < 0) /* takes FD */
			goto out;
		if ((r = ag_vol_check(&vol, u->nonce)) < 0 || (r = ag_vol_check_age(&vol, u->max_age)) < 0)
			goto out;
	} else {
		/* A volume holds at most every byte of the model, plus 16 bytes per span (of >= 1 byte). */
		uint64_t max = 20 * model_bytes(u->locked) + (64u << 20);
		struct clh_sink sink;
		if ((r = preflight(a, have_state ? target : u->locked, have_state ? &st : NULL, &an)) < 0)
			goto out;
		/* Only a validation that names the tier's ratio settles it: a tier may be re-cut under its name. */
		if (have_state && st.model == an.model && !strcmp(st.tier, an.tier) && an.beta == st.beta) {
			r = already(a, target, &st, 0);
			goto out;
		}
		if ((fd = ag_tmpfile_near(target)) < 0) {
			r = fd;
			goto out;
		}
		/* A copy is patched while the volume arrives; in place waits for the signature. */
		sp = (struct spec){.u = u, .target = target, .tmodel = tmodel, .nonce = nonce, .st = &st,
				   .have_state = &have_state, .m = m, .an = &an, .stream = &stream};
		stream = (struct ag_stream){.start = spec_start, .task = spec_task, .arg = &sp, .state = -1};
		if (!u->in_place)
			ag_stream_open(&stream, fd, max);
		sink = ag_stream_sink(&stream);
		if ((r = fetch(a, u, target, &st, &have_state, fd, max, &sink, nonce, &transferred)) < 0) {
			close(fd);
			goto out;
		}
		clh_close(a->h); /* no idle connection to the server while patching */
		a->h = NULL;
		if ((r = ag_stream_finish(&stream, fd, a->pub, &vol)) < 0) { /* a pass failed */
			close(fd);
			goto out;
		}
		streamed = r == 0;
		if (!streamed) /* today's order: the outputs of a speculation that failed go first */
			copy_free(&sp.copy);
		if ((!streamed && (r = ag_vol_open(fd, a->pub, &vol)) < 0) || (r = ag_vol_check(&vol, nonce)) < 0 ||
		    (r = check_asked(&vol, an.tier, an.beta)) < 0)
			goto out;
	}
	v = vol.v;
	if (streamed) {
		pl = &sp.plan; /* made from these very header bytes, now authenticated */
	} else if ((r = plan_volume(u, target, tmodel, &st, have_state, m, v, &plan)) != 0) {
		if (r == 1)
			r = already(a, target, &st, transferred);
		goto out;
	}

	if (u->in_place) {
		r = patch_in_place(pl->m, v, pl->expect, &pl->ns, u->mode);
	} else {
		r = streamed ? copy_publish(&sp.copy, pl->m, v, pl->expect, pl->ns.sha, target, NULL)
			     : patch_copy(pl->m, target, u->mode, v, pl->expect, pl->ns.sha, NULL);
		if (r == 0)
			r = ag_state_save(target, &pl->ns);
	}
	if (r < 0)
		goto out;
	if (!a->quiet) {
		printf("unlocked %s: %s %s tier %s (beta %g)", target, v->model_name, v->model_version,
		       v->tier, v->beta);
		if (pl->upgrade)
			printf(", upgraded from tier %s (ratio %g)", st.tier, st.beta);
		if (v->exact)
			printf(", the original (SHA-256 verified)");
		printf("; %zu spans, %llu bytes restored, %llu bytes transferred\n", v->n,
		       (unsigned long long)v->bytes, (unsigned long long)transferred);
	}
out:
	ag_stream_close(&stream); /* before the outputs its passes write */
	copy_free(&sp.copy);
	plan_free(&sp.plan);
	plan_free(&plan);
	cl_model_free(m);
	ag_vol_close(&vol);
	free(tmodel);
	return r;
}

void ag_memmodel_free(struct ag_memmodel *mm)
{
	for (uint32_t i = 0; i < mm->n; i++) {
		if (mm->fds && mm->fds[i] >= 0)
			close(mm->fds[i]);
		if (mm->names)
			free(mm->names[i]);
	}
	free(mm->fds);
	free(mm->names);
	free(mm->index_name);
	json_decref(mm->index);
	memset(mm, 0, sizeof(*mm));
}

int ag_unlock_memory(struct agent *a, const char *locked, struct ag_memmodel *mm)
{
	struct ag_vol vol = {.fd = -1};
	struct ag_answer an;
	struct cl_model *m = NULL;
	const struct cl_volume *v;
	uint8_t sha[CL_SHA256_LEN];
	char nonce[33];
	uint64_t transferred = 0;
	double from_beta;
	int r, fd, refused;

	memset(mm, 0, sizeof(*mm));
	/* The locked model first: a wrong path fails before the server counts a delivery. */
	if ((r = model_open(locked, &m)) < 0)
		goto out;
	if ((r = preflight(a, locked, NULL, &an)) < 0)
		goto out;
	/* The volume holds original bytes too: it stays in memory like the model. */
	if ((fd = memfd_create("corelocker-volume", MFD_CLOEXEC)) < 0) {
		r = cl_fail_errno("key volume: memfd_create");
		goto out;
	}
	if ((r = ag_fetch_key(a, NULL, fd, 20 * m->bytes + (64u << 20), NULL, nonce, &transferred, &refused)) < 0) {
		close(fd);
		goto out;
	}
	if ((r = ag_vol_open(fd, a->pub, &vol)) < 0 || (r = ag_vol_check(&vol, nonce)) < 0 ||
	    (r = check_asked(&vol, an.tier, an.beta)) < 0)
		goto out;
	v = vol.v;
	if (vol_upgrade(v, &from_beta)) {
		r = ax_fail(AX_VOLUME, "bad key volume: the server sent an upgrade from ratio %g, not the whole tier",
			    from_beta);
		goto out;
	}
	if ((r = check_shape(m, v)) < 0)
		goto out;
	mm->n = m->nshards;
	if (!(mm->fds = calloc(mm->n, sizeof(*mm->fds))) || !(mm->names = calloc(mm->n, sizeof(*mm->names)))) {
		mm->n = 0;
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < mm->n; i++)
		mm->fds[i] = -1;
	if ((r = patch_copy(m, NULL, AG_MODE_DEFAULT, v, v->locked, sha, mm->fds)) < 0)
		goto out;
	for (uint32_t i = 0; i < mm->n; i++)
		if (!(mm->names[i] = strdup(m->shards[i].name))) {
			r = cl_fail(CL_ENOMEM, "out of memory");
			goto out;
		}
	mm->sharded = m->sharded;
	if (m->sharded) {
		const char *slash = strrchr(m->path, '/');
		mm->index = json_deep_copy(m->index_json);
		if (!(mm->index_name = strdup(slash ? slash + 1 : m->path)) || !mm->index) {
			r = cl_fail(CL_ENOMEM, "out of memory");
			goto out;
		}
	}
	snprintf(mm->tier, sizeof(mm->tier), "%s", v->tier);
	snprintf(mm->model_name, sizeof(mm->model_name), "%s %s", v->model_name, v->model_version);
	snprintf(mm->code, sizeof(mm->code), "%s", an.code);
	mm->beta = v->beta;
	mm->lease_expires = an.lease_expires;
	mm->ts = an.ts;
	if (!a->quiet)
		fprintf(stderr,
			"corelocker-agent: unlocked %s into memory: %s tier %s (beta %g); %zu spans, %llu bytes "
			"restored, %llu bytes transferred\n",
			locked, mm->model_name, v->tier, v->beta, v->n, (unsigned long long)v->bytes,
			(unsigned long long)transferred);
out:
	if (r < 0)
		ag_memmodel_free(mm);
	cl_model_free(m);
	ag_vol_close(&vol);
	return r;
}
