/*
 * lock.c - cl_lock: rank units, fill the chosen ones (zeros, or a fill of
 * lib/fill.c) in a streamed copy of the model, and write the ranked originals
 * to the key.  The original's digests are computed on other threads while
 * the selection runs, and the shards are written and hashed side by side
 * (CORELOCKER_THREADS).  A BF16/F16 element pool's choice is a cut per group
 * (lib/select16.c), walked by the shard writers and re-ranked per group for
 * the key, so no list of picks or mask of the whole model is held.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clkey.h"
#include "dtype.h"
#include "error.h"
#include "fill.h"
#include "fingerprint.h"
#include "modelout.h"
#include "patch.h"
#include "select.h"
#include "select16.h"
#include "threads.h"

struct lock {
	const struct cl_lock_opts *o;
	struct cl_model *m;
	struct cl_group *g;
	size_t ng;
	struct cl_cut *cut;    /* per group: its choice as a cut (16-bit elements, lib/select16.c) */
	struct cl_pick *picks; /* the other groups' choice, group after group, rank order in each */
	uint64_t nlist;        /* entries of picks */
	uint64_t npicks;       /* units extracted in all */
	uint64_t **mask;       /* per group without a cut: bit u set when unit u is extracted */
	long *owner;           /* tensor -> group << 2 | member, or -1 */
	uint8_t (*orig)[CL_SHA256_LEN], (*locked)[CL_SHA256_LEN];
	uint8_t index_sha[CL_SHA256_LEN];
	uint8_t fill_seed[CL_SHA256_LEN];
	int seeded;                    /* fill_seed was computed */
	struct cl_fill_tensor **fillt; /* per tensor with extracted units, for a computed fill */
	uint64_t fill_buf;             /* bytes of the largest member stride */
	struct cl_model_out *mo;
	size_t *first;         /* shard -> index of its first tensor */
	pthread_mutex_t mu;    /* progress from the writing threads */
	uint32_t written;
};

static void progress(const struct lock *l, const char *phase, uint64_t done, uint64_t total)
{
	if (l->o->progress)
		l->o->progress(l->o->progress_arg, phase, done, total);
}

static int check_opts(const struct cl_lock_opts *o)
{
	if (!(o->ratio > 0) || o->ratio > 0.5)
		return cl_fail(CL_EINVAL, "--ratio %g is outside (0, 0.5]", o->ratio);
	if (o->unit < CL_UNIT_ELEMENT || o->unit > CL_UNIT_CHANNEL || o->scope < CL_SCOPE_LAYER ||
	    o->scope > CL_SCOPE_GLOBAL_NORM)
		return cl_fail(CL_EINVAL, "unknown unit or scope");
	if (o->fill < CL_FILL_ZERO || o->fill > CL_FILL_FLIP)
		return cl_fail(CL_EINVAL, "unknown fill");
	return 0;
}

static int append_picks(struct lock *l, struct cl_pick *p, uint64_t k)
{
	struct cl_pick *n = realloc(l->picks, (l->nlist + k + 1) * sizeof(*n));
	if (!n)
		return cl_fail(CL_ENOMEM, "out of memory");
	memcpy(n + l->nlist, p, k * sizeof(*p));
	l->picks = n;
	l->nlist += k;
	return 0;
}

static int run_pool(struct lock *l, size_t first, size_t n)
{
	struct cl_pool pool = {l->m, l->g + first, n, (uint32_t)first, l->o->unit};
	struct cl_pick *p = NULL;
	uint64_t k = 0;
	int r;

	if (l->o->select == CL_SELECT_TOP && cl_select16_applies(&pool)) {
		if ((r = cl_select16(&pool, l->o->ratio, l->cut + first, &k)) == 0)
			l->npicks += k;
		return r;
	}
	r = l->o->select == CL_SELECT_RANDOM ? cl_select_random(&pool, l->o->ratio, l->o->seed, &p, &k)
					     : cl_select_top(&pool, l->o->ratio, &p, &k);
	if (r == 0 && l->nlist == 0 && first + n == l->ng) { /* one pool: keep its array */
		free(l->picks);
		l->picks = p;
		l->nlist = l->npicks = k;
		return 0;
	}
	if (r == 0 && (r = append_picks(l, p, k)) == 0)
		l->npicks += k;
	free(p);
	return r;
}

