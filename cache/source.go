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
	c.store.dropOwner(c.owner)
	if c.ownStore {
		c.store.Close()
	}
	return c.inner.Close()
}

// Reload reloads the inner source's model. Every key holds the metadata
// version, so answers about the old model are not used again.
func (c *Source) Reload(ctx context.Context) (sources.Changes, error) {
	r, ok := sources.As[sources.Reloader](c.inner)
	if !ok {
		return sources.Changes{}, odata.NotImplemented("reloading this data source")
	}
	return r.Reload(ctx)
}

// Watch passes change notifications through.
func (c *Source) Watch(ctx context.Context, on sources.WatchEvents) {
	if w, ok := sources.As[sources.ChangeWatcher](c.inner); ok {
		w.Watch(ctx, on)
	}
}

// Buffers reports whether answers about set are read whole before they
// return: pages of sets the cache keeps are.
func (c *Source) Buffers(set string) bool { return c.ttl(set) > 0 }

func (c *Source) MaxConcurrentQueries() int {
	if cp, ok := sources.As[sources.Capacity](c.inner); ok {
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

// Query runs a query on the inner source: pages are kept as the answers
// they become (see Answer), not as rows.
func (c *Source) Query(ctx context.Context, q *plan.Query) (sources.Rows, error) {
	return c.innerQuery(ctx, q)
}

// Answer returns the answer filed under text for set: from the cache while
// it is fresh (a hit) or, past its TTL, once more while one refresh runs
// (stale); else render makes it, once for every caller asking the same at
// the same time, and it is kept. render must not use anything of the
// request that called first but what every caller shares: when that
// request goes away, the others still wait for it.
func (c *Source) Answer(ctx context.Context, set, text string, render func(context.Context) (*Answer, error)) (*Answer, error) {
	ctx, end := cacheSpan(ctx, set)
	defer end()
	ttl := c.ttl(set)
	if ttl <= 0 {
		record(ctx, statusBypass)
		return render(ctx)
	}
	key, gen, ok := c.key(ctx, "answer", set, text)
	if !ok {
		record(ctx, statusBypass)
		return render(ctx)
	}
	e, err := c.answer(ctx, set, key, func(ctx context.Context) (*entry, error) {
		a, err := render(ctx)
		if err != nil {
			return nil, err
		}
		e := &entry{answer: a}
		c.put(key, set, gen, e, a.size(), ttl)
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return e.answer, nil
}

// recallSet is the store's set name under which a cache files what
// requests were planned into; no entity set is called so.
const recallSet = "\x00recall"

// Remember files that a request with this fingerprint (its path, options
// and the headers that shape its answer, as sent) was planned into the
// answer under text for set, so that Recall can find that answer the next
// time without parsing or planning it again.
func (c *Source) Remember(fingerprint, set, text string) {
	ttl := c.ttl(set)
	if ttl <= 0 {
		return
	}
	key := c.owner + "|recall|" + c.inner.Metadata().Version() + "|" + fingerprint
	e := &entry{recalled: &recalled{set: set, text: text}, freshUntil: time.Now().Add(ttl)}
	it := &item{key: key, owner: c.owner, group: groupOf(c.owner, recallSet), size: int64(len(set) + len(text)), keep: e.freshUntil, e: e}
	c.store.put(it, func() bool { return true })
}

// Recall answers a request that was planned before (see Remember) from a
// fresh cached answer: a lookup and nothing else. may says whether the
// caller may read the set the request reads; where it may not, or there is
// no fresh answer, ok is false and the request takes the whole way.
func (c *Source) Recall(ctx context.Context, fingerprint string, may func(set string) bool) (a *Answer, set string, ok bool) {
	now := time.Now()
	e := c.store.get(c.owner+"|recall|"+c.inner.Metadata().Version()+"|"+fingerprint, now)
	if e == nil || e.recalled == nil || !may(e.recalled.set) {
		return nil, "", false
	}
	set = e.recalled.set
	key, _, ok := c.key(ctx, "answer", set, e.recalled.text)
	if !ok {
		return nil, "", false
	}
	if e = c.store.get(key, now); e == nil || e.answer == nil || !now.Before(e.freshUntil) {
		return nil, "", false
	}
	c.Stats(set).Hits.Add(1)
	record(ctx, statusHit)
	return e.answer, set, true
}

func noEnd() {}

// cacheSpan starts the span of a cache lookup; its end records what the
// cache did (in a status of its own, made only when traced).
func cacheSpan(ctx context.Context, set string) (context.Context, func()) {
	if !tracing.Enabled() {
		return ctx, noEnd // not even the attribute is made
	}
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

// innerQuery asks the database (whose span, if traced, is the source's
// own: see sources.Traced).
func (c *Source) innerQuery(ctx context.Context, q *plan.Query) (sources.Rows, error) {
	return c.inner.Query(ctx, q)
}

// innerCount counts in the database.
func (c *Source) innerCount(ctx context.Context, q *plan.Query) (int64, error) {
	return c.inner.Count(ctx, q)
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
	key, gen, ok := c.key(ctx, "count", q.Set.Name, plan.CountKey(q))
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
		c.put(key, q.Set.Name, gen, e, 0, ttl)
		return e, nil
	})
	if err != nil {
		return 0, err
	}
	return e.count, nil
}

// writes pass through and move the set's generation on before they answer

func (c *Source) writer() (sources.Writer, error) {
	w, ok := sources.As[sources.Writer](c.inner)
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
	tr, ok := sources.As[sources.Transactor](c.inner)
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
func (c *Source) Report() metadata.Decisions {
	if r, ok := sources.As[sources.Reporter](c.inner); ok {
		return r.Report()
	}
	return metadata.Decisions{}
}

// ActsAsCaller passes on whether the inner source can act as each caller.
func (c *Source) ActsAsCaller() bool {
	a, ok := sources.As[sources.CallerAware](c.inner)
	return ok && a.ActsAsCaller()
}
