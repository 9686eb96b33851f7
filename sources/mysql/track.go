package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

// Change tracking keeps, in tables named odatagw_* beside the tracked ones
// (introspection leaves them out), a log of every row inserted, updated or
// deleted in a tracked table, whoever changed it, and each table's row
// count spread over a few slots so that writers on different connections
// do not queue on one row. Triggers feed both; neither server has LISTEN,
// so the gateway polls the log.
//
// The log is numbered by AUTO_INCREMENT, in the order rows were written,
// not committed. A position is safe when no change below it can still
// commit: the gateway reads which numbers are written but not committed
// (a read that sees uncommitted rows, against one that does not) and
// stays below the first of them, and below every number handed out by the
// time of its previous poll (a number is handed out a moment before its
// row is written).

var (
	_ sources.TrackingInstaller = (*Source)(nil)
	_ sources.ChangeTracker     = (*Source)(nil)
	_ sources.ChangeWatcher     = (*Source)(nil)
)

// countSlots is how many rows a table's count is spread over.
const countSlots = 16

// pollInterval is how often the gateway reads the log: direct changes
// reach the cache at most this long after they commit.
const pollInterval = 250 * time.Millisecond

// pollWindow bounds how many log numbers one poll compares.
const pollWindow = 50000

const trackBaseSQL = `CREATE TABLE IF NOT EXISTS odatagw_changes (
  id    BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  tbl   VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  op    CHAR(1) NOT NULL,
  ` + "`key`" + ` VARCHAR(3072) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY odatagw_changes_tbl (tbl, id),
  KEY odatagw_changes_at (at)
) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS odatagw_tracked (
  tbl         VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
  key_columns TEXT NOT NULL,
  since       DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS odatagw_row_counts (
  tbl  VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  slot INT NOT NULL,
  n    BIGINT NOT NULL,
  PRIMARY KEY (tbl, slot)
) ENGINE=InnoDB;
`

func literal(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

// TrackingSQL is the SQL that installs (or with drop removes) change
// tracking on the tables named, or on every table served, as the mysql
// client reads it (DELIMITER around the trigger bodies).
func (s *Source) TrackingSQL(names []string, drop bool) (string, error) {
	sets, err := sources.TablesToTrack(s.Metadata(), names)
	if err != nil {
		return "", err
	}
	d := dialect{}
	var b strings.Builder
	if !drop {
		b.WriteString(trackBaseSQL)
	}
	for _, es := range sets {
		t := d.QuoteIdent(es.Table)
		lit := literal(es.Table)
		trig := func(name string) string { return d.QuoteIdent("odatagw_" + es.Table + "_" + name) }
		for _, name := range []string{"insert", "update", "delete"} {
			fmt.Fprintf(&b, "DROP TRIGGER IF EXISTS %s;\n", trig(name))
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
				parts[i] = literal(k.Column) + ", " + row + "." + d.QuoteIdent(k.Column)
			}
			return "JSON_OBJECT(" + strings.Join(parts, ", ") + ")"
		}
		same := make([]string, len(es.Type.Key))
		cols := make([]string, len(es.Type.Key))
		for i, k := range es.Type.Key {
			c := d.QuoteIdent(k.Column)
			// bytes, not the collation: a key that changes case is another key
			same[i] = "CAST(NEW." + c + " AS BINARY) <=> CAST(OLD." + c + " AS BINARY)"
			cols[i] = k.Column
		}
		count := func(delta string) string {
			return "INSERT INTO odatagw_row_counts (tbl, slot, n) VALUES (" + lit + ", CONNECTION_ID() % " + fmt.Sprint(countSlots) + ", " + delta + ") ON DUPLICATE KEY UPDATE n = n + (" + delta + ");"
		}
		fmt.Fprintf(&b, `DELIMITER $$
CREATE TRIGGER %[1]s AFTER INSERT ON %[4]s FOR EACH ROW BEGIN
  INSERT INTO odatagw_changes (tbl, op, `+"`key`"+`) VALUES (%[5]s, 'I', %[6]s);
  %[9]s
END$$
CREATE TRIGGER %[2]s AFTER UPDATE ON %[4]s FOR EACH ROW BEGIN
  IF %[8]s THEN
    INSERT INTO odatagw_changes (tbl, op, `+"`key`"+`) VALUES (%[5]s, 'U', %[6]s);
  ELSE
    INSERT INTO odatagw_changes (tbl, op, `+"`key`"+`) VALUES (%[5]s, 'D', %[7]s), (%[5]s, 'I', %[6]s);
  END IF;
END$$
CREATE TRIGGER %[3]s AFTER DELETE ON %[4]s FOR EACH ROW BEGIN
  INSERT INTO odatagw_changes (tbl, op, `+"`key`"+`) VALUES (%[5]s, 'D', %[7]s);
  %[10]s
END$$
DELIMITER ;
START TRANSACTION;
DELETE FROM odatagw_row_counts WHERE tbl = %[5]s;
INSERT INTO odatagw_row_counts (tbl, slot, n) SELECT %[5]s, 0, COUNT(*) FROM %[4]s;
COMMIT;
REPLACE INTO odatagw_tracked (tbl, key_columns) VALUES (%[5]s, %[11]s);
`, trig("insert"), trig("update"), trig("delete"), t, lit, key("NEW"), key("OLD"),
			strings.Join(same, " AND "), count("1"), count("-1"), literal(strings.Join(cols, ",")))
	}
	if drop && len(names) == 0 {
		b.WriteString("DROP TABLE IF EXISTS odatagw_changes;\nDROP TABLE IF EXISTS odatagw_tracked;\nDROP TABLE IF EXISTS odatagw_row_counts;\n")
	}
	return b.String(), nil
}

