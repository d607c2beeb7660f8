-- The database's clock in SQL (issue 10): unixepoch() is built into SQLite
-- (3.38 and later), so this migration has nothing to do here; PostgreSQL
-- gets the same function in schema/pg/006_clock.sql.  Statements that read
-- the time in the same query as their data save a round trip per request.
SELECT 1;
