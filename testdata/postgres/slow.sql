-- A view whose rows take a second each to read, for timeout and
-- cancellation tests.
CREATE VIEW slow_rows AS SELECT id, pg_sleep(1)::text AS nap FROM events WHERE id <= 30;
