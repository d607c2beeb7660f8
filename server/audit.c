/* audit.c - appending to and verifying the keyed hash chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "digest.h"
#include "log.h"
#include "seal.h"
#include "store.h"
#include "util.h"

static const char zero_hash[] = "0000000000000000000000000000000000000000000000000000000000000000";
static const char key_label[] = "corelockerd audit key v1";

static uint8_t audit_key[32];
static int have_key;

int audit_key_init(const uint8_t master[32])
{
	if (cl_hmac_sha256(master, 32, key_label, strlen(key_label), audit_key) < 0)
		return -1;
	have_key = 1;
	return 0;
}

void audit_key_wipe(void)
{
	OPENSSL_cleanse(audit_key, sizeof(audit_key));
	have_key = 0;
}

struct entry {
	int64_t seq, ts;
	const char *actor, *action, *target, *detail;
};

/* The text both digests cover (see audit.h); malloc'ed. */
static char *entry_text(const char *prev, const struct entry *e)
{
	char *t;

	if (asprintf(&t, "%s\n%lld\n%lld\n%s\n%s\n%s\n%s", prev, (long long)e->seq, (long long)e->ts, e->actor,
		     e->action, e->target, e->detail) < 0)
		return NULL;
	return t;
}

static int entry_digests(const char *prev, const struct entry *e, char hash[CL_SHA256_HEX], char mac[CL_SHA256_HEX])
{
	uint8_t d[CL_SHA256_LEN];
	char *t = entry_text(prev, e);
	int r = -1;

	if (!t)
		return -1;
	cl_sha256(t, strlen(t), d);
	cl_hex(d, sizeof(d), hash);
	if (!have_key || cl_hmac_sha256(audit_key, sizeof(audit_key), t, strlen(t), d) < 0)
		goto out;
	cl_hex(d, sizeof(d), mac);
	r = 0;
out:
	free(t);
	return r;
}

