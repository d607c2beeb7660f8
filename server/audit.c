/* audit.c - appending to and verifying the hash chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "digest.h"
#include "log.h"
#include "store.h"
#include "util.h"

static const char zero_hash[] = "0000000000000000000000000000000000000000000000000000000000000000";

static int entry_hash(const char *prev, int64_t seq, int64_t ts, const char *actor, const char *action,
		      const char *target, const char *detail, char out[CL_SHA256_HEX])
{
	struct cl_sha *s;
	uint8_t d[CL_SHA256_LEN];
	char nums[64];

	if (cl_sha_new(&s) < 0)
		return -1;
	snprintf(nums, sizeof(nums), "\n%lld\n%lld\n", (long long)seq, (long long)ts);
	cl_sha_update(s, prev, strlen(prev));
	cl_sha_update(s, nums, strlen(nums));
	cl_sha_update(s, actor, strlen(actor));
	cl_sha_update(s, "\n", 1);
	cl_sha_update(s, action, strlen(action));
	cl_sha_update(s, "\n", 1);
	cl_sha_update(s, target, strlen(target));
	cl_sha_update(s, "\n", 1);
	cl_sha_update(s, detail, strlen(detail));
	cl_sha_final(s, d);
	cl_sha_free(s);
	cl_hex(d, sizeof(d), out);
	return 0;
}

int audit_append(sqlite3 *db, const char *actor, const char *action, const char *target, json_t *detail)
{
	char prev[CL_SHA256_HEX], hash[CL_SHA256_HEX], *text;
	int64_t seq = 1, ts = now_s();
	sqlite3_stmt *st;
	int rc;

	text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	if (!text)
		return -1;
	snprintf(prev, sizeof(prev), "%s", zero_hash);
	if (!(st = store_q(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")))
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0) + 1;
		snprintf(prev, sizeof(prev), "%s", store_text(st, 1));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	if (entry_hash(prev, seq, ts, actor, action, target, text, hash) < 0)
		goto fail;
	st = store_q(db, "INSERT INTO audit (seq, ts, actor, action, target, detail, prev_hash, hash) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, ts);
	store_bind_text(st, 3, actor);
	store_bind_text(st, 4, action);
	store_bind_text(st, 5, target);
	store_bind_text(st, 6, text);
	store_bind_text(st, 7, prev);
	store_bind_text(st, 8, hash);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_err("audit: cannot append: %s", sqlite3_errmsg(db));
		goto fail;
	}
	free(text);
	return 0;
fail:
	free(text);
	return -1;
}

int audit_verify(sqlite3 *db, int64_t *n, int64_t *bad)
{
	char prev[CL_SHA256_HEX], hash[CL_SHA256_HEX];
	sqlite3_stmt *st;
	int64_t expect = 1;
	int rc, r = 0;

	snprintf(prev, sizeof(prev), "%s", zero_hash);
	*n = 0;
	*bad = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT seq, ts, actor, action, target, detail, prev_hash, hash FROM audit ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		if (seq != expect || strcmp(store_text(st, 6), prev) != 0 ||
		    entry_hash(prev, seq, sqlite3_column_int64(st, 1), store_text(st, 2), store_text(st, 3),
			       store_text(st, 4), store_text(st, 5), hash) < 0 ||
		    strcmp(hash, store_text(st, 7)) != 0) {
			*bad = seq;
			r = -1;
			break;
		}
		snprintf(prev, sizeof(prev), "%s", hash);
		expect++;
		(*n)++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = -1;
	sqlite3_finalize(st);
	return r;
}
