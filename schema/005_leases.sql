-- Leases and floating seats (issue 12).  A license may carry lease_seconds
-- (a heartbeat TTL; NULL: no lease), floating (1: a seat whose lease lapsed
-- is freed for another machine) and max_checkout (the longest offline
-- checkout in seconds; 0: none).  A seat records when its lease ends and
-- until when an offline checkout holds it.
ALTER TABLE licenses ADD COLUMN lease_seconds INTEGER CHECK (lease_seconds IS NULL OR lease_seconds >= 1);
ALTER TABLE licenses ADD COLUMN floating INTEGER NOT NULL DEFAULT 0 CHECK (floating IN (0, 1));
ALTER TABLE licenses ADD COLUMN max_checkout INTEGER NOT NULL DEFAULT 0 CHECK (max_checkout >= 0);
ALTER TABLE machines ADD COLUMN lease_expires INTEGER;
ALTER TABLE machines ADD COLUMN checkout_until INTEGER;