/* The last entry: 1 (seq, hash, keyed set), 0 when the log is empty, -1. */
static int last_entry(struct db *db, int64_t *seq, char hash[CL_SHA256_HEX], int *keyed)
{
	struct dbq *st = db_q(db, "SELECT seq, hash, mac IS NOT NULL FROM audit ORDER BY seq DESC LIMIT 1");
	int rc;

	if (!st)
		return -1;
	if ((rc = db_step(st)) == DB_ROW) {
		*seq = db_int(st, 0);
		snprintf(hash, CL_SHA256_HEX, "%s", db_text(st, 1));
		*keyed = db_int(st, 2);
	}
	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

int audit_append(struct db *db, const char *actor, const char *action, const char *target, json_t *detail)
{
	char prev[CL_SHA256_HEX], hash[CL_SHA256_HEX], mac[CL_SHA256_HEX], *text;
	struct entry e = {1, db_now(db), actor, action, target, NULL};
	struct dbq *st;
	int rc, keyed;

	text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	if (!text)
		return -1;
	e.detail = text;
	snprintf(prev, sizeof(prev), "%s", zero_hash);
	if ((rc = last_entry(db, &e.seq, prev, &keyed)) < 0)
		goto fail;
	if (rc == 1)
		e.seq++;
	if (entry_digests(prev, &e, hash, mac) < 0) {
		log_err("audit: cannot compute the entry's digests%s", have_key ? "" : " (no audit key)");
		goto fail;
	}
	st = db_q(db, "INSERT INTO audit (seq, ts, actor, action, target, detail, prev_hash, hash, mac) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
	if (!st)
		goto fail;
	db_bind_int(st, 1, e.seq);
	db_bind_int(st, 2, e.ts);
	db_bind_text(st, 3, actor);
	db_bind_text(st, 4, action);
	db_bind_text(st, 5, target);
	db_bind_text(st, 6, text);
	db_bind_text(st, 7, prev);
	db_bind_text(st, 8, hash);
	db_bind_text(st, 9, mac);
	rc = db_step(st);
	db_reset(st);
	if (rc != DB_DONE) {
		log_err("audit: cannot append: %s", db_errmsg(db));
		goto fail;
	}
	free(text);
	return 0;
fail:
	free(text);
	return -1;
}

int audit_key_chain(struct db *db)
{
	char hash[CL_SHA256_HEX];
	struct dbq *st;
	int64_t seq = 0;
	int keyed = 0, rc, any;
	json_t *detail;

	if ((rc = last_entry(db, &seq, hash, &keyed)) <= 0 || keyed)
		return rc < 0 ? -1 : 0;
	/* a keyed entry followed by unkeyed ones is a broken chain, not an old one */
	if (!(st = db_q(db, "SELECT 1 FROM audit WHERE mac IS NOT NULL LIMIT 1")))
		return -1;
	any = db_step(st) == DB_ROW;
	db_reset(st);
	if (any) {
		log_err("audit: entry %lld has no mac after keyed entries; run corelockerd audit-verify", (long long)seq);
		return 0;
	}
	if (store_begin(db) != DB_OK)
		return -1;
	detail = json_pack("{s:I,s:i}", "unkeyed_entries", (json_int_t)seq, "chain_version", 2);
	rc = audit_append(db, "server", "audit.keyed", "audit", detail);
	json_decref(detail);
	if (rc < 0 || store_commit(db) != DB_OK) {
		store_rollback(db);
		return -1;
	}
	log_info("audit: the chain is keyed from entry %lld on (%lld earlier entries stay plain SHA-256)",
		 (long long)seq + 1, (long long)seq);
	return 0;
}

int audit_verify(struct db *db, struct audit_status *s)
{
	char prev[CL_SHA256_HEX], hash[CL_SHA256_HEX], mac[CL_SHA256_HEX];
	int64_t first_keyed = 0;
	struct dbq *st;
	int rc, r = 0;

	memset(s, 0, sizeof(*s));
	snprintf(prev, sizeof(prev), "%s", zero_hash);
	if (!(st = db_q(db, "SELECT seq, ts, actor, action, target, detail, prev_hash, hash, mac FROM audit "
			    "ORDER BY seq")))
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		struct entry e = {db_int(st, 0), db_int(st, 1), db_text(st, 2),
				  db_text(st, 3),           db_text(st, 4),           db_text(st, 5)};
		const char *row_mac = db_is_null(st, 8) ? NULL : db_text(st, 8);

		r = 1;
		s->bad = e.seq;
		if (e.seq != s->entries + 1)
			snprintf(s->why, sizeof(s->why), "sequence number out of order (expected %lld)",
				 (long long)s->entries + 1);
		else if (strcmp(db_text(st, 6), prev) != 0)
			snprintf(s->why, sizeof(s->why), "prev_hash is not the hash of entry %lld", (long long)e.seq - 1);
		else if (entry_digests(prev, &e, hash, mac) < 0)
			snprintf(s->why, sizeof(s->why), "cannot compute the digests (no audit key?)");
		else if (strcmp(hash, db_text(st, 7)) != 0)
			snprintf(s->why, sizeof(s->why), "hash does not match the entry's content");
		else if (!row_mac && first_keyed)
			snprintf(s->why, sizeof(s->why), "no mac, although the chain is keyed since entry %lld",
				 (long long)first_keyed);
		else if (row_mac && (strlen(row_mac) != CL_SHA256_HEX - 1 ||
				    CRYPTO_memcmp(row_mac, mac, CL_SHA256_HEX - 1) != 0))
			snprintf(s->why, sizeof(s->why),
				 "mac does not match: the entry was rewritten%s", first_keyed ? "" : " (or an earlier unkeyed one)");
		else
			r = 0;
		if (r)
			break;
		if (row_mac && !first_keyed)
			first_keyed = e.seq;
		s->keyed += row_mac != NULL;
		snprintf(prev, sizeof(prev), "%s", hash);
		s->entries++;
	}
	if (r == 0) {
		s->bad = 0;
		if (rc != DB_DONE)
			r = -1;
		else if (s->entries && !first_keyed) {
			/* a chain with every mac stripped must not pass as an old one */
			r = 1;
			s->bad = s->entries;
			snprintf(s->why, sizeof(s->why), "no entry is keyed: the daemon keys the chain at its start");
		}
	}
	db_reset(st);
	return r;
}
