-- Leak tracing (issue 14); see schema/007_fingerprint.sql.  An integer 0/1,
-- as everywhere (the dialect rule in 001).
ALTER TABLE tiers ADD COLUMN fingerprint BIGINT NOT NULL DEFAULT 0 CHECK (fingerprint IN (0, 1));