static int select_units(struct lock *l)
{
	int r = 0;

	if (l->o->scope == CL_SCOPE_GLOBAL_NORM)
		cl_groups_normalize(l->m, l->g, l->ng, l->o->unit);
	if (l->o->scope != CL_SCOPE_LAYER)
		return run_pool(l, 0, l->ng);
	for (size_t i = 0; i < l->ng && r == 0; i++) {
		r = run_pool(l, i, 1);
		progress(l, "ranking", i + 1, l->ng);
	}
	return r;
}

static int build_masks(struct lock *l)
{
	l->mask = calloc(l->ng + 1, sizeof(*l->mask));
	l->owner = malloc((l->m->nt + 1) * sizeof(*l->owner));
	if (!l->mask || !l->owner)
		return cl_fail(CL_ENOMEM, "out of memory");
	for (size_t t = 0; t < l->m->nt; t++)
		l->owner[t] = -1;
	for (size_t i = 0; i < l->ng; i++) {
		if (!l->g[i].count)
			continue;
		if (!l->cut[i].on && !(l->mask[i] = calloc((l->g[i].units + 63) / 64, 8)))
			return cl_fail(CL_ENOMEM, "out of memory");
		for (unsigned j = 0; j < l->g[i].nm; j++)
			l->owner[l->g[i].m[j].tensor] = (long)(i << 2 | j);
	}
	for (uint64_t i = 0; i < l->nlist; i++) {
		uint64_t u = CL_PICK_UNIT(l->picks[i]);
		l->mask[CL_PICK_GROUP(l->picks[i])][u / 64] |= 1ull << (u % 64);
	}
	return 0;
}

static int fill_one(void *arg, size_t t, unsigned worker)
{
	struct lock *l = arg;
	const struct cl_tensor *ct = &l->m->t[t];

	(void)worker;
	if (l->owner[t] < 0)
		return 0;
	if (!(l->fillt[t] = malloc(sizeof(**l->fillt))))
		return cl_fail(CL_ENOMEM, "out of memory");
	return cl_fill_tensor_init(l->fillt[t], l->o->fill, l->fill_seed, ct->name, ct->dtype, ct->data, ct->nelem);
}

/* Statistics of every tensor with extracted units, from its original bytes: one tensor per core. */
static int prepare_fill(struct lock *l)
{
	int r;

	if (!l->seeded)
		return cl_fail(CL_ENOMEM, "out of memory");
	if (!(l->fillt = calloc(l->m->nt + 1, sizeof(*l->fillt))))
		return cl_fail(CL_ENOMEM, "out of memory");
	if ((r = cl_parallel(l->m->nt, fill_one, l)) < 0)
		return r;
	for (size_t t = 0; t < l->m->nt; t++) {
		if (l->owner[t] < 0)
			continue;
		uint64_t stride = l->g[l->owner[t] >> 2].m[l->owner[t] & 3].stride;
		l->fill_buf = stride > l->fill_buf ? stride : l->fill_buf;
	}
	return 0;
}

/*
 * Fill spans of one shard, in file order: tensors in order, set bits in
 * order.  BUF holds the current span's fill values (NULL: zeros); shards
 * are written on several threads, so each shard's iterator has its own.
 */
struct zero_iter {
	const struct lock *l;
	size_t t, end; /* tensor range of the shard */
	uint64_t u;    /* next unit to look at in tensor t */
	struct cl_cut_walk walk; /* tensor t's, when its group is a cut */
	uint8_t *buf;
};

/* The first extracted unit >= it->u of group I (g->units when none). */
static uint64_t next_unit(struct zero_iter *it, size_t i)
{
	const struct lock *l = it->l;
	const struct cl_group *g = &l->g[i];
	const uint64_t *mask = l->mask[i];
	uint64_t u = it->u;

	if (l->cut[i].on) { /* units come in order: the walk resumes where it stopped */
		if (u == 0)
			cl_cut_walk_init(&it->walk, l->m, g, &l->cut[i]);
		return cl_cut_walk_next(&it->walk);
	}
	while (u < g->units) {
		uint64_t w = mask[u / 64] >> (u % 64);
		if (w)
			return u + (uint64_t)__builtin_ctzll(w);
		u = (u / 64 + 1) * 64;
	}
	return g->units;
}

static int next_zero(void *ctx, struct cl_span *s)
{
	struct zero_iter *it = ctx;
	const struct lock *l = it->l;

	for (; it->t < it->end; it->t++, it->u = 0) {
		long own = l->owner[it->t];
		if (own < 0)
			continue;
		const struct cl_group *g = &l->g[own >> 2];
		uint64_t stride = g->m[own & 3].stride;
		if ((it->u = next_unit(it, (size_t)(own >> 2))) < g->units) {
			const struct cl_tensor *t = &l->m->t[it->t];
			s->off = t->file_off + it->u * stride;
			s->len = stride;
			s->src = it->buf;
			if (it->buf) {
				uint64_t n = stride / cl_dtype_get(t->dtype)->size;
				cl_fill_elements(l->fillt[it->t], it->u * n, n, t->data + it->u * stride, it->buf);
			}
			it->u++;
			return 1;
		}
	}
	return 0;
}

