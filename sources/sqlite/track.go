package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

// Change tracking in SQLite keeps the log and the counts in tables named
// odatagw_* beside the tracked ones (SQLite has no schemas; the gateway
// never serves them). Writers take turns in SQLite, so the log's own
// numbering is commit order: a position is the next number.

var (
	_ sources.TrackingInstaller = (*Source)(nil)
	_ sources.ChangeTracker     = (*Source)(nil)
	_ sources.ChangeWatcher     = (*Source)(nil)
)

// trackPrefix marks the tracking tables, which introspection leaves out.
const trackPrefix = "odatagw_"

const trackBaseSQL = `CREATE TABLE IF NOT EXISTS odatagw_changes (
  id  INTEGER PRIMARY KEY AUTOINCREMENT,
  tbl TEXT NOT NULL,
  op  TEXT NOT NULL,
  key TEXT NOT NULL,
  at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE INDEX IF NOT EXISTS odatagw_changes_at ON odatagw_changes (at);
CREATE TABLE IF NOT EXISTS odatagw_tracked (tbl TEXT PRIMARY KEY, key_columns TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS odatagw_row_counts (tbl TEXT PRIMARY KEY, n INTEGER NOT NULL);
`

// TrackingSQL is the SQL that installs (or with drop removes) change
// tracking on the tables named, or on every table served.
func (s *Source) TrackingSQL(names []string, drop bool) (string, error) {
	sets, err := sources.TablesToTrack(s.Metadata(), names)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if !drop {
		b.WriteString(trackBaseSQL)
	}
	for _, es := range sets {
		t := dialect{}.QuoteIdent(es.Table)
		lit := "'" + strings.ReplaceAll(es.Table, "'", "''") + "'"
		for _, trig := range []string{"insert", "update", "rekey", "delete"} {
			fmt.Fprintf(&b, "DROP TRIGGER IF EXISTS %s;\n", dialect{}.QuoteIdent(trackPrefix+es.Table+"_"+trig))
		}
		if drop {
			if len(names) > 0 {
				fmt.Fprintf(&b, "DELETE FROM odatagw_changes WHERE tbl = %[1]s;\nDELETE FROM odatagw_tracked WHERE tbl = %[1]s;\nDELETE FROM odatagw_row_counts WHERE tbl = %[1]s;\n", lit)
			}
			continue
		}
		key := func(row string) string {
			parts := make([]string, len(es.Type.Key))
			for i, k := range es.Type.Key {
				parts[i] = "'" + strings.ReplaceAll(k.Column, "'", "''") + "', " + row + "." + dialect{}.QuoteIdent(k.Column)
			}
			return "json_object(" + strings.Join(parts, ", ") + ")"
		}
		same := make([]string, len(es.Type.Key))
		cols := make([]string, len(es.Type.Key))
		for i, k := range es.Type.Key {
			c := dialect{}.QuoteIdent(k.Column)
			same[i] = "OLD." + c + " IS NEW." + c
			cols[i] = k.Column
		}
		trig := func(name string) string { return dialect{}.QuoteIdent(trackPrefix + es.Table + "_" + name) }
		fmt.Fprintf(&b, `CREATE TRIGGER %[1]s AFTER INSERT ON %[5]s BEGIN
  INSERT INTO odatagw_changes (tbl, op, key) VALUES (%[6]s, 'I', %[7]s);
  UPDATE odatagw_row_counts SET n = n + 1 WHERE tbl = %[6]s;
END;
CREATE TRIGGER %[2]s AFTER UPDATE ON %[5]s WHEN %[9]s BEGIN
  INSERT INTO odatagw_changes (tbl, op, key) VALUES (%[6]s, 'U', %[7]s);
END;
CREATE TRIGGER %[3]s AFTER UPDATE ON %[5]s WHEN NOT (%[9]s) BEGIN
  INSERT INTO odatagw_changes (tbl, op, key) VALUES (%[6]s, 'D', %[8]s), (%[6]s, 'I', %[7]s);
END;
CREATE TRIGGER %[4]s AFTER DELETE ON %[5]s BEGIN
  INSERT INTO odatagw_changes (tbl, op, key) VALUES (%[6]s, 'D', %[8]s);
  UPDATE odatagw_row_counts SET n = n - 1 WHERE tbl = %[6]s;
END;
INSERT OR REPLACE INTO odatagw_row_counts (tbl, n) SELECT %[6]s, count(*) FROM %[5]s;
INSERT OR REPLACE INTO odatagw_tracked (tbl, key_columns) VALUES (%[6]s, %[10]s);
`, trig("insert"), trig("update"), trig("rekey"), trig("delete"), t, lit, key("NEW"), key("OLD"),
			strings.Join(same, " AND "), "'"+strings.ReplaceAll(strings.Join(cols, ","), "'", "''")+"'")
	}
	if drop && len(names) == 0 {
		b.WriteString("DROP TABLE IF EXISTS odatagw_changes;\nDROP TABLE IF EXISTS odatagw_tracked;\nDROP TABLE IF EXISTS odatagw_row_counts;\n")
	}
	return b.String(), nil
}

