package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/sources"
)

// Change tracking keeps, in a schema of its own (TrackSchema), a log of
// every row inserted, updated or deleted in the tracked tables, whoever
// changed it, with the transaction that did (commit order can be told from
// it), and each table's row count, kept in a few slots per table so that
// concurrent writers do not queue on one row. Triggers on each table feed
// both. `odatagw track` prints or runs the SQL.

// TrackSchema holds the change log, the tracked tables and their counts.
const TrackSchema = "odatagw"

// trackBaseSQL creates what every tracked table shares; it can run again.
const trackBaseSQL = `CREATE SCHEMA IF NOT EXISTS odatagw;
-- the log has no primary key and one B-tree: each index is a cost every
-- write to a tracked table pays; deltas read by xid, trimming by time (a
-- BRIN index, tiny, since time follows the order of the log)
CREATE TABLE IF NOT EXISTS odatagw.changes (
  id  bigint GENERATED ALWAYS AS IDENTITY,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(), -- the writing transaction: tells commit order
  tbl text NOT NULL,                                -- schema.table
  op  "char" NOT NULL,                              -- I, U, D, or T (emptied by TRUNCATE)
  key jsonb NOT NULL,                               -- the row's key columns
  at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS changes_xid ON odatagw.changes (xid);
CREATE INDEX IF NOT EXISTS changes_at ON odatagw.changes USING brin (at);
CREATE TABLE IF NOT EXISTS odatagw.tracked (
  tbl         text PRIMARY KEY,
  key_columns text[] NOT NULL,
  since       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS odatagw.row_counts (
  tbl  text NOT NULL,
  slot int NOT NULL,
  n    bigint NOT NULL,
  PRIMARY KEY (tbl, slot)
);
-- one row of the log per changed row; a changed key is the old entity
-- deleted and a new one inserted
CREATE OR REPLACE FUNCTION odatagw.log_change() RETURNS trigger LANGUAGE plpgsql
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tbl  text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
  rnew jsonb;
  rold jsonb;
  knew jsonb := '{}';
  kold jsonb := '{}';
  col  text;
BEGIN
  IF TG_OP <> 'DELETE' THEN rnew := to_jsonb(NEW); END IF;
  IF TG_OP <> 'INSERT' THEN rold := to_jsonb(OLD); END IF;
  FOREACH col IN ARRAY TG_ARGV LOOP
    IF rnew IS NOT NULL THEN knew := knew || jsonb_build_object(col, rnew -> col); END IF;
    IF rold IS NOT NULL THEN kold := kold || jsonb_build_object(col, rold -> col); END IF;
  END LOOP;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO odatagw.changes (tbl, op, key) VALUES (tbl, 'I', knew);
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO odatagw.changes (tbl, op, key) VALUES (tbl, 'D', kold);
  ELSIF knew = kold THEN
    INSERT INTO odatagw.changes (tbl, op, key) VALUES (tbl, 'U', knew);
  ELSE
    INSERT INTO odatagw.changes (tbl, op, key) VALUES (tbl, 'D', kold), (tbl, 'I', knew);
  END IF;
  RETURN NULL;
END $$;
-- the row count, by statement, into the slot of the writing connection
CREATE OR REPLACE FUNCTION odatagw.count_rows() RETURNS trigger LANGUAGE plpgsql
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d bigint;
  t text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
  s int := pg_backend_pid() % 16; -- 16 slots: writers on different connections add to different rows
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*) INTO d FROM new_rows;
  ELSE
    SELECT -count(*) INTO d FROM old_rows;
  END IF;
  IF d <> 0 THEN
    -- the slot's row is there but for a connection's first write: update
    -- it, which costs less than an insert that meets a conflict
    UPDATE odatagw.row_counts SET n = n + d WHERE tbl = t AND slot = s;
    IF NOT FOUND THEN
      INSERT INTO odatagw.row_counts (tbl, slot, n) VALUES (t, s, d)
      ON CONFLICT (tbl, slot) DO UPDATE SET n = odatagw.row_counts.n + EXCLUDED.n;
    END IF;
  END IF;
  RETURN NULL;
END $$;
-- every statement that changes the table tells the listening gateways,
-- which drop the cached answers of its entity set at once
CREATE OR REPLACE FUNCTION odatagw.notify_change() RETURNS trigger LANGUAGE plpgsql
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_notify('odatagw_changes', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
  RETURN NULL;
END $$;
-- TRUNCATE empties the table: the count is 0, and the log says so
CREATE OR REPLACE FUNCTION odatagw.truncated() RETURNS trigger LANGUAGE plpgsql
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tbl text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
BEGIN
  DELETE FROM odatagw.row_counts WHERE row_counts.tbl = truncated.tbl;
  INSERT INTO odatagw.row_counts (tbl, slot, n) VALUES (tbl, 0, 0);
  INSERT INTO odatagw.changes (tbl, op, key) VALUES (tbl, 'T', '{}');
  RETURN NULL;
END $$;
`

// TrackedTable is a table to track, with its key columns.
type TrackedTable struct {
	Schema, Name string
	Key          []string
}

func (t TrackedTable) qualified() string { return t.Schema + "." + t.Name }

