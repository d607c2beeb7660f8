/* cmd_inspect.c - corelockerctl inspect: describe a model or a key. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int run(int argc, char **argv);

const struct ctl_opt ctl_inspect_opts[] = {
	{'k', "key", 'k', "KEY", "say whether FILE is this key's locked model, one of its tiers, the original or none"},
	{0, "json", 'j', NULL, "print the description as one JSON object"},
	{0},
};

const struct ctl_cmd ctl_inspect_cmd = {
	"inspect", "describe a safetensors model, sharded index, .clkey or key volume",
	"FILE [-k KEY] [--json]",
	run,
};

static void shape_str(json_t *shape, char *buf, size_t len)
{
	size_t i, n = 0;
	json_t *v;

	buf[0] = 0;
	n += (size_t)snprintf(buf, len, "[");
	json_array_foreach(shape, i, v)
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
	if (n < len)
		snprintf(buf + n, len - n, "]");
}

static void print_model(json_t *d)
{
	size_t i;
	json_t *t, *s;
	char b[32], shape[128];

	printf("safetensors %s%s: %lld tensors, %s\n", json_string_value(json_object_get(d, "path")),
	       json_is_true(json_object_get(d, "sharded")) ? " (sharded)" : "",
	       (long long)json_integer_value(json_object_get(d, "tensor_count")),
	       ctl_bytes((uint64_t)json_integer_value(json_object_get(d, "bytes")), b, sizeof(b)));
	printf("sha256 %s\n", json_string_value(json_object_get(d, "sha256")));
	json_array_foreach(json_object_get(d, "shards"), i, s)
		printf("shard %s  header %lld bytes  sha256 %s\n", json_string_value(json_object_get(s, "file")),
		       (long long)json_integer_value(json_object_get(s, "header_len")),
		       json_string_value(json_object_get(s, "sha256")));
	printf("\n%-40s %-6s %-20s %12s\n", "TENSOR", "DTYPE", "SHAPE", "BYTES");
	json_array_foreach(json_object_get(d, "tensors"), i, t) {
		shape_str(json_object_get(t, "shape"), shape, sizeof(shape));
		printf("%-40s %-6s %-20s %12lld\n", json_string_value(json_object_get(t, "name")),
		       json_string_value(json_object_get(t, "dtype")), shape,
		       (long long)json_integer_value(json_object_get(t, "bytes")));
	}
	/* a lock keeps the header byte for byte, metadata included */
	printf("\nlocked, tier or original: cannot tell without the key (inspect FILE -k KEY)\n");
}

static void print_key(json_t *d)
{
	size_t i, j;
	json_t *g, *t;
	char b[32];

	printf(".clkey %s: version %lld, unit %s, scope %s, select %s, fill %s, alpha %g\n",
	       json_string_value(json_object_get(d, "path")),
	       (long long)json_integer_value(json_object_get(d, "version")),
	       json_string_value(json_object_get(d, "unit")), json_string_value(json_object_get(d, "scope")),
	       json_string_value(json_object_get(d, "select")), json_string_value(json_object_get(d, "fill")),
	       json_real_value(json_object_get(d, "alpha")));
	printf("extracted %lld of %lld units, key %s\n", (long long)json_integer_value(json_object_get(d, "extracted")),
	       (long long)json_integer_value(json_object_get(d, "units")),
	       ctl_bytes((uint64_t)json_integer_value(json_object_get(d, "bytes")), b, sizeof(b)));
	printf("locked   sha256 %s\noriginal sha256 %s\n", json_string_value(json_object_get(d, "locked_sha256")),
	       json_string_value(json_object_get(d, "original_sha256")));
	printf("\n%-40s %-6s %12s %12s %12s\n", "TENSOR", "DTYPE", "UNITS", "EXTRACTED", "KEY BYTES");
	json_array_foreach(json_object_get(d, "groups"), i, g) {
		char names[256] = "";
		size_t n = 0;
		json_array_foreach(json_object_get(g, "tensors"), j, t)
			if (n < sizeof(names))
				n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", j ? "+" : "", json_string_value(t));
		printf("%-40s %-6s %12lld %12lld %12lld\n", names, json_string_value(json_object_get(g, "dtype")),
		       (long long)json_integer_value(json_object_get(g, "units")),
		       (long long)json_integer_value(json_object_get(g, "extracted")),
		       (long long)json_integer_value(json_object_get(g, "key_bytes")));
	}
}

