-- 001_init.sql - corelockerd's first schema.
-- Migrations are applied in file-number order, each in one transaction, and
-- PRAGMA user_version records the last one applied.  Never edit a released
-- migration: add the next number.

-- Admin tokens: only HMAC-SHA256(server secret, token) is stored.
CREATE TABLE tokens (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);

CREATE TABLE models (
	id              INTEGER PRIMARY KEY,
	name            TEXT NOT NULL,
	version         TEXT NOT NULL,
	unit            TEXT NOT NULL,
	scope           TEXT NOT NULL,
	alpha           REAL NOT NULL,
	locked_sha256   TEXT NOT NULL,
	original_sha256 TEXT NOT NULL,
	key_sha256      TEXT NOT NULL,
	key_bytes       INTEGER NOT NULL,
	units_finite    INTEGER NOT NULL,
	units_locked    INTEGER NOT NULL,
	shards          TEXT NOT NULL,   -- JSON: [{file, header_len, size, locked_sha256}]
	created_at      INTEGER NOT NULL,
	UNIQUE (name, version)
);

-- The whole .clkey, sealed with AES-256-GCM; AAD "corelocker model <id> key".
CREATE TABLE model_keys (
	model_id INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
	sealed   BLOB NOT NULL
);

-- One slice per tier: every span that tier restores, sealed;
-- AAD "corelocker model <model_id> slice <id>".
CREATE TABLE slices (
	id       TEXT PRIMARY KEY,
	model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
	sealed   BLOB NOT NULL
);

CREATE TABLE tiers (
	model_id   INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	ratio      REAL NOT NULL,
	slice_id   TEXT NOT NULL REFERENCES slices(id),
	units      INTEGER NOT NULL,
	entries    INTEGER NOT NULL,
	bytes      INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (model_id, name)
);

CREATE TABLE licenses (
	id           INTEGER PRIMARY KEY,
	key_hash     BLOB NOT NULL UNIQUE,
	model_id     INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
	tier         TEXT NOT NULL,
	customer     TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
	expires_at   INTEGER,
	max_machines INTEGER NOT NULL CHECK (max_machines >= 1),
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);
CREATE INDEX licenses_model ON licenses (model_id, tier);
CREATE INDEX licenses_customer ON licenses (customer);

CREATE TABLE machines (
	id           INTEGER PRIMARY KEY,
	license_id   INTEGER NOT NULL REFERENCES licenses(id) ON DELETE CASCADE,
	fingerprint  TEXT NOT NULL,
	hostname     TEXT,
	activated_at INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	UNIQUE (license_id, fingerprint)
);

-- Append-only, hash-chained: hash = SHA-256(prev_hash "\n" seq "\n" ts "\n"
-- actor "\n" action "\n" target "\n" detail), prev_hash of the first entry
-- is 64 zeros.
CREATE TABLE audit (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	ts        INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	detail    TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL UNIQUE
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
