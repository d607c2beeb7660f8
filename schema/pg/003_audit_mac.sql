-- Keyed audit chain (issue 9).  Entries written from now on carry
-- mac = HMAC-SHA256(audit key, the same text as hash), the audit key being
-- derived from the master key; the plain SHA-256 chain goes on, so that the
-- entries written before stay verifiable as they were.  The first keyed
-- entry is an "audit.keyed" transition entry; from it on, every entry must
-- carry a valid mac.
ALTER TABLE audit ADD COLUMN mac TEXT;
