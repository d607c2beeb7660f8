-- Leak tracing (issue 14): a tier with fingerprint = 1 gives every license
-- its own marked copy of the values it restores (docs/trace.md).  Tiers made
-- before this migration are not fingerprinted.
ALTER TABLE tiers ADD COLUMN fingerprint INTEGER NOT NULL DEFAULT 0 CHECK (fingerprint IN (0, 1));