// ApplyTracking runs the SQL statement by statement on one connection,
// then reads the schema again.
func (s *Source) ApplyTracking(ctx context.Context, script string) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, stmt := range Statements(script) {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w (in: %.80s)", err, stmt)
		}
	}
	_, err = s.Reload(ctx)
	return err
}

// markTracked marks the tables change tracking is installed on.
func markTracked(ctx context.Context, conn *sql.Conn, tables []sources.Table) error {
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'odatagw_tracked'`).Scan(&n); err != nil || n == 0 {
		return err
	}
	rows, err := conn.QueryContext(ctx, `SELECT tbl FROM odatagw_tracked`)
	if err != nil {
		return err
	}
	defer rows.Close()
	return sources.MarkTracked(rows, tables, func(t sources.Table) string { return t.Name })
}

// trackedCount reads a tracked table's kept row count.
func (s *Source) trackedCount(ctx context.Context, es *metadata.EntitySet) (int64, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM odatagw_row_counts WHERE tbl = ?`, es.Table).Scan(&n); err != nil {
		return 0, mapError(ctx, err)
	}
	return n, nil
}

// changeCursor is where the log is safe to read up to, kept by the poll.
type changeCursor struct {
	mu       sync.Mutex
	position uint64    // every change below it has committed or rolled back
	handed   uint64    // the next number, as of the previous poll
	at       time.Time // when position was found
}

// ChangePosition is the log's safe position: from the watcher's latest
// poll, or from a poll now when that is older than two poll intervals.
func (s *Source) ChangePosition(ctx context.Context) (uint64, error) {
	c := &s.changes
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) <= 2*pollInterval && c.position > 0 {
		return c.position, nil
	}
	if c.handed == 0 { // no earlier poll: make one, so that numbers handed out settle
		if _, err := s.pollLocked(ctx); err != nil {
			return 0, err
		}
		time.Sleep(pollInterval / 5)
	}
	p, err := s.pollLocked(ctx)
	return p, err
}

// poll finds the safe position now.
func (s *Source) poll(ctx context.Context) (uint64, error) {
	s.changes.mu.Lock()
	defer s.changes.mu.Unlock()
	return s.pollLocked(ctx)
}