// TrackSQL is the SQL that installs change tracking on the tables, each in
// a transaction of its own that holds off writers while its triggers are
// made and its rows counted. It can run again: it replaces what is there.
func TrackSQL(tables []TrackedTable) string {
	var b strings.Builder
	b.WriteString(trackBaseSQL)
	for _, t := range tables {
		ident := pgx.Identifier{t.Schema, t.Name}.Sanitize()
		lit := quoteLiteral(t.qualified())
		args := make([]string, len(t.Key))
		arr := make([]string, len(t.Key))
		for i, k := range t.Key {
			args[i] = quoteLiteral(k)
			arr[i] = quoteLiteral(k)
		}
		fmt.Fprintf(&b, `
-- %[1]s, key (%[2]s)
BEGIN;
LOCK TABLE %[3]s IN SHARE ROW EXCLUSIVE MODE;
DROP TRIGGER IF EXISTS odatagw_log ON %[3]s;
DROP TRIGGER IF EXISTS odatagw_count_insert ON %[3]s;
DROP TRIGGER IF EXISTS odatagw_count_delete ON %[3]s;
DROP TRIGGER IF EXISTS odatagw_truncate ON %[3]s;
DROP TRIGGER IF EXISTS odatagw_notify ON %[3]s;
CREATE TRIGGER odatagw_log AFTER INSERT OR UPDATE OR DELETE ON %[3]s
  FOR EACH ROW EXECUTE FUNCTION odatagw.log_change(%[4]s);
CREATE TRIGGER odatagw_count_insert AFTER INSERT ON %[3]s
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION odatagw.count_rows();
CREATE TRIGGER odatagw_count_delete AFTER DELETE ON %[3]s
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION odatagw.count_rows();
CREATE TRIGGER odatagw_truncate AFTER TRUNCATE ON %[3]s
  FOR EACH STATEMENT EXECUTE FUNCTION odatagw.truncated();
CREATE TRIGGER odatagw_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %[3]s
  FOR EACH STATEMENT EXECUTE FUNCTION odatagw.notify_change();
DELETE FROM odatagw.row_counts WHERE tbl = %[5]s;
INSERT INTO odatagw.row_counts (tbl, slot, n) SELECT %[5]s, 0, count(*) FROM %[3]s;
INSERT INTO odatagw.tracked (tbl, key_columns) VALUES (%[5]s, ARRAY[%[6]s]::text[])
  ON CONFLICT (tbl) DO UPDATE SET key_columns = EXCLUDED.key_columns;
COMMIT;
`, t.qualified(), strings.Join(t.Key, ", "), ident, strings.Join(args, ", "), lit, strings.Join(arr, ", "))
	}
	return b.String()
}

// UntrackSQL removes tracking from the tables; with all, the change log
// and everything else in TrackSchema goes too.
func UntrackSQL(tables []TrackedTable, all bool) string {
	var b strings.Builder
	for _, t := range tables {
		ident := pgx.Identifier{t.Schema, t.Name}.Sanitize()
		fmt.Fprintf(&b, `DROP TRIGGER IF EXISTS odatagw_log ON %[1]s;
DROP TRIGGER IF EXISTS odatagw_count_insert ON %[1]s;
DROP TRIGGER IF EXISTS odatagw_count_delete ON %[1]s;
DROP TRIGGER IF EXISTS odatagw_truncate ON %[1]s;
DROP TRIGGER IF EXISTS odatagw_notify ON %[1]s;
`, ident)
		if !all {
			lit := quoteLiteral(t.qualified())
			fmt.Fprintf(&b, "DELETE FROM odatagw.row_counts WHERE tbl = %[1]s;\nDELETE FROM odatagw.tracked WHERE tbl = %[1]s;\nDELETE FROM odatagw.changes WHERE tbl = %[1]s;\n", lit)
		}
	}
	if all {
		b.WriteString("DROP SCHEMA IF EXISTS odatagw CASCADE;\n")
	}
	return b.String()
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

var _ sources.TrackingInstaller = (*Source)(nil)

// TrackingSQL is TrackSQL, or UntrackSQL with drop, for the tables named
// (every table served when none is; all of it goes when none is named).
func (s *Source) TrackingSQL(names []string, drop bool) (string, error) {
	tables, err := s.TrackedTables(names)
	if err != nil {
		return "", err
	}
	if len(tables) == 0 {
		return "", fmt.Errorf("no table to track: the source serves none (views cannot be tracked)")
	}
	if drop {
		return UntrackSQL(tables, len(names) == 0), nil
	}
	return TrackSQL(tables), nil
}

// ApplyTracking runs SQL from TrackingSQL as it is, then tells every
// gateway serving the database to read the schema again.
func (s *Source) ApplyTracking(ctx context.Context, sql string) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// the simple protocol runs the whole script, its own BEGIN and COMMIT included
	if _, err := conn.Conn().PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `NOTIFY odatagw, 'reload'`)
	return err
}

// TrackedTables lists what the source serves as tables to track: every
// keyed table (views cannot carry triggers), or those named.
func (s *Source) TrackedTables(names []string) ([]TrackedTable, error) {
	var out []TrackedTable
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	found := map[string]bool{}
	for _, es := range s.Metadata().Sets {
		if es.IsView {
			continue
		}
		match := len(names) == 0 || wanted[es.Table] || wanted[es.Schema+"."+es.Table] || wanted[es.Name]
		if !match {
			continue
		}
		for _, n := range []string{es.Table, es.Schema + "." + es.Table, es.Name} {
			found[n] = true
		}
		t := TrackedTable{Schema: es.Schema, Name: es.Table}
		for _, k := range es.Type.Key {
			t.Key = append(t.Key, k.Column)
		}
		out = append(out, t)
	}
	for _, n := range names {
		if !found[n] {
			return nil, fmt.Errorf("%s is not a table this source serves (views cannot be tracked)", n)
		}
	}
	return out, nil
}