/* The fill's secret seed: a domain-separated hash of every original shard, in order. */
static int fill_seed(struct lock *l)
{
	struct cl_sha *seed;

	if (cl_sha_new(&seed) < 0)
		return cl_fail(CL_ENOMEM, "out of memory");
	cl_fill_seed_begin(seed);
	for (uint32_t i = 0; i < l->m->nshards; i++)
		cl_sha_update(seed, l->m->shards[i].map.data, (size_t)l->m->shards[i].map.size);
	cl_sha_final(seed, l->fill_seed);
	cl_sha_free(seed);
	l->seeded = 1;
	return 0;
}

static int hash_one(void *arg, size_t i, unsigned worker)
{
	struct lock *l = arg;
	(void)worker;
	if (i < l->m->nshards)
		cl_sha256(l->m->shards[i].map.data, (size_t)l->m->shards[i].map.size, l->orig[i]);
	else if (i == l->m->nshards && l->m->sharded)
		cl_sha256(l->m->index.data, (size_t)l->m->index.size, l->index_sha);
	else
		return fill_seed(l);
	return 0;
}

/* The originals' digests, one shard per core, alongside the ranking (and the fill seed). */
static void *hash_originals(void *arg)
{
	struct lock *l = arg;
	size_t tasks = l->m->nshards + (l->m->sharded ? 1 : 0);
	cl_parallel(tasks + (cl_fill_computed(l->o->fill) ? 1 : 0), hash_one, l);
	return NULL;
}

static int write_shard(void *arg, size_t s, unsigned worker)
{
	struct lock *l = arg;
	const struct cl_shard *sh = &l->m->shards[s];
	struct zero_iter it = {.l = l, .t = l->first[s], .end = l->first[s] + sh->st.n};
	int r;

	if (l->fillt && !(it.buf = malloc(l->fill_buf)))
		return cl_fail(CL_ENOMEM, "out of memory");
	r = cl_patch_write_digest(&sh->map, next_zero, &it, l->mo->shard[s], l->locked[s]);
	free(it.buf);

	(void)worker;
	pthread_mutex_lock(&l->mu);
	progress(l, "writing", ++l->written, l->m->nshards);
	pthread_mutex_unlock(&l->mu);
	return r;
}

/* Shards are independent files: one per core. */
static int write_locked(struct lock *l, struct cl_model_out *mo)
{
	if (!(l->first = malloc((l->m->nshards + 1) * sizeof(*l->first))))
		return cl_fail(CL_ENOMEM, "out of memory");
	l->first[0] = 0;
	for (uint32_t s = 0; s < l->m->nshards; s++)
		l->first[s + 1] = l->first[s] + l->m->shards[s].st.n;
	l->mo = mo;
	return cl_parallel(l->m->nshards, write_shard, l);
}

static void hex_set(json_t *o, const char *k, const uint8_t *d)
{
	char hex[CL_SHA256_HEX];
	cl_hex(d, CL_SHA256_LEN, hex);
	json_object_set_new(o, k, json_string(hex));
}

static json_t *tensor_json(const struct cl_tensor *t)
{
	json_t *shape = json_array();
	for (unsigned i = 0; i < t->ndim; i++)
		json_array_append_new(shape, json_integer((json_int_t)t->shape[i]));
	return json_pack("{s:s, s:s, s:o, s:I, s:[I,I]}", "name", t->name, "dtype",
			 cl_dtype_get(t->dtype)->name, "shape", shape, "shard", (json_int_t)t->shard,
			 "data_offsets", (json_int_t)t->begin, (json_int_t)t->end);
}

