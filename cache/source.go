package cache

import (
	"context"
	"net/http"
	"time"

	"github.com/odatagw/odatagw/internal/tracing"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
)

var (
	_ sources.Source     = (*Source)(nil)
	_ sources.Writer     = (*Source)(nil)
	_ sources.Transactor = (*Source)(nil)
	_ sources.Capacity   = (*Source)(nil)
	_ sources.Buffering  = (*Source)(nil)
	_ sources.Reloader   = (*Source)(nil)
)

func (c *Source) Metadata() *metadata.Service    { return c.inner.Metadata() }
func (c *Source) Ping(ctx context.Context) error { return c.inner.Ping(ctx) }
func (c *Source) Close() error {
	if c.unsubscribe != nil {
		c.unsubscribe() // a replaced source must not stay subscribed, nor in memory
	}
	c.store.Flush()
	return c.inner.Close()
}

// Reload reloads the inner source's model. Every key holds the metadata
// version, so answers about the old model are not used again.
func (c *Source) Reload(ctx context.Context) (sources.Changes, error) {
	r, ok := c.inner.(sources.Reloader)
	if !ok {
		return sources.Changes{}, odata.NotImplemented("reloading this data source")
	}
	return r.Reload(ctx)
}

// Watch passes change notifications through.
func (c *Source) Watch(ctx context.Context, on sources.WatchEvents) {
	if w, ok := c.inner.(sources.ChangeWatcher); ok {
		w.Watch(ctx, on)
	}
}

// Buffers reports whether answers about set are read whole before they
// return: pages of sets the cache keeps are.
func (c *Source) Buffers(set string) bool { return c.ttl(set) > 0 }

func (c *Source) MaxConcurrentQueries() int {
	if cp, ok := c.inner.(sources.Capacity); ok {
		return cp.MaxConcurrentQueries()
	}
	return 0
}

// answer returns the entry under key: fresh from the cache (a hit), past
// its TTL while one refresh runs (stale), or loaded once for every caller
// asking at the same time (a miss).
func (c *Source) answer(ctx context.Context, set, key string, load func(context.Context) (*entry, error)) (*entry, error) {
	stats := c.Stats(set)
	if e, stale := c.lookup(key); e != nil {
		if stale {
			stats.Stale.Add(1)
			record(ctx, statusStale)
			go func() {
				// the refresh outlives the request but keeps what it carries:
				// on a per-user source, the caller it must run as
				bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if _, err := c.group.do(bg, key, load); err != nil {
					c.opts.Logger.Warn("refreshing a cached answer failed", "source", c.opts.Name, "set", set, "error", err)
				}
			}()
		} else {
			stats.Hits.Add(1)
			record(ctx, statusHit)
		}
		return e, nil
	}
	stats.Misses.Add(1)
	record(ctx, statusMiss)
	return c.group.do(ctx, key, load)
}

// Query answers a page from the cache, or runs it once for every caller
// asking the same at the same time and keeps its rows.
func (c *Source) Query(ctx context.Context, q *plan.Query) (sources.Rows, error) {
	ctx, end := cacheSpan(ctx, q.Set.Name)
	defer end()
	ttl := c.ttl(q.Set.Name)
	if ttl <= 0 || q.Limit <= 0 || q.Limit > MaxCachedRows {
		record(ctx, statusBypass)
		return c.innerQuery(ctx, q)
	}
	key, ok := c.key(ctx, "rows", q, plan.QueryKey(q))
	if !ok {
		record(ctx, statusBypass)
		return c.innerQuery(ctx, q)
	}
	e, err := c.answer(ctx, q.Set.Name, key, func(ctx context.Context) (*entry, error) { return c.load(ctx, key, q, ttl) })
	if err != nil {
		return nil, err
	}
	return &cachedRows{e: e, i: -1}, nil
}

// cacheSpan starts the span of a cache lookup; its end records what the
// cache did (in a status of its own, made only when traced).
func cacheSpan(ctx context.Context, set string) (context.Context, func()) {
	ctx, span := tracing.Start(ctx, "cache", attribute.String("odata.entity_set", set))
	if !span.IsRecording() {
		return ctx, func() {}
	}
	ctx = WithStatus(ctx)
	return ctx, func() {
		span.SetAttributes(attribute.String("cache.result", StatusOf(ctx).String()))
		span.End()
	}
}

