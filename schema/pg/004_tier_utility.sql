-- The utility a tier was calibrated to, when the owner recorded it (issue
-- 13): a number on the owner's own scale (accuracy, percent, perplexity) and
-- an optional label naming that scale.  NULL: not recorded.  Tiers made
-- before this migration have neither.
ALTER TABLE tiers ADD COLUMN utility DOUBLE PRECISION;
ALTER TABLE tiers ADD COLUMN label TEXT;
