package sources

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
)

// Rows iterates over the result of a query. Values holds one value per
// column of the query (plan.Query.Columns), a slice of the row's own;
// Sort one per sort key (plan.Query.OrderBy), for the next skiptoken, in
// a slice the next call of Sort reuses. Values are in the Go
// representation of their Edm type (see package plan).
type Rows interface {
	Next() bool
	Values() []any
	Sort() []any
	Err() error
	Close()
}

// Source is one registered database, served as one OData service.
type Source interface {
	// Metadata is the model the source was introspected into.
	Metadata() *metadata.Service
	// Query runs one SELECT and streams its rows.
	Query(ctx context.Context, q *plan.Query) (Rows, error)
	// Count counts the rows that q.Where selects, ignoring order and paging.
	Count(ctx context.Context, q *plan.Query) (int64, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error
}

// Capacity is implemented by sources that know how many queries they can
// run at once (their connection pool size). The server never runs more at
// once, so that a request needing two connections (page and count) cannot
// wait forever for the second while others hold the rest.
type Capacity interface {
	MaxConcurrentQueries() int
}

// Options configure one source: what a kind opens and serves, in the
// kinds' own terms (the gateway's configuration is translated into them
// where the gateway is put together); a kind written elsewhere builds them
// itself. Normalize fills what is left at zero.
type Options struct {
	Name string
	DSN  string
	// Schemas are the PostgreSQL schemas served (default public); Include
	// and Exclude are patterns of table names served and left out.
	Schemas, Include, Exclude []string
	// Keys name the key columns of a table (a view, or a table without
	// one); Names rename tables' sets, Columns their properties.
	Keys    map[string][]string
	Names   map[string]string
	Columns map[string]map[string]string
	// PageSize is the server-driven page (DefaultPageSize, at most
	// MaxPageSize).
	PageSize int
	// ReadOnly serves every set read-only; ReadOnlySets some of them.
	ReadOnly     bool
	ReadOnlySets []string
	// StatementTimeout bounds every statement; MaxConnections the pool.
	StatementTimeout time.Duration
	MaxConnections   int
	// Count is how sets are counted (exact, estimated or auto, with
	// CountThreshold); SetCount per set.
	Count          string
	CountThreshold int64
	SetCount       map[string]string
	// ChangeRetention is how long the change log keeps a change, and so
	// how long a delta link stays good.
	ChangeRetention time.Duration
	// Search names, per set, the properties $search reads.
	Search map[string][]string
	// Summaries are the summary sets served beside the tables' sets.
	Summaries []Summary
	// PerUser runs each request as its caller's database role.
	PerUser bool
	Logger  *slog.Logger
	// Dial, when set, makes the source's database connections: through
	// an agent's tunnel (internal/tunnel) for a source with via.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Standbys are DSNs of read-only copies of the database (PostgreSQL
	// streaming standbys) that serve reads; MaxStandbyLag takes one out
	// of rotation while it is further behind; Positions shares the
	// newest write's position between the gateway's replicas.
	Standbys      []string
	MaxStandbyLag time.Duration
	Positions     Positions
}

// Defaults and bounds of Options.
const (
	DefaultPageSize         = 1000
	MaxPageSize             = 2000 // Salesforce's largest page
	DefaultStatementTimeout = 60 * time.Second
	DefaultMaxConnections   = 10
	DefaultCountThreshold   = 1_000_000
	DefaultChangeRetention  = 72 * time.Hour
	DefaultMaxStandbyLag    = 5 * time.Second
)

// Normalize fills what the options leave at zero with the defaults.
func (o *Options) Normalize() {
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = DefaultStatementTimeout
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.Count == "" {
		o.Count = string(metadata.CountExact)
	}
	if o.CountThreshold <= 0 {
		o.CountThreshold = DefaultCountThreshold
	}
	if o.ChangeRetention <= 0 {
		o.ChangeRetention = DefaultChangeRetention
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxStandbyLag <= 0 {
		o.MaxStandbyLag = DefaultMaxStandbyLag
	}
}

// Factory opens a source of one kind.
type Factory func(ctx context.Context, opts Options) (Source, error)

var (
	mu      sync.RWMutex
	kinds   = map[string]Factory{}
	schemes = map[string]string{}
)

// Register makes a source kind available under the DSN schemes given.
func Register(kind string, f Factory, dsnSchemes ...string) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := kinds[kind]; dup {
		panic("sources: kind registered twice: " + kind)
	}
	kinds[kind] = f
	for _, s := range dsnSchemes {
		schemes[s] = kind
	}
}

// KindOf returns the source kind a DSN names by its scheme.
func KindOf(dsn string) (string, error) {
	scheme, _, ok := strings.Cut(dsn, ":")
	mu.RLock()
	defer mu.RUnlock()
	if kind, known := schemes[strings.ToLower(scheme)]; ok && known {
		return kind, nil
	}
	var known []string
	for s := range schemes {
		known = append(known, s+":")
	}
	sort.Strings(known)
	return "", fmt.Errorf("the data source URL must start with one of %s", strings.Join(known, ", "))
}

// Open opens a source of the kind its DSN names.
func Open(ctx context.Context, opts Options) (Source, error) {
	opts.Normalize()
	kind, err := KindOf(opts.DSN)
	if err != nil {
		return nil, err
	}
	mu.RLock()
	f := kinds[kind]
	mu.RUnlock()
	return f(ctx, opts)
}

// ChangeWatcher is implemented by sources that hear about changes made
// behind the gateway's back (PostgreSQL, through LISTEN/NOTIFY). Watch
// runs until ctx ends.
type ChangeWatcher interface {
	Watch(ctx context.Context, on WatchEvents)
}

// WatchEvents are what a ChangeWatcher reports.
type WatchEvents struct {
	// Changed gets the entity set whose table changed, or "" when changes
	// may have been missed (after a reconnection).
	Changed func(set string)
	// Reload is called when an admin asks for the schema to be read again.
	Reload func()
	// Listening, when set, hears whether the watcher is listening: true
	// once it is, false when its connection is lost.
	Listening func(bool)
}

// Pooled is implemented by sources with a connection pool, for the
// gateway's metrics.
type Pooled interface {
	PoolStats() PoolStats
}

// PoolStats are a pool's figures now.
type PoolStats struct {
	InUse, Idle, Max int
	Waits            int64         // times a query waited for a connection
	WaitTime         time.Duration // how long in all
}

// SQLPoolStats reads database/sql's figures.
func SQLPoolStats(s sql.DBStats) PoolStats {
	return PoolStats{InUse: s.InUse, Idle: s.Idle, Max: s.MaxOpenConnections, Waits: s.WaitCount, WaitTime: s.WaitDuration}
}

// Explainer is a source that can show the statement it runs for a query
// and how the database executes it: the admin's view of a slow request.
type Explainer interface {
	// SQL is the statement for q, with placeholders, and its values.
	SQL(q *plan.Query) (string, []any, error)
	// CountSQL is the statement that counts q's rows for $count=true,
	// with its values; "" where the count reads no rows (CountedBy).
	CountSQL(q *plan.Query) (string, []any, error)
	// Explain is the database's plan for the statement; with analyze it
	// runs it, in a read-only transaction under a short timeout.
	Explain(ctx context.Context, sql string, args []any, analyze bool) (Explanation, error)
	// IndexFor is the index that serves a filter on set: the columns
	// matched by contains/endswith/$search, those matched by startswith,
	// then a B-tree on the compared columns and the sorted ones, in
	// that order; each with the table's size.
	IndexFor(ctx context.Context, set *metadata.EntitySet, contains, prefix, compared, sorted []string) ([]metadata.IndexAdvice, error)
}

// How a source counts a query's rows (CountedBy).
const (
	CountedByStatement = ""         // count(*) over the rows the filter selects
	CountedByTracking  = "tracking" // the row count change tracking keeps: no scan
	CountedByEstimate  = "estimate" // the planner's estimate (count: estimated)
	CountedByEither    = "auto"     // the estimate, or count(*) below the set's threshold
)

// CountedBy says how a source that keeps tracked tables' counts and (with
// estimates) takes the planner's word counts q for a caller that is not
// acting as their own database role, who is always counted.
func CountedBy(q *plan.Query, estimates bool) string {
	switch {
	case q.Set.Tracked && q.Where == nil:
		return CountedByTracking
	case !estimates || q.Set.Count.Mode == metadata.CountExact || q.Set.Count.Mode == "":
		return CountedByStatement
	case q.Set.Count.Mode == metadata.CountEstimated:
		return CountedByEstimate
	}
	return CountedByEither
}

// CountWithoutStatement answers a count the way how (CountedBy) allows
// without counting rows: the count change tracking keeps, or the
// planner's estimate (in auto, only from the set's threshold on). ok is
// false where the rows must be counted.
func CountWithoutStatement(ctx context.Context, q *plan.Query, how string,
	tracked func(context.Context, *metadata.EntitySet) (int64, error),
	estimate func(context.Context, *plan.Query) (int64, error)) (n int64, ok bool, err error) {
	switch how {
	case CountedByTracking:
		// the triggers keep the row count: exact, and as cheap at ten
		// million rows as at ten
		n, err = tracked(ctx, q.Set)
		return n, true, err
	case CountedByEstimate, CountedByEither:
		est, err := estimate(ctx, q)
		if err != nil {
			return 0, true, err
		}
		if how == CountedByEstimate || est >= q.Set.Count.Threshold {
			return est, true, nil
		}
	}
	return 0, false, nil
}

// Explanation is a database's plan, as text, with what deserves notice.
type Explanation struct {
	Plan []string `json:"plan"` // the plan's lines, as the database writes them
	// Scans are the steps that read a whole table (or a large part of it):
	// where an index would help.
	Scans []string `json:"scans"`
	// Costliest are the plan's steps by their own cost, the dearest
	// first, where the database says (PostgreSQL).
	Costliest []string `json:"costliest,omitempty"`
	Analyzed  bool     `json:"analyzed"`
}

// ErrNeedsSample is a plan asked for before the shape's values were
// sampled: the statement's placeholders have none to plan with.
var ErrNeedsSample = errors.New("the plan needs the statement's values: turn on sampling for the shape and wait for its next request")
