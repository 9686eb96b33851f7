package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

func init() {
	sources.Register("mysql", Open, "mysql", "mariadb")
	// the driver's own messages (a connection found closed, which the pool
	// replaces) are the gateway's debug output, not its standard error
	mysqldriver.SetLogger(driverLog{})
}

type driverLog struct{}

func (driverLog) Print(v ...any) { slog.Debug("mysql driver: " + fmt.Sprint(v...)) }

// Source serves one MySQL or MariaDB database (the DSN's).
type Source struct {
	sources.OneShot // each write in a transaction of its own
	db              *sql.DB
	opts            sources.Options
	svc             sources.Model // swapped whole by Reload
	dialect         dialect
	database        string
	mariadb         bool
	reload          sync.Mutex // one reload at a time
	changes         changeCursor
}

var (
	_ sources.Source   = (*Source)(nil)
	_ sources.Capacity = (*Source)(nil)
)

// Open connects, introspects the database and builds the model.
func Open(ctx context.Context, opts sources.Options) (sources.Source, error) {
	return OpenSource(ctx, opts)
}

// OpenSource is Open with the concrete type.
func OpenSource(ctx context.Context, opts sources.Options) (*Source, error) {
	opts.Normalize()
	if opts.PerUser {
		return nil, errors.New("mysql: per_user is not available: MySQL and MariaDB have no row-level security to run each caller's requests under; serve the data through views per audience instead, or turn per_user off")
	}
	cfg, err := Config(opts.DSN)
	if err != nil {
		return nil, err
	}
	if opts.Dial != nil {
		cfg.DialFunc = opts.Dial // through an agent
	}
	// which server: the statement timeout has a different name in each
	version, err := serverVersion(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %s", dsn.Scrub(err.Error(), opts.DSN))
	}
	mariadb := strings.Contains(strings.ToLower(version), "mariadb")
	limit := opts.StatementTimeout
	if mariadb {
		cfg.Params["max_statement_time"] = strconv.FormatFloat(limit.Seconds(), 'f', 3, 64)
	} else {
		cfg.Params["max_execution_time"] = strconv.FormatInt(limit.Milliseconds(), 10)
	}
	conn, err := mysqldriver.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %s", dsn.Scrub(err.Error(), opts.DSN))
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(opts.MaxConnections)
	db.SetMaxIdleConns(opts.MaxConnections)
	// below the servers' default wait_timeout, so that no idle connection
	// is closed under the pool's feet
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Source{db: db, opts: opts, database: cfg.DBName, mariadb: mariadb, dialect: dialect{returning: mariadb && !versionBelow(version, 10, 5)}}
	s.OneShot = sources.OneShot{T: s}
	if _, err := s.Reload(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func serverVersion(ctx context.Context, cfg *mysqldriver.Config) (string, error) {
	conn, err := mysqldriver.NewConnector(cfg)
	if err != nil {
		return "", err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var v string
	err = db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v)
	return v, err
}

// versionBelow reports whether a version string ("10.11.19-MariaDB-...")
// is below major.minor.
func versionBelow(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return true
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(parts[1])
	return ma < major || ma == major && mi < minor
}

// Reload introspects the database again and swaps in the new model;
// requests already planned finish on the old one.
func (s *Source) Reload(ctx context.Context) (sources.Changes, error) {
	s.reload.Lock()
	defer s.reload.Unlock()
	tables, err := introspect(ctx, s.db)
	if err != nil {
		return sources.Changes{}, fmt.Errorf("mysql: reading the schema: %s", dsn.Scrub(err.Error(), s.opts.DSN))
	}
	return sources.Rebuild(tables, s.opts, "", &s.svc)
}

func (s *Source) Metadata() *metadata.Service { return s.svc.Service() }

// Report is what building the current model left out and renamed.
func (s *Source) Report() metadata.Decisions { return s.svc.Report() }

// MaxConcurrentQueries is the pool size.
func (s *Source) MaxConcurrentQueries() int { return s.opts.MaxConnections }

func (s *Source) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *Source) Close() error { return s.db.Close() }

// DB exposes the database handle, for tests and tools.
func (s *Source) DB() *sql.DB { return s.db }

// SQL returns the statement and arguments a query would run, for tests and
// for explaining a request.
func (s *Source) SQL(q *plan.Query) (string, []any, error) { return sqlgen.Select(s.dialect, q) }

// CountSQL is the statement Count runs for q, "" where it reads no rows.
func (s *Source) CountSQL(q *plan.Query) (string, []any, error) {
	if how := sources.CountedBy(q, true); how == sources.CountedByTracking || how == sources.CountedByEstimate {
		return "", nil, nil
	}
	return sqlgen.Count(s.dialect, q)
}

// deadline bounds a statement: the server's own timeout ends it first
// (the driver cannot cancel a running statement, only drop its
// connection); this is the backstop.
func (s *Source) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.StatementTimeout+2*time.Second)
}

