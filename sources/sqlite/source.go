package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

func init() {
	sources.Register("sqlite", Open, "sqlite", "sqlite3")
}

// Source serves one SQLite database file.
type Source struct {
	sources.OneShot // each write in a transaction of its own
	db              *sql.DB
	svc             sources.Model // swapped whole by Reload
	reload          sync.Mutex
	opts            sources.Options
	// OnClose runs after the database is closed (the demo removes its file).
	OnClose func()
}

var (
	_ sources.Source   = (*Source)(nil)
	_ sources.Capacity = (*Source)(nil)
)

// FilePath returns the path a sqlite: DSN names.
func FilePath(dsn string) string {
	_, rest, _ := strings.Cut(dsn, ":")
	rest = strings.TrimPrefix(rest, "//")
	return rest
}

func driverDSN(dsn string) string {
	path := FilePath(dsn)
	if !strings.HasPrefix(path, "file:") {
		path = "file:" + path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
}

// Open opens the file a sqlite: DSN names and introspects it.
func Open(ctx context.Context, opts sources.Options) (sources.Source, error) {
	return OpenFile(ctx, opts)
}

// OpenFile is Open with the concrete type.
func OpenFile(ctx context.Context, opts sources.Options) (*Source, error) {
	opts.Normalize()
	if FilePath(opts.DSN) == "" {
		return nil, errors.New("sqlite: the DSN names no file; write sqlite:/path/to/file.db")
	}
	db, err := sql.Open("sqlite", driverDSN(opts.DSN))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(opts.MaxConnections)
	db.SetMaxIdleConns(opts.MaxConnections)
	s := &Source{db: db, opts: opts}
	s.OneShot = sources.OneShot{T: s}
	if _, err := s.Reload(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// DB exposes the database handle, for loading data.
func (s *Source) DB() *sql.DB { return s.db }

// Reload introspects the database again and swaps in the new model.
func (s *Source) Reload(ctx context.Context) (sources.Changes, error) {
	s.reload.Lock()
	defer s.reload.Unlock()
	tables, err := introspect(ctx, s.db)
	if err != nil {
		return sources.Changes{}, fmt.Errorf("sqlite: reading the schema: %w", err)
	}
	return sources.Rebuild(tables, s.opts, "", &s.svc)
}

func (s *Source) Metadata() *metadata.Service { return s.svc.Service() }

// Report is what building the current model left out and renamed.
func (s *Source) Report() metadata.Decisions { return s.svc.Report() }

// MaxConcurrentQueries is the pool size.
func (s *Source) MaxConcurrentQueries() int { return s.opts.MaxConnections }

func (s *Source) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *Source) Close() error {
	err := s.db.Close()
	if s.OnClose != nil {
		s.OnClose()
	}
	return err
}

func (s *Source) Query(ctx context.Context, q *plan.Query) (sources.Rows, error) {
	text, args, err := sqlgen.Select(dialect{}, q)
	if err != nil {
		return nil, odata.Internal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout)
	rows, err := s.db.QueryContext(ctx, text, args...)
	if err != nil {
		err = mapError(ctx, err) // before cancel, which would make it look cancelled
		cancel()
		return nil, err
	}
	return &sources.DeadlineRows{SQLRows: sources.NewSQLRows(rows, q), Ctx: ctx, Cancel: cancel, MapErr: mapError}, nil
}

func (s *Source) Count(ctx context.Context, q *plan.Query) (int64, error) {
	if sources.CountedBy(q, false) == sources.CountedByTracking {
		return s.trackedCount(ctx, q.Set) // kept by the triggers: no scan
	}
	text, args, err := sqlgen.Count(dialect{}, q)
	if err != nil {
		return 0, odata.Internal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout)
	defer cancel()
	var n int64
	if err := s.db.QueryRowContext(ctx, text, args...).Scan(&n); err != nil {
		return 0, mapError(ctx, err)
	}
	return n, nil
}

func mapError(ctx context.Context, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return odata.Timeout(err)
	case errors.Is(err, context.Canceled), errors.Is(ctx.Err(), context.Canceled):
		return err
	}
	return odata.Internal(err)
}

// introspection

var lengthArg = regexp.MustCompile(`\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)`)

// columnType maps a declared SQLite column type to an Edm type and facets,
// following SQLite's affinity rules where the name is not more specific.
func columnType(declared string) sources.Column {
	d := strings.ToUpper(strings.TrimSpace(declared))
	c := sources.Column{DBType: declared}
	var n1, n2 int
	hasN2 := false
	if m := lengthArg.FindStringSubmatch(d); m != nil {
		n1, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			n2, _ = strconv.Atoi(m[2])
			hasN2 = true
		}
	}
	base := strings.TrimSpace(lengthArg.ReplaceAllString(d, ""))
	switch {
	case base == "BOOLEAN" || base == "BOOL":
		c.Type = metadata.Boolean
	case base == "SMALLINT" || base == "TINYINT" || base == "INT2":
		c.Type = metadata.Int16
	case base == "INT" || base == "MEDIUMINT" || base == "INT4":
		c.Type = metadata.Int32
	case strings.Contains(base, "INT"):
		c.Type = metadata.Int64
	case base == "UUID" || base == "GUID" || base == "UNIQUEIDENTIFIER":
		c.Type = metadata.GUID
	case base == "DATE":
		c.Type = metadata.Date
	case base == "DATETIME" || base == "TIMESTAMP" || strings.HasPrefix(base, "TIMESTAMP"):
		c.Type, c.Precision = metadata.DateTimeOffset, 3
	case strings.Contains(base, "CHAR") || strings.Contains(base, "CLOB") || strings.Contains(base, "TEXT") || base == "TIME" || base == "JSON":
		c.Type, c.MaxLength = metadata.String, n1
	case strings.Contains(base, "BLOB") || base == "BINARY" || base == "VARBINARY":
		c.Type, c.MaxLength = metadata.Binary, n1
	case strings.Contains(base, "REAL") || strings.Contains(base, "FLOA") || strings.Contains(base, "DOUB"):
		c.Type = metadata.Double
	case base == "DECIMAL" || base == "NUMERIC" || base == "NUMBER" || base == "MONEY":
		c.Type, c.Precision, c.Scale, c.ScaleSet = metadata.Decimal, n1, n2, hasN2 || n1 > 0
	case base == "":
		c.Type = metadata.String // no declared type: values shown as text
	default:
		c.Type = metadata.Decimal // SQLite's NUMERIC affinity
	}
	return c
}

