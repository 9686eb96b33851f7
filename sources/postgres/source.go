package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/convert"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

func init() {
	sources.Register("postgres", Open, "postgres", "postgresql")
}

// Source serves one PostgreSQL database.
type Source struct {
	sources.OneShot // each write in a transaction of its own
	pool            *pgxpool.Pool
	opts            sources.Options
	svc             sources.Model // swapped whole by Reload
	dialect         dialect
	reload          sync.Mutex // one reload at a time
	// prepares: statements are prepared and kept per connection (pgx's
	// default; a DSN may choose another default_query_exec_mode)
	prepares bool
	// standbys take the reads, when the source has any (standby.go)
	standbys *routing
}

var (
	_ sources.Source   = (*Source)(nil)
	_ sources.Capacity = (*Source)(nil)
)

// Open connects, introspects the configured schemas and builds the model.
func Open(ctx context.Context, opts sources.Options) (sources.Source, error) {
	return OpenSource(ctx, opts)
}

// OpenSource is Open with the concrete type.
func OpenSource(ctx context.Context, opts sources.Options) (*Source, error) {
	opts.Normalize()
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", dsn.Scrub(err.Error(), opts.DSN))
	}
	cfg.MaxConns = int32(opts.MaxConnections)
	rp := cfg.ConnConfig.RuntimeParams
	rp["timezone"] = "UTC" // date parts of timestamptz are taken in UTC
	if rp["application_name"] == "" {
		rp["application_name"] = "odatagw"
	}
	// a backstop on the server side; requests carry their own deadline too
	rp["statement_timeout"] = strconv.FormatInt((opts.StatementTimeout + 5*time.Second).Milliseconds(), 10)
	cfg.HealthCheckPeriod = 15 * time.Second
	if opts.Dial != nil {
		// through an agent: it resolves the host, inside its network
		cfg.ConnConfig.DialFunc = opts.Dial
		cfg.ConnConfig.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", dsn.Scrub(err.Error(), opts.DSN))
	}
	s := &Source{pool: pool, opts: opts, prepares: cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement}
	s.OneShot = sources.OneShot{T: s}
	if _, err := s.Reload(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if s.standbys, err = openStandbys(ctx, opts, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Reload introspects the database again and swaps in the new model;
// requests already planned finish on the old one. It returns what changed
// in names a client may have synced.
func (s *Source) Reload(ctx context.Context) (sources.Changes, error) {
	s.reload.Lock()
	defer s.reload.Unlock()
	schemas := s.opts.Schemas
	if len(schemas) == 0 {
		schemas = []string{"public"}
	}
	tables, err := introspect(ctx, s.pool, schemas)
	if err != nil {
		return sources.Changes{}, fmt.Errorf("postgres: reading the schema: %s", dsn.Scrub(err.Error(), s.opts.DSN))
	}
	return sources.Rebuild(tables, s.opts, schemas[0], &s.svc)
}

func (s *Source) Metadata() *metadata.Service { return s.svc.Service() }

// Report is what building the current model left out and renamed.
func (s *Source) Report() metadata.Decisions { return s.svc.Report() }

// MaxConcurrentQueries is the pool size.
func (s *Source) MaxConcurrentQueries() int { return s.opts.MaxConnections }

func (s *Source) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

func (s *Source) Close() error {
	if s.standbys != nil {
		s.standbys.close()
	}
	s.pool.Close()
	return nil
}

// Standbys is where the source's reads go now, when it has standbys.
func (s *Source) Standbys() sources.StandbyReport {
	if s.standbys == nil {
		return sources.StandbyReport{}
	}
	return s.standbys.report()
}

// reader is the pool a read runs on: the primary's, or a standby's that
// holds every write this gateway knows of (standby.go).
func (s *Source) reader(ctx context.Context) (*pgxpool.Pool, *standby) {
	if s.standbys == nil {
		return s.pool, nil
	}
	if sources.MustReadNewest(ctx) {
		sources.ReadOn(ctx, false)
		return s.pool, nil
	}
	pool, sb := s.standbys.reader(ctx)
	sources.ReadOn(ctx, sb != nil)
	return pool, sb
}

// onReader runs one read where reader says, and again on the primary when
// a standby fails it, or leaves the rotation (a probe found it down or
// unreachable), before it answered.
func (s *Source) onReader(ctx context.Context, read func(ctx context.Context, pool *pgxpool.Pool) error) error {
	pool, sb := s.reader(ctx)
	if sb == nil {
		return read(ctx, pool)
	}
	rctx, stop := context.WithCancelCause(ctx)
	id := sb.watch(stop)
	err := read(rctx, pool)
	sb.unwatch(id)
	if err != nil && s.standbys.readFailed(sb, err, ctx, rctx) {
		sources.ReadOn(ctx, false)
		return read(ctx, s.pool)
	}
	return err
}

// Pool exposes the connection pool, for tests and tools.
func (s *Source) Pool() *pgxpool.Pool { return s.pool }

func (s *Source) Query(ctx context.Context, q *plan.Query) (sources.Rows, error) {
	text, args, err := sqlgen.Select(s.dialect, q)
	if err != nil {
		return nil, odata.Internal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout)
	var r *pgRows
	err = s.onReader(ctx, func(ctx context.Context, pool *pgxpool.Pool) error {
		var rows pgx.Rows
		var done func()
		var err error
		withValues := PlannedWithValues(q)
		if c, ok := sources.CallerOf(ctx); ok {
			rows, done, err = s.callerRead(ctx, pool, c, withValues, text, args)
		} else {
			rows, err = pool.Query(ctx, text, s.queryArgs(withValues, args)...)
		}
		if err != nil {
			return err
		}
		r = &pgRows{rows: rows, types: sources.ResultTypes(q), sort: sources.NewSortKeys(q), ctx: ctx, cancel: cancel, done: done}
		if pool != s.pool {
			// a standby's failure shows at the first row: read it here,
			// while the read can still go to the primary
			if err := r.peek(); err != nil {
				r.close()
				return err
			}
		}
		return nil
	})
	if err != nil {
		cancel()
		return nil, mapOwnError(ctx, err)
	}
	return r, nil
}

// PlannedWithValues reports whether q's statement must be planned with its
// values each time it runs. PostgreSQL plans a prepared statement's first
// five runs with their values and may then keep one generic plan for any
// values, when that plan does not look dearer. A generic plan knows nothing
// of the values: it takes a pattern (LIKE $1) to match one row in two
// hundred and a range (> $1) one row in three, which makes walking the key
// order in search of matches look cheap. After five searches for a common
// word, a search for a word in no row read the whole table that way (4.3 s
// on ten million rows, against 0.5 ms planned with its value). Equalities
// are estimated from the column's number of distinct values either way, so
// reads by key, related lists and equality filters keep the generic plan
// and save the planning (about half of a related list's database time).
func PlannedWithValues(q *plan.Query) bool {
	return q.Where != nil && valueSensitive(q.Where)
}

// valueSensitive reports whether an expression holds a pattern match, a
// range comparison or an in-list: filters whose selectivity only the values
// tell.
func valueSensitive(e plan.Expr) bool {
	switch v := e.(type) {
	case *plan.Binary:
		if v.Op == plan.OpGt || v.Op == plan.OpGe || v.Op == plan.OpLt || v.Op == plan.OpLe {
			return true
		}
		return valueSensitive(v.Left) || valueSensitive(v.Right)
	case *plan.Not:
		return valueSensitive(v.X)
	case *plan.Negate:
		return valueSensitive(v.X)
	case *plan.In:
		return true
	case *plan.Call:
		switch v.Func {
		case plan.FnContains, plan.FnStartsWith, plan.FnEndsWith, plan.FnIndexOf, plan.FnSearchMatch:
			return true
		}
		for _, a := range v.Args {
			if valueSensitive(a) {
				return true
			}
		}
	}
	return false
}

// queryArgs runs the statement unnamed when it must be planned with its
// values; a DSN whose default_query_exec_mode prepares nothing needs no
// change.
func (s *Source) queryArgs(withValues bool, args []any) []any {
	if !withValues || !s.prepares {
		return args
	}
	return Unnamed(args)
}

// Unnamed makes pgx run a statement unnamed (its description cached, still
// one round trip): PostgreSQL plans an unnamed statement at each run with
// the values bound.
func Unnamed(args []any) []any {
	return append([]any{pgx.QueryExecModeCacheDescribe}, args...)
}

// mapOwnError passes on errors already in the gateway's family.
func mapOwnError(ctx context.Context, err error) error {
	var oe *odata.Error
	if errors.As(err, &oe) {
		return err
	}
	return mapError(ctx, err)
}

func (s *Source) Count(ctx context.Context, q *plan.Query) (int64, error) {
	how := sources.CountedBy(q, true)
	if _, perUser := sources.CallerOf(ctx); perUser {
		// a caller acting as their own role is always counted: neither the
		// kept count nor an estimate knows what row-level security hides
		how = sources.CountedByStatement
	}
	if n, ok, err := sources.CountWithoutStatement(ctx, q, how, s.trackedCount, s.estimate); ok || err != nil {
		return n, err
	}
	text, args, err := sqlgen.Count(s.dialect, q)
	if err != nil {
		return 0, odata.Internal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout)
	defer cancel()
	var n int64
	err = s.onReader(ctx, func(ctx context.Context, pool *pgxpool.Pool) error {
		if c, ok := sources.CallerOf(ctx); ok {
			rows, done, err := s.callerRead(ctx, pool, c, PlannedWithValues(q), text, args)
			if err != nil {
				return err
			}
			defer done()
			if !rows.Next() {
				if err := rows.Err(); err != nil {
					return err
				}
				return errors.New("count returned no row")
			}
			return rows.Scan(&n)
		}
		return pool.QueryRow(ctx, text, s.queryArgs(PlannedWithValues(q), args)...).Scan(&n)
	})
	if err != nil {
		return 0, mapOwnError(ctx, err)
	}
	return n, nil
}

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

type pgRows struct {
	rows pgx.Rows
	// peeked: the first row was read by peek; first says whether there
	// was one
	peeked, first bool
	types         []metadata.Type
	sort          sources.SortKeys
	row           []any
	err           error
	ctx           context.Context
	cancel        context.CancelFunc
	done          func() // ends the caller's read-only transaction, if any
}

// peek reads the first row ahead, and returns the error that ended the
// rows there, if any.
func (r *pgRows) peek() error {
	r.peeked, r.first = true, r.rows.Next()
	if !r.first {
		return r.rows.Err()
	}
	return nil
}

func (r *pgRows) Next() bool {
	if r.err != nil {
		return false
	}
	if r.peeked {
		r.peeked = false
		if !r.first {
			return false
		}
	} else if !r.rows.Next() {
		return false
	}
	raw, err := r.rows.Values()
	if err != nil {
		r.err = err
		return false
	}
	if err := sources.ConvertRow(raw, r.types, toEdm); err != nil {
		r.err = err
		return false
	}
	r.row = raw
	return true
}

// toEdm handles the pgx types the shared converter does not know.
func toEdm(v any, t metadata.Type) (any, error) {
	switch x := v.(type) {
	case pgtype.Numeric:
		if !x.Valid {
			return nil, nil
		}
		if x.NaN {
			return convert.To("NaN", t)
		}
		if x.InfinityModifier != pgtype.Finite {
			if x.InfinityModifier == pgtype.Infinity {
				return convert.To("Infinity", t)
			}
			return convert.To("-Infinity", t)
		}
		dv, err := x.Value()
		if err != nil {
			return nil, err
		}
		if t == metadata.Double || t == metadata.Single {
			return strconv.ParseFloat(dv.(string), 64)
		}
		return convert.To(dv, t)
	case pgtype.Time:
		return convert.To(time.Duration(x.Microseconds)*time.Microsecond, t)
	case pgtype.Interval:
		return convert.To(time.Duration(x.Microseconds)*time.Microsecond+time.Duration(x.Days)*24*time.Hour, t)
	case time.Time:
		if t == metadata.TimeOfDay {
			return time.Duration(x.Hour())*time.Hour + time.Duration(x.Minute())*time.Minute + time.Duration(x.Second())*time.Second + time.Duration(x.Nanosecond()), nil
		}
	}
	return convert.To(v, t)
}

func (r *pgRows) Values() []any { return r.sort.Columns(r.row) }
func (r *pgRows) Sort() []any   { return r.sort.Of(r.row) }

func (r *pgRows) Err() error {
	if r.err != nil {
		return r.err
	}
	if err := r.rows.Err(); err != nil {
		return mapError(r.ctx, err)
	}
	return nil
}

func (r *pgRows) Close() {
	r.close()
	r.cancel()
}

// close ends the rows but not their context, which a read that goes on
// on the primary still uses.
func (r *pgRows) close() {
	r.rows.Close()
	if r.done != nil {
		r.done() // read-only: nothing to keep
	}
}

// mapError turns a database error into the gateway's error family, once:
// SQLSTATE classes decide the status; the message says what to change.
func mapError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return odata.Timeout(err)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		switch {
		case code == "57014": // query_canceled: the server-side statement timeout
			return odata.Timeout(err)
		case code == "22012":
			e := odata.BadRequest(odata.CodeBadRequest, "the query divides by zero; check the divisors in $filter")
			e.Cause = err
			return e
		case strings.HasPrefix(code, "22"):
			e := odata.BadRequest(odata.CodeBadRequest, "a value in the query is out of range or malformed for the database: %s", pgErr.Message)
			e.Cause = err
			return e
		case strings.HasPrefix(code, "08"), code == "57P01", code == "57P02", code == "57P03", code == "53300", code == "53400":
			return odata.Unavailable(err)
		case code == "42501":
			e := odata.Forbidden("the gateway's database user may not read this table; grant it SELECT")
			e.Cause = err
			return e
		case code == "42P01", code == "42703":
			return &odata.Error{Status: 503, Code: odata.CodeUnavailable, Message: "the table changed in the database since the gateway read its schema; reload the data source", Cause: err}
		}
		return odata.Internal(err)
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) || isClosedConn(err) {
		return odata.Unavailable(err)
	}
	return odata.Internal(err)
}