static json_t *key_header(const struct lock *l)
{
	json_t *h = json_object(), *shards = json_array(), *tensors = json_array(), *groups = json_array();
	const char **names = malloc(l->m->nshards * sizeof(*names));
	uint8_t fp[CL_SHA256_LEN];
	uint64_t finite = 0;
	size_t nt = 0;

	if (!h || !names)
		goto fail;
	json_object_set_new(h, "format", json_string("clkey"));
	json_object_set_new(h, "unit", json_string(cl_unit_name(l->o->unit)));
	json_object_set_new(h, "scope", json_string(cl_scope_name(l->o->scope)));
	json_object_set_new(h, "select", json_string(l->o->select == CL_SELECT_RANDOM ? "random" : "top"));
	json_object_set_new(h, "seed", json_integer(l->o->select == CL_SELECT_RANDOM ? (json_int_t)(l->o->seed & INT64_MAX) : 0));
	json_object_set_new(h, "alpha", json_real(l->o->ratio));
	if (l->o->fill != CL_FILL_ZERO) { /* absent: zero, so keys of zero locks stay as they were */
		json_object_set_new(h, "fill", json_string(cl_fill_name(l->o->fill)));
		hex_set(h, "fill_seed", l->fill_seed);
	}
	for (uint32_t i = 0; i < l->m->nshards; i++)
		names[i] = l->m->shards[i].name;
	cl_fingerprint(l->m->sharded ? l->index_sha : NULL, l->m->nshards, names,
		       (const uint8_t(*)[CL_SHA256_LEN])l->locked, fp);
	hex_set(h, "locked_sha256", fp);
	cl_fingerprint(l->m->sharded ? l->index_sha : NULL, l->m->nshards, names,
		       (const uint8_t(*)[CL_SHA256_LEN])l->orig, fp);
	hex_set(h, "original_sha256", fp);
	json_object_set_new(h, "sharded", json_boolean(l->m->sharded));
	for (uint32_t i = 0; i < l->m->nshards; i++) {
		const struct cl_shard *s = &l->m->shards[i];
		json_t *o = json_pack("{s:s, s:I, s:I}", "file", s->name, "header_len",
				      (json_int_t)s->st.header_len, "size", (json_int_t)s->map.size);
		hex_set(o, "locked_sha256", l->locked[i]);
		hex_set(o, "original_sha256", l->orig[i]);
		json_array_append_new(shards, o);
	}
	for (size_t i = 0; i < l->ng; i++) {
		const struct cl_group *g = &l->g[i];
		json_t *mem;
		finite += g->finite;
		if (!g->count)
			continue;
		mem = json_array();
		for (unsigned j = 0; j < g->nm; j++) {
			json_array_append_new(tensors, tensor_json(&l->m->t[g->m[j].tensor]));
			json_array_append_new(mem, json_pack("[I,I]", (json_int_t)nt++, (json_int_t)g->m[j].stride));
		}
		json_t *gj = json_pack("{s:o, s:I, s:I, s:I, s:i}", "members", mem, "units", (json_int_t)g->units,
				       "finite", (json_int_t)g->finite, "count", (json_int_t)g->count, "index_bytes",
				       (int)cl_key_index_bytes(CL_KEY_VERSION, g->units));
		if (l->o->scope == CL_SCOPE_GLOBAL_NORM) /* %.17g: the tier cut recomputes scores exactly */
			json_object_set_new(gj, "scale", json_real(g->scale));
		json_array_append_new(groups, gj);
	}
	json_object_set_new(h, "shards", shards);
	json_object_set_new(h, "tensors", tensors);
	json_object_set_new(h, "groups", groups);
	json_object_set_new(h, "finite", json_integer((json_int_t)finite));
	json_object_set_new(h, "count", json_integer((json_int_t)l->npicks));
	free(names);
	return h;
fail:
	free(names);
	json_decref(h);
	json_decref(shards);
	json_decref(tensors);
	json_decref(groups);
	return NULL;
}

/* The records of group G's units U[0..n), in that (rank) order. */
static int write_records(struct lock *l, struct cl_out *o, const struct cl_group *g, const uint64_t *u, uint64_t n)
{
	int r = 0;

	for (uint64_t i = 0; i < n && r == 0; i++) {
		if (i + 8 < n) /* rank order jumps around the tensor */
			__builtin_prefetch(l->m->t[g->m[0].tensor].data + u[i + 8] * g->m[0].stride);
		r = cl_key_write_record(o, cl_key_index_bytes(CL_KEY_VERSION, g->units), u[i]);
		for (unsigned j = 0; j < g->nm && r == 0; j++)
			r = cl_out_write(o, l->m->t[g->m[j].tensor].data + u[i] * g->m[j].stride,
					 (size_t)g->m[j].stride);
	}
	return r;
}

/*
 * Records group after group, each in rank order.  The header holds the
 * locked shards' digests, so the key is written last; a cut group's ranked
 * units are regenerated here from the mapped original (two integer scans of
 * that tensor, lib/select16.c) rather than kept since the ranking or spooled
 * to a file: memory stays one group's units, and the scans cost less than
 * writing and re-reading 16 bytes per extracted unit.
 */