func introspect(ctx context.Context, db *sql.DB) ([]sources.Table, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, type, COALESCE(sql, '') FROM sqlite_master WHERE type IN ('table', 'view')
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE 'odatagw\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	type obj struct{ name, typ, ddl string }
	var objs []obj
	for rows.Next() {
		var o obj
		if err := rows.Scan(&o.name, &o.typ, &o.ddl); err != nil {
			rows.Close()
			return nil, err
		}
		objs = append(objs, o)
	}
	rows.Close()
	var tables []sources.Table
	for _, o := range objs {
		t := sources.Table{Name: o.name, IsView: o.typ == "view"}
		if err := readColumns(ctx, db, &t, strings.Contains(strings.ToUpper(o.ddl), "AUTOINCREMENT")); err != nil {
			return nil, err
		}
		if !t.IsView {
			if err := readUniqueKeys(ctx, db, &t); err != nil {
				return nil, err
			}
		}
		if err := readForeignKeys(ctx, db, &t); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	// SQLite's names are case-insensitive: a reference takes the table's
	// own spelling, and REFERENCES t without columns names t's primary key
	for i := range tables {
		for j := range tables[i].ForeignKeys {
			fk := &tables[i].ForeignKeys[j]
			for _, t := range tables {
				if !strings.EqualFold(t.Name, fk.RefTable) {
					continue
				}
				fk.RefTable = t.Name
				if len(fk.RefColumns) > 0 && fk.RefColumns[0] == "" {
					fk.RefColumns = t.PrimaryKey
				}
			}
		}
	}
	return tables, markTracked(ctx, db, tables)
}

// readForeignKeys reads a table's foreign keys; SQLite names none of
// them, so each is called after its table and number.
func readForeignKeys(ctx context.Context, db *sql.DB, t *sources.Table) error {
	rows, err := db.QueryContext(ctx, `SELECT id, "table", "from", COALESCE("to", '') FROM pragma_foreign_key_list(?) ORDER BY id, seq`, t.Name)
	if err != nil {
		return err
	}
	defer rows.Close()
	last := -1
	for rows.Next() {
		var id int
		var refTable, from, to string
		if err := rows.Scan(&id, &refTable, &from, &to); err != nil {
			return err
		}
		if id != last {
			t.ForeignKeys = append(t.ForeignKeys, sources.ForeignKey{Name: fmt.Sprintf("%s_fk%d", t.Name, id), RefTable: refTable})
			last = id
		}
		fk := &t.ForeignKeys[len(t.ForeignKeys)-1]
		fk.Columns = append(fk.Columns, from)
		fk.RefColumns = append(fk.RefColumns, to)
	}
	return rows.Err()
}

func readColumns(ctx context.Context, db *sql.DB, t *sources.Table, _ bool) error {
	rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid`, t.Name)
	if err != nil {
		return err
	}
	defer rows.Close()
	type pkCol struct {
		name  string
		order int
		typ   string
	}
	var pks []pkCol
	for rows.Next() {
		var name, typ string
		var notNull, pk, hidden int
		if err := rows.Scan(&name, &typ, &notNull, &pk, &hidden); err != nil {
			return err
		}
		if hidden == 1 {
			continue // a hidden column of a virtual table
		}
		c := columnType(typ)
		c.Name = name
		c.Nullable = notNull == 0 && pk == 0
		c.Computed = hidden == 2 || hidden == 3 // generated columns
		if pk > 0 {
			pks = append(pks, pkCol{name, pk, strings.ToUpper(typ)})
		}
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := 0; i < len(pks); i++ {
		for j := i + 1; j < len(pks); j++ {
			if pks[j].order < pks[i].order {
				pks[i], pks[j] = pks[j], pks[i]
			}
		}
	}
	for _, p := range pks {
		t.PrimaryKey = append(t.PrimaryKey, p.name)
	}
	// INTEGER PRIMARY KEY is the rowid: the database assigns it
	if len(pks) == 1 && pks[0].typ == "INTEGER" {
		for i := range t.Columns {
			if t.Columns[i].Name == pks[0].name {
				t.Columns[i].Computed = true
			}
		}
	}
	return nil
}

func readUniqueKeys(ctx context.Context, db *sql.DB, t *sources.Table) error {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_index_list(?) WHERE "unique" = 1 AND partial = 0 ORDER BY name`, t.Name)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	notNull := map[string]bool{}
	for _, c := range t.Columns {
		notNull[c.Name] = !c.Nullable
	}
next:
	for _, idx := range names {
		cr, err := db.QueryContext(ctx, `SELECT COALESCE(name, '') FROM pragma_index_info(?) ORDER BY seqno`, idx)
		if err != nil {
			return err
		}
		var cols []string
		for cr.Next() {
			var n string
			if err := cr.Scan(&n); err != nil {
				cr.Close()
				return err
			}
			cols = append(cols, n)
		}
		cr.Close()
		for _, c := range cols {
			if !notNull[c] {
				continue next
			}
		}
		t.UniqueKeys = append(t.UniqueKeys, cols)
	}
	return nil
}

// PoolStats are the pool's figures, for the gateway's metrics.
func (s *Source) PoolStats() sources.PoolStats { return sources.SQLPoolStats(s.db.Stats()) }
