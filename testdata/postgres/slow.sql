-- A view whose rows take a second each to read, for timeout and
-- cancellation tests.
CREATE VIEW slow_rows AS SELECT id, pg_sleep(1)::text AS nap FROM events WHERE id <= 30;

-- A table whose inserts take a second, for cutting the connection mid-write.
CREATE TABLE slow_writes (id integer PRIMARY KEY, note text);
CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(1);
  RETURN NEW;
END $$;
CREATE TRIGGER slow_insert BEFORE INSERT ON slow_writes FOR EACH ROW EXECUTE FUNCTION slow_insert();
