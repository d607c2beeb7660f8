-- Leases and floating seats (issue 12); see schema/005_leases.sql.
-- floating is an integer 0/1, as everywhere (the dialect rule in 001).
ALTER TABLE licenses ADD COLUMN lease_seconds BIGINT CHECK (lease_seconds IS NULL OR lease_seconds >= 1);
ALTER TABLE licenses ADD COLUMN floating BIGINT NOT NULL DEFAULT 0 CHECK (floating IN (0, 1));
ALTER TABLE licenses ADD COLUMN max_checkout BIGINT NOT NULL DEFAULT 0 CHECK (max_checkout >= 0);
ALTER TABLE machines ADD COLUMN lease_expires BIGINT;
ALTER TABLE machines ADD COLUMN checkout_until BIGINT;