// dbSpan starts the span of a call to the database; end records its error.
func dbSpan(ctx context.Context, op, set string) (context.Context, func(error)) {
	ctx, span := tracing.Start(ctx, "database", attribute.String("db.operation.name", op), attribute.String("odata.entity_set", set))
	if !span.IsRecording() {
		return ctx, func(error) {}
	}
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// innerQuery asks the database (the span ends when the query starts
// answering: its rows then stream to the client).
func (c *Source) innerQuery(ctx context.Context, q *plan.Query) (sources.Rows, error) {
	ctx, end := dbSpan(ctx, "query", q.Set.Name)
	rows, err := c.inner.Query(ctx, q)
	end(err)
	return rows, err
}

// innerCount counts in the database.
func (c *Source) innerCount(ctx context.Context, q *plan.Query) (int64, error) {
	ctx, end := dbSpan(ctx, "count", q.Set.Name)
	n, err := c.inner.Count(ctx, q)
	end(err)
	return n, err
}

// load reads every row of a page and keeps it.
func (c *Source) load(ctx context.Context, key string, q *plan.Query, ttl time.Duration) (*entry, error) {
	rows, err := c.innerQuery(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	e := &entry{nValues: len(q.Columns)}
	for rows.Next() {
		row := make([]any, 0, len(q.Columns)+len(q.OrderBy))
		row = append(row, rows.Values()...)
		row = append(row, rows.Sort()...)
		e.rows = append(e.rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c.put(key, q.Set.Name, e, ttl)
	return e, nil
}

// Count answers a count from the cache, or counts once for concurrent callers.
func (c *Source) Count(ctx context.Context, q *plan.Query) (int64, error) {
	ctx, end := cacheSpan(ctx, q.Set.Name)
	defer end()
	ttl := c.ttl(q.Set.Name)
	if ttl <= 0 {
		record(ctx, statusBypass)
		return c.innerCount(ctx, q)
	}
	key, ok := c.key(ctx, "count", q, plan.CountKey(q))
	if !ok {
		record(ctx, statusBypass)
		return c.innerCount(ctx, q)
	}
	e, err := c.answer(ctx, q.Set.Name, key, func(ctx context.Context) (*entry, error) {
		n, err := c.innerCount(ctx, q)
		if err != nil {
			return nil, err
		}
		e := &entry{count: n}
		c.put(key, q.Set.Name, e, ttl)
		return e, nil
	})
	if err != nil {
		return 0, err
	}
	return e.count, nil
}

// cachedRows iterates over a cached page.
type cachedRows struct {
	e *entry
	i int
}

func (r *cachedRows) Next() bool {
	r.i++
	return r.i < len(r.e.rows)
}
func (r *cachedRows) Values() []any { return r.e.rows[r.i][:r.e.nValues] }
func (r *cachedRows) Sort() []any   { return r.e.rows[r.i][r.e.nValues:] }
func (r *cachedRows) Err() error    { return nil }
func (r *cachedRows) Close()        {}

// writes pass through and move the set's generation on before they answer

func (c *Source) writer() (sources.Writer, error) {
	w, ok := c.inner.(sources.Writer)
	if !ok {
		return nil, &odata.Error{Status: http.StatusMethodNotAllowed, Code: odata.CodeReadOnly, Message: "this data source is read-only"}
	}
	return w, nil
}

func (c *Source) Insert(ctx context.Context, set *metadata.EntitySet, values []plan.Assignment) ([]any, error) {
	w, err := c.writer()
	if err != nil {
		return nil, err
	}
	defer c.Bump(set.Name)
	return w.Insert(ctx, set, values)
}

func (c *Source) Update(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment, check func([]any) error) ([]any, error) {
	w, err := c.writer()
	if err != nil {
		return nil, err
	}
	defer c.Bump(set.Name)
	return w.Update(ctx, set, key, values, check)
}

func (c *Source) Delete(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, check func([]any) error) error {
	w, err := c.writer()
	if err != nil {
		return err
	}
	defer c.Bump(set.Name)
	return w.Delete(ctx, set, key, check)
}

// Atomically runs fn's writes in one transaction of the inner source and
// moves on the generation of every set they touched.
func (c *Source) Atomically(ctx context.Context, fn func(sources.Writer) error) error {
	tr, ok := c.inner.(sources.Transactor)
	if !ok {
		return odata.NotImplemented("change sets on this data source")
	}
	touched := map[string]bool{}
	defer func() {
		for s := range touched {
			c.Bump(s)
		}
	}()
	return tr.Atomically(ctx, func(w sources.Writer) error {
		return fn(&recordingWriter{w: w, touched: touched})
	})
}

// recordingWriter notes the sets a transaction writes to.
type recordingWriter struct {
	w       sources.Writer
	touched map[string]bool
}

func (r *recordingWriter) Insert(ctx context.Context, set *metadata.EntitySet, values []plan.Assignment) ([]any, error) {
	r.touched[set.Name] = true
	return r.w.Insert(ctx, set, values)
}

func (r *recordingWriter) Update(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment, check func([]any) error) ([]any, error) {
	r.touched[set.Name] = true
	return r.w.Update(ctx, set, key, values, check)
}

func (r *recordingWriter) Delete(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, check func([]any) error) error {
	r.touched[set.Name] = true
	return r.w.Delete(ctx, set, key, check)
}

// Report passes on what building the inner source's model decided.
func (c *Source) Report() sources.Report {
	if r, ok := c.inner.(sources.Reporter); ok {
		return r.Report()
	}
	return sources.Report{}
}

// ActsAsCaller passes on whether the inner source can act as each caller.
func (c *Source) ActsAsCaller() bool {
	a, ok := c.inner.(sources.CallerAware)
	return ok && a.ActsAsCaller()
}