static void print_volume(json_t *d)
{
	json_t *h = json_object_get(d, "header"), *x;
	char b[32];

	printf("key volume %s: %s %s, tier %s (beta %g)", json_string_value(json_object_get(d, "path")),
	       json_string_value(json_object_get(h, "model_name")), json_string_value(json_object_get(h, "model_version")),
	       json_string_value(json_object_get(h, "tier")), json_number_value(json_object_get(h, "beta")));
	if (json_is_string(x = json_object_get(h, "from_tier")))
		printf(", upgrade from tier %s (beta %g)", json_string_value(x),
		       json_number_value(json_object_get(h, "from_beta")));
	printf("\nunit %s, scope %s, alpha %g\n", json_string_value(json_object_get(h, "unit")),
	       json_string_value(json_object_get(h, "scope")), json_number_value(json_object_get(h, "alpha")));
	printf("%lld spans, %lld bytes restored, volume %s\n", (long long)json_integer_value(json_object_get(d, "entries")),
	       (long long)json_integer_value(json_object_get(d, "bytes")),
	       ctl_bytes((uint64_t)json_integer_value(json_object_get(d, "file_bytes")), b, sizeof(b)));
	printf("license %lld, expires %s\n", (long long)json_integer_value(json_object_get(h, "license")),
	       json_is_string(x = json_object_get(h, "expires_at")) ? json_string_value(x) : "never");
	printf("nonce %s, issued %s\n", json_string_value(json_object_get(h, "nonce")),
	       json_string_value(json_object_get(h, "ts")));
	printf("locked   sha256 %s\n", json_string_value(json_object_get(h, "locked_sha256")));
	if (json_is_string(x = json_object_get(h, "original_sha256")))
		printf("original sha256 %s\n", json_string_value(x));
	printf("signature %s\n", json_string_value(json_object_get(d, "signature")));
}

/* With a key: which of the key's files MODEL is. */
static void print_identity(json_t *d)
{
	const char *is = json_string_value(json_object_get(d, "is"));
	long long units = (long long)json_integer_value(json_object_get(d, "units")),
		  restored = (long long)json_integer_value(json_object_get(d, "units_restored"));

	printf("%s: ", json_string_value(json_object_get(d, "path")));
	if (!strcmp(is, "locked"))
		printf("the locked model of this key (beta %g, none of its %lld units restored)\n",
		       json_real_value(json_object_get(d, "beta")), units);
	else if (!strcmp(is, "original"))
		printf("the original model of this key (all %lld units restored)\n", units);
	else if (!strcmp(is, "tier"))
		printf("a tier of this key: beta %.9g, %lld of its %lld units restored\n",
		       json_real_value(json_object_get(d, "beta")), restored, units);
	else
		printf("neither the locked model, a tier nor the original of this key: %s\n",
		       json_string_value(json_object_get(d, "reason")));
}

static int run(int argc, char **argv)
{
	const char *key = NULL;
	json_t *d;
	int c, json = 0, r;

	optind = 1;
	while ((c = ctl_getopt(argc, argv, ctl_inspect_opts)) != -1) {
		if (c == 'k')
			key = optarg;
		else if (c == 'j')
			json = 1;
		else
			return ctl_usage(&ctl_inspect_cmd, "invalid option");
	}
	if (optind != argc - 1)
		return ctl_usage(&ctl_inspect_cmd, "expected exactly one FILE");
	if ((r = key ? cl_identify(argv[optind], key, &d) : cl_describe(argv[optind], &d)) < 0)
		return ctl_fail(r);
	if (json) {
		json_dumpf(d, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (key) {
		print_identity(d);
	} else if (!strcmp(json_string_value(json_object_get(d, "type")), "clkey")) {
		print_key(d);
	} else if (!strcmp(json_string_value(json_object_get(d, "type")), "clvol")) {
		print_volume(d);
	} else {
		print_model(d);
	}
	json_decref(d);
	return 0;
}