func (s *Source) Query(ctx context.Context, q *plan.Query) (sources.Rows, error) {
	text, args, err := sqlgen.Select(s.dialect, q)
	if err != nil {
		return nil, odata.Internal(err)
	}
	ctx, cancel := s.deadline(ctx)
	rows, err := s.db.QueryContext(ctx, text, args...)
	if err != nil {
		err = mapError(ctx, err) // before cancel, which would make it look cancelled
		cancel()
		return nil, err
	}
	return &sources.DeadlineRows{SQLRows: sources.NewSQLRowsConverting(rows, q, toEdm),
		Ctx: ctx, Cancel: cancel, MapErr: mapError}, nil
}

func (s *Source) Count(ctx context.Context, q *plan.Query) (int64, error) {
	if n, ok, err := sources.CountWithoutStatement(ctx, q, sources.CountedBy(q, true), s.trackedCount, s.estimate); ok || err != nil {
		return n, err
	}
	text, args, err := sqlgen.Count(s.dialect, q)
	if err != nil {
		return 0, odata.Internal(err)
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var n int64
	if err := s.db.QueryRowContext(ctx, text, args...).Scan(&n); err != nil {
		return 0, mapError(ctx, err)
	}
	return n, nil
}

// estimate is the optimizer's estimate of the rows q.Where selects: rows
// examined times the share it expects to pass the filter.
func (s *Source) estimate(ctx context.Context, q *plan.Query) (int64, error) {
	text, args, err := sqlgen.Matching(s.dialect, q)
	if err != nil {
		return 0, odata.Internal(err)
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "EXPLAIN "+text, args...)
	if err != nil {
		return 0, mapError(ctx, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		return 0, mapError(ctx, errors.New("EXPLAIN returned no row"))
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return 0, mapError(ctx, err)
	}
	est, filtered := 0.0, 100.0
	for i, c := range cols {
		switch strings.ToLower(c) {
		case "rows":
			est, _ = strconv.ParseFloat(vals[i].String, 64)
		case "filtered":
			if f, err := strconv.ParseFloat(vals[i].String, 64); err == nil {
				filtered = f
			}
		}
	}
	return int64(est*filtered/100 + 0.5), nil
}

// Server error numbers the gateway tells apart.
const (
	erDupEntry            = 1062
	erBadNull             = 1048
	erNoDefault           = 1364
	erRowIsReferenced     = 1451
	erNoReferencedRow     = 1452
	erRowIsReferencedOld  = 1217
	erNoReferencedRowOld  = 1216
	erDataTooLong         = 1406
	erOutOfRange          = 1264
	erTruncated           = 1265
	erWrongValue          = 1292
	erIncorrectValue      = 1366
	erDivByZero           = 1365
	erLockWaitTimeout     = 1205
	erLockDeadlock        = 1213
	erCheckMySQL          = 3819
	erCheckMariaDB        = 4025
	erTimeoutMySQL        = 3024
	erTimeoutMariaDB      = 1969
	erTableAccessDenied   = 1142
	erColumnAccessDenied  = 1143
	erNoSuchTable         = 1146
	erBadField            = 1054
	erQueryInterrupted    = 1317
	erServerShutdown      = 1053
	erTooManyConnections  = 1040
	erConCountError       = 1203
	erReadOnlyTransaction = 1792
)

func serverError(err error) (*mysqldriver.MySQLError, bool) {
	var me *mysqldriver.MySQLError
	ok := errors.As(err, &me)
	return me, ok
}

// mapError turns a read's error into the gateway's error family.
func mapError(ctx context.Context, err error) error {
	var oe *odata.Error
	if errors.As(err, &oe) {
		return err
	}
	if me, ok := serverError(err); ok {
		switch me.Number {
		case erTimeoutMySQL, erTimeoutMariaDB:
			return odata.Timeout(err)
		case erDivByZero:
			e := odata.BadRequest(odata.CodeBadRequest, "the query divides by zero; check the divisors in $filter")
			e.Cause = err
			return e
		case erWrongValue, erIncorrectValue, erOutOfRange, erTruncated:
			e := odata.BadRequest(odata.CodeBadRequest, "a value in the query is out of range or malformed for the database: %s", me.Message)
			e.Cause = err
			return e
		case erTableAccessDenied, erColumnAccessDenied:
			e := odata.Forbidden("the gateway's database user may not read this table; grant it SELECT")
			e.Cause = err
			return e
		case erNoSuchTable, erBadField:
			return &odata.Error{Status: 503, Code: odata.CodeUnavailable, Message: "the table changed in the database since the gateway read its schema; reload the data source", Cause: err}
		case erServerShutdown, erTooManyConnections, erConCountError, erQueryInterrupted:
			return odata.Unavailable(err)
		}
		return odata.Internal(err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return odata.Timeout(err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		return err
	}
	if lostConnection(err) {
		return odata.Unavailable(err)
	}
	return odata.Internal(err)
}

// lostConnection reports errors that mean the connection went away.
func lostConnection(err error) bool {
	var netErr net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysqldriver.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// PoolStats are the pool's figures, for the gateway's metrics.
func (s *Source) PoolStats() sources.PoolStats { return sources.SQLPoolStats(s.db.Stats()) }
