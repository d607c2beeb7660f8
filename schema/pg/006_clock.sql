-- unixepoch(): the database's clock in Unix seconds, as SQLite's built-in
-- of that name (schema/006_clock.sql), so that one SQL text reads the time
-- on both backends.  clock_timestamp(), not now(): now() is the start of
-- the transaction, which may predate a wait for the write turn.
CREATE FUNCTION unixepoch() RETURNS BIGINT
	LANGUAGE sql VOLATILE
	AS $$ SELECT floor(extract(epoch FROM clock_timestamp()))::BIGINT $$;
