/*
 * cmd_trace.c - corelockerctl trace SUSPECT -k KEY: which license leaked a
 * model (docs/trace.md).  The key gives the original values; the server
 * gives the model's licenses and the secret of their codes; lib/mark.c
 * scores the suspect against each.  A license is named only when the
 * false-positive probability (Hoeffding, times the number of licenses
 * scored) is at most CL_MARK_FP_MAX.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "mark.h"
#include "remote.h"

/* The best license so far; MODEL and LICENSE borrow from the kept answers. */
struct best {
	json_t *model, *license;
	double z;
	uint64_t used;
	size_t n; /* licenses scored, over every model */
};

/*
 * Score SUSPECT against the licenses of MODEL (from GET /v1/models), keep
 * the server's answer in ANSWERS, a score per license in SCORES and the
 * best in B.  0 or an exit status.
 */
static int trace_model(struct remote *rc, json_t *model, const struct cl_key *k, const struct cl_model *suspect,
		       json_t *answers, json_t *scores, struct best *b)
{
	json_int_t mid = json_integer_value(json_object_get(model, "id"));
	json_t *t, *lics, *l, *sec;
	uint8_t secret[CL_MARK_SECRET_LEN];
	int64_t *ids = NULL;
	struct cl_mark_score *s = NULL;
	size_t n, i;
	int r;

	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long)mid);
	if ((r = remote_callf(rc, "POST", NULL, &t, "/v1/models/%s/trace", id)))
		return r;
	json_array_append_new(answers, t);
	lics = json_object_get(t, "licenses");
	sec = json_object_get(t, "secret");
	n = json_array_size(lics);
	if (!json_is_string(sec) || json_string_length(sec) != 2 * sizeof(secret) ||
	    cl_unhex(json_string_value(sec), secret, sizeof(secret)) < 0 ||
	    json_number_value(json_object_get(t, "delta")) != CL_MARK_DELTA) {
		fprintf(stderr, "corelockerctl: model %lld: the server's answer has no usable secret, or its marks "
				"have another amplitude than this corelockerctl's\n", (long long)mid);
		return RX_ERROR;
	}
	if (!(ids = calloc(n + 1, sizeof(*ids))) || !(s = calloc(n + 1, sizeof(*s)))) {
		r = ctl_fail(CL_ENOMEM);
		goto out;
	}
	json_array_foreach(lics, i, l)
		ids[i] = (int64_t)json_integer_value(json_object_get(l, "id"));
	if ((r = cl_mark_trace(k, suspect, secret, ids, n, s)) < 0) {
		r = ctl_fail(r);
		goto out;
	}
	json_array_foreach(lics, i, l) {
		double z = cl_mark_z(&s[i]);
		json_array_append_new(scores, json_pack("{s:I,s:I,s:f,s:I}", "model", mid, "license", (json_int_t)ids[i],
							"score", z, "elements", (json_int_t)s[i].used));
		if (!b->license || z > b->z) {
			b->model = model;
			b->license = l;
			b->z = z;
			b->used = s[i].used;
		}
	}
	b->n += n;
	r = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(ids);
	free(s);
	return r;
}

static void report(struct remote *rc, const struct best *b, json_t *scores)
{
	double fp = cl_mark_fp(b->z, b->n);
	int match = b->license && fp <= CL_MARK_FP_MAX;
	json_t *l = b->license;

	if (rc->json) {
		json_t *j = json_pack("{s:b,s:o,s:o,s:f,s:f,s:f,s:I,s:I,s:O}", "match", match, "model",
				      b->model ? json_incref(json_object_get(b->model, "id")) : json_null(), "license",
				      l ? json_incref(l) : json_null(), "score", b->z, "false_positive", fp, "threshold",
				      CL_MARK_FP_MAX, "licenses", (json_int_t)b->n, "elements", (json_int_t)b->used,
				      "scores", scores);
		char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(j);
		return;
	}
	if (!match) {
		if (l)
			printf("no license matches (best: license %lld, score %.2f, false-positive probability %.3g; "
			       "%zu licenses scored)\n",
			       (long long)json_integer_value(json_object_get(l, "id")), b->z, fp, b->n);
		else
			printf("no license matches (the model has no licenses)\n");
		return;
	}
	printf("license %lld matches: customer %s, tier %s, model %s %s\n",
	       (long long)json_integer_value(json_object_get(l, "id")),
	       json_string_value(json_object_get(l, "customer")), json_string_value(json_object_get(l, "tier")),
	       json_string_value(json_object_get(b->model, "name")),
	       json_string_value(json_object_get(b->model, "version")));
	printf("score %.2f over %llu elements; false-positive probability %.3g (%zu licenses scored)\n", b->z,
	       (unsigned long long)b->used, fp, b->n);
}

static int run_trace(struct remote *rc, char **args, const char **val)
{
	struct cl_key *k = NULL;
	struct cl_model *m = NULL;
	json_t *models = NULL, *answers = json_array(), *scores = json_array(), *mo;
	struct best b = {0};
	char locked[CL_SHA256_HEX];
	size_t i;
	int r;

	if (!val[0]) {
		r = remote_fail_usage(rc, "trace needs -k KEY, the model's .clkey");
		goto out;
	}
	if (!answers || !scores) {
		r = ctl_fail(CL_ENOMEM);
		goto out;
	}
	if ((r = cl_key_load(val[0], &k)) < 0 || (r = cl_model_open(args[0], &m)) < 0) {
		r = ctl_fail(r);
		goto out;
	}
	/* The key's models on the server: those locked into the same file. */
	cl_hex(k->locked, CL_SHA256_LEN, locked);
	if ((r = remote_callf(rc, "GET", NULL, &models, "/v1/models")))
		goto out;
	json_array_foreach(json_object_get(models, "models"), i, mo) {
		const char *h = json_string_value(json_object_get(mo, "locked_sha256"));
		if (h && !strcmp(h, locked) && (r = trace_model(rc, mo, k, m, answers, scores, &b)))
			goto out;
	}
	if (!json_array_size(answers)) {
		fprintf(stderr, "corelockerctl: the server holds no model locked with %s\n", val[0]);
		r = RX_NOT_FOUND;
		goto out;
	}
	report(rc, &b, scores);
	r = b.license && cl_mark_fp(b.z, b.n) <= CL_MARK_FP_MAX ? RX_OK : RX_NOT_FOUND;
out:
	json_decref(models);
	json_decref(answers);
	json_decref(scores);
	cl_model_free(m);
	cl_key_free(k);
	return r;
}

static const struct sub_opt trace_opts[] = {
    {"key", "KEY", "the model's .clkey (-k): the original values the suspect is compared with"},
    {NULL, NULL, NULL},
};

/* One subcommand without a name: `trace SUSPECT`. */
static const struct ctl_sub subs[] = {
    {"", "SUSPECT", 1,
     "name the license whose copy SUSPECT (a .safetensors or a sharded *.index.json) is, or say that none is",
     trace_opts, run_trace},
};

static int run(int argc, char **argv)
{
	char **av = calloc((size_t)argc + 2, sizeof(*av));
	int r;

	if (!av)
		return ctl_fail(CL_ENOMEM);
	av[0] = argv[0];
	av[1] = "";
	for (int i = 1; i < argc; i++)
		av[i + 1] = strcmp(argv[i], "-k") ? argv[i] : "--key";
	r = remote_main(&ctl_trace_cmd, subs, 1, argc + 1, av);
	free(av);
	return r;
}

const struct ctl_cmd ctl_trace_cmd = {
    "trace",
    "remote: name the license a leaked copy of a model came from",
    "SUSPECT -k KEY [--json]",
    run,
};
