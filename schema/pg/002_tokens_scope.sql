-- Admin tokens get a scope and an optional expiry (issue 9).  Tokens made
-- before this migration keep full rights and never expire.
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin' CHECK (scope IN ('admin', 'read'));
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