static int write_key(struct lock *l, struct cl_out *o)
{
	json_t *h = key_header(l);
	uint64_t *u = NULL, most = 0, at = 0;
	int r;

	if (!h)
		return cl_fail(CL_ENOMEM, "out of memory");
	r = cl_key_write_header(o, h);
	json_decref(h);
	for (size_t i = 0; i < l->ng; i++)
		most = l->g[i].count > most ? l->g[i].count : most;
	if (r == 0 && !(u = malloc((most + 1) * sizeof(*u))))
		r = cl_fail(CL_ENOMEM, "out of memory");
	for (size_t i = 0; i < l->ng && r == 0; i++) {
		const struct cl_group *g = &l->g[i];
		if (!g->count)
			continue;
		if (l->cut[i].on) {
			r = cl_cut_ranked(l->m, g, &l->cut[i], u);
		} else {
			for (uint64_t j = 0; j < g->count; j++)
				u[j] = CL_PICK_UNIT(l->picks[at + j]);
			at += g->count;
		}
		if (r == 0)
			r = write_records(l, o, g, u, g->count);
	}
	free(u);
	if (r == 0)
		r = cl_key_write_trailer(o);
	return r;
}

static void lock_free(struct lock *l)
{
	for (size_t i = 0; l->mask && i < l->ng; i++)
		free(l->mask[i]);
	free(l->mask);
	for (size_t t = 0; l->fillt && t < l->m->nt; t++)
		free(l->fillt[t]);
	free(l->fillt);
	free(l->owner);
	free(l->first);
	free(l->picks);
	free(l->cut);
	free(l->g);
	free(l->orig);
	free(l->locked);
	cl_model_free(l->m);
}

int cl_lock(const char *model, const char *out, const char *key, const struct cl_lock_opts *opts,
	    struct cl_lock_stats *stats)
{
	struct lock l = {.o = opts, .mu = PTHREAD_MUTEX_INITIALIZER};
	struct cl_model_out mo = {0};
	struct cl_out *ko = NULL;
	pthread_t hasher;
	int r, hashing = 0;

	if ((r = check_opts(opts)) < 0 || (r = cl_model_open(model, &l.m)) < 0)
		goto out;
	l.orig = calloc(l.m->nshards, CL_SHA256_LEN);
	l.locked = calloc(l.m->nshards, CL_SHA256_LEN);
	if (!l.orig || !l.locked) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	if ((r = cl_groups_build(l.m, opts->unit, opts->include, opts->exclude, &l.g, &l.ng)) < 0)
		goto out;
	if (l.ng == 0) {
		r = cl_fail(CL_ENOUNITS, "%s: no tensor is eligible for unit '%s'", model, cl_unit_name(opts->unit));
		goto out;
	}
	if (!(l.cut = calloc(l.ng, sizeof(*l.cut)))) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	if ((r = cl_model_out_open(l.m, out, &mo)) < 0 || (r = cl_out_open(key, 0600, &ko)) < 0)
		goto out;
	hashing = pthread_create(&hasher, NULL, hash_originals, &l) == 0;
	if (!hashing)
		hash_originals(&l);
	r = select_units(&l);
	if (r == 0 && l.npicks == 0)
		r = cl_fail(CL_ENOUNITS, "ratio %g extracts no unit from %s: the locked model would be the original",
			    opts->ratio, model);
	if (r == 0)
		r = build_masks(&l);
	if (r == 0 && cl_fill_computed(opts->fill)) { /* its seed is a hash of the originals */
		if (hashing)
			pthread_join(hasher, NULL);
		hashing = 0;
		r = prepare_fill(&l);
	}
	if (r == 0)
		r = write_locked(&l, &mo);
	if (hashing)
		pthread_join(hasher, NULL);
	if (r == 0)
		r = write_key(&l, ko);
	/* The key lands first: a key without its locked model is harmless. */
	if (r == 0) {
		if (stats) {
			memset(stats, 0, sizeof(*stats));
			stats->model_bytes = l.m->bytes;
			stats->key_bytes = cl_out_size(ko);
			stats->units_locked = l.npicks;
			for (size_t i = 0; i < l.ng; i++) {
				stats->units_total += l.g[i].finite;
				stats->tensors_touched += l.g[i].count ? l.g[i].nm : 0;
			}
		}
		r = cl_out_commit(ko);
		ko = NULL;
	}
	if (r == 0)
		r = cl_model_out_commit(&mo);
out:
	cl_out_abort(ko);
	cl_model_out_abort(&mo);
	lock_free(&l);
	return r;
}