func (s *Source) pollLocked(ctx context.Context) (uint64, error) {
	c := &s.changes
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	low := c.position
	if low == 0 {
		low = 1
	}
	// what is written, committed or not, then what is committed
	var next uint64
	written, err := s.readLog(ctx, sql.LevelReadUncommitted, low, &next)
	if err != nil {
		return 0, mapError(ctx, err)
	}
	committed, err := s.readLog(ctx, sql.LevelReadCommitted, low, nil)
	if err != nil {
		return 0, mapError(ctx, err)
	}
	pos := next
	if c.handed > 0 && c.handed < pos {
		pos = c.handed
	}
	if hi := low + pollWindow; hi < pos {
		pos = hi
	}
	done := map[uint64]bool{}
	for _, id := range committed {
		done[id] = true
	}
	for _, id := range written { // ascending
		if id >= pos {
			break
		}
		if !done[id] {
			pos = id
			break
		}
	}
	if pos < low {
		pos = low
	}
	c.handed, c.position, c.at = next, pos, time.Now()
	return pos, nil
}

// readLog lists the log's numbers from low, at most pollWindow of them,
// in one read-only transaction at the isolation level given; with next, it
// also reads the number after the highest.
func (s *Source) readLog(ctx context.Context, level sql.IsolationLevel, low uint64, next *uint64) ([]uint64, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: level, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if next != nil {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM odatagw_changes`).Scan(next); err != nil {
			return nil, err
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM odatagw_changes WHERE id >= ? ORDER BY id LIMIT ?`, low, pollWindow)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (s *Source) Changes(ctx context.Context, set *metadata.EntitySet, from, to uint64, after int64, limit int) (sources.ChangeBatch, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SELECT c.`key`, c.op, c.id FROM odatagw_changes c JOIN ("+
		"SELECT `key`, MAX(id) AS id FROM odatagw_changes WHERE tbl = ? AND id >= ? AND id < ? GROUP BY `key`"+
		") last ON last.id = c.id WHERE c.id > ? ORDER BY c.id LIMIT ?",
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

// Watch polls the change log for as long as the source serves: the sets
// whose tables changed are told as their changes commit, and the log is
// kept trimmed. Without tracking installed there is nothing to hear.
func (s *Source) Watch(ctx context.Context, on sources.WatchEvents) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	retention := s.opts.ChangeRetention
	nextTrim := time.Now()
	listening := false
	hear := func(ok bool) {
		if ok != listening {
			listening = ok
			if on.Listening != nil {
				on.Listening(ok)
			}
			if ok && on.Changed != nil {
				on.Changed("") // changes may have been missed meanwhile
			}
		}
	}
	defer func() {
		if listening && on.Listening != nil {
			on.Listening(false)
		}
	}()
	var last uint64
	for {
		if !s.hasLog(ctx) {
			hear(true)
		} else if pos, err := s.poll(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			hear(false)
		} else {
			hear(true)
			if last > 0 && pos > last {
				s.tell(ctx, last, pos, on)
			}
			last = pos
			if time.Now().After(nextTrim) {
				s.trim(ctx, retention)
				nextTrim = time.Now().Add(min(max(retention/4, time.Second), 10*time.Minute))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// hasLog reports whether change tracking is installed.
func (s *Source) hasLog(ctx context.Context) bool {
	for _, es := range s.Metadata().Sets {
		if es.Tracked {
			return true
		}
	}
	return false
}

// tell reports the sets whose tables have changes in [from, to).
func (s *Source) tell(ctx context.Context, from, to uint64, on sources.WatchEvents) {
	if on.Changed == nil {
		return
	}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT tbl FROM odatagw_changes WHERE id >= ? AND id < ?`, from, to)
	if err != nil {
		on.Changed("")
		return
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var t string
		if rows.Scan(&t) == nil {
			tables = append(tables, t)
		}
	}
	sort.Strings(tables)
	for _, es := range s.Metadata().Sets {
		if i := sort.SearchStrings(tables, es.Table); i < len(tables) && tables[i] == es.Table {
			on.Changed(es.Name)
		}
	}
}

// trim removes log entries older than the retention, a batch at a time.
func (s *Source) trim(ctx context.Context, retention time.Duration) {
	cutoff := time.Now().Add(-retention).UTC().Format("2006-01-02 15:04:05.999999")
	for range 100 {
		res, err := s.db.ExecContext(ctx, `DELETE FROM odatagw_changes WHERE at < ? ORDER BY id LIMIT 10000`, cutoff)
		if err != nil {
			return
		}
		if n, _ := res.RowsAffected(); n < 10000 {
			return
		}
	}
}