func isClosedConn(err error) bool {
	s := err.Error()
	return strings.Contains(s, "conn closed") || strings.Contains(s, "unexpected EOF") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "failed to connect") || strings.Contains(s, "broken pipe")
}

// trackedCount adds up the slots of a tracked table's row count.
func (s *Source) trackedCount(ctx context.Context, es *metadata.EntitySet) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout)
	defer cancel()
	var n int64
	err := s.onReader(ctx, func(ctx context.Context, pool *pgxpool.Pool) error {
		return pool.QueryRow(ctx, `SELECT COALESCE(sum(n), 0)::bigint FROM odatagw.row_counts WHERE tbl = $1`, es.Schema+"."+es.Table).Scan(&n)
	})
	if err != nil {
		return 0, mapError(ctx, err)
	}
	return n, nil
}

// estimate is the planner's estimate of the rows q.Where selects: EXPLAIN
// reads statistics, never the rows.
func (s *Source) estimate(ctx context.Context, q *plan.Query) (int64, error) {
	text, args, err := sqlgen.Matching(s.dialect, q)
	if err != nil {
		return 0, odata.Internal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout)
	defer cancel()
	var raw []byte
	err = s.onReader(ctx, func(ctx context.Context, pool *pgxpool.Pool) error {
		return pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+text, args...).Scan(&raw)
	})
	if err != nil {
		return 0, mapError(ctx, err)
	}
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out) == 0 {
		return 0, odata.Internal(fmt.Errorf("reading the planner's estimate: %v", err))
	}
	return int64(out[0].Plan.Rows + 0.5), nil
}

// PoolStats are the pool's figures, for the gateway's metrics.
func (s *Source) PoolStats() sources.PoolStats {
	st := s.pool.Stat()
	return sources.PoolStats{InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()), Max: int(st.MaxConns()),
		Waits: st.EmptyAcquireCount(), WaitTime: st.EmptyAcquireWaitTime()}
}