// ApplyTracking runs the SQL in one transaction (writers wait meanwhile,
// so the counts start right), then reads the schema again.
func (s *Source) ApplyTracking(ctx context.Context, script string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, script); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = s.Reload(ctx)
	return err
}

// markTracked marks the tables change tracking is installed on.
func markTracked(ctx context.Context, db *sql.DB, tables []sources.Table) error {
	rows, err := db.QueryContext(ctx, `SELECT tbl FROM odatagw_tracked`)
	if err != nil {
		return nil // not installed
	}
	defer rows.Close()
	return sources.MarkTracked(rows, tables, func(t sources.Table) string { return t.Name })
}

// ChangePosition is the next number of the log: writers take turns, so
// every change below it is committed and none can come below it later.
func (s *Source) ChangePosition(ctx context.Context) (uint64, error) {
	var next uint64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(max(id), 0) + 1 FROM odatagw_changes`).Scan(&next); err != nil {
		return 0, mapError(ctx, err)
	}
	return next, nil
}

func (s *Source) Changes(ctx context.Context, set *metadata.EntitySet, from, to uint64, after int64, limit int) (sources.ChangeBatch, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout)
	defer cancel()
	// with max(id), SQLite reads op from the row that has it: the last change
	rows, err := s.db.QueryContext(ctx, `SELECT key, op, max(id) FROM odatagw_changes
		WHERE tbl = ? AND id >= ? AND id < ? GROUP BY key HAVING max(id) > ? ORDER BY max(id) LIMIT ?`,
		set.Table, from, to, after, limit+1)
	if err != nil {
		return sources.ChangeBatch{}, mapError(ctx, err)
	}
	defer rows.Close()
	b, err := sources.ReadChanges(rows, set, limit)
	if err != nil {
		return sources.ChangeBatch{}, mapError(ctx, err)
	}
	return b, nil
}

// trackedCount reads a tracked table's kept row count.
func (s *Source) trackedCount(ctx context.Context, es *metadata.EntitySet) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT n FROM odatagw_row_counts WHERE tbl = ?`, es.Table).Scan(&n); err != nil {
		return 0, mapError(ctx, err)
	}
	return n, nil
}

// Watch keeps the change log trimmed for as long as the source serves;
// SQLite tells no one of changes, so there is nothing to listen to.
func (s *Source) Watch(ctx context.Context, on sources.WatchEvents) {
	if on.Listening != nil {
		on.Listening(true)
	}
	retention := s.opts.ChangeRetention
	t := time.NewTicker(min(max(retention/4, time.Second), 10*time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cutoff := time.Now().Add(-retention).UTC().Format("2006-01-02 15:04:05.000")
		s.db.ExecContext(ctx, `DELETE FROM odatagw_changes WHERE at < ?`, cutoff)
	}
}
