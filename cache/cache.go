package cache

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odatagw/odatagw/internal/replicas"
	"github.com/odatagw/odatagw/sources"
)

// Defaults of Options.
const (
	DefaultMaxBytes = 256 << 20
	DefaultTTL      = 30 * time.Second
	// MaxCachedRows bounds the rows of one cached page: larger answers are
	// streamed past the cache.
	MaxCachedRows = sources.MaxPageSize + 1
)

// Options configure the cache of one source.
type Options struct {
	Name string // source name, for logs and metrics
	// Store holds the entries, within its bound; the gateway's sources
	// share one. Nil: a store of MaxBytes (default 256 MB) of this source's
	// own, closed with it.
	Store    *Store
	MaxBytes int64
	// TTL is how long an entry answers (default 30 s; negative disables the
	// cache). SetTTL overrides it per entity set; 0 there disables it.
	TTL    time.Duration
	SetTTL map[string]time.Duration
	// StaleWhileRevalidate lets an entry past its TTL answer once more
	// while one refresh runs.
	StaleWhileRevalidate bool
	// Bus, when set, shares write invalidations with other replicas.
	Bus    replicas.Bus
	Logger *slog.Logger
}

// Source is a source with a query cache in front.
type Source struct {
	inner    sources.Source
	opts     Options
	store    *Store
	ownStore bool
	owner    string // this cache's part of the store: unique per Source
	group    flights

	gensMu sync.RWMutex
	gens   map[string]*atomic.Uint64

	statsMu sync.Mutex
	stats   map[string]*SetStats

	unsubscribe func() // leaves the bus when the source closes
}

// SetStats are the figures of one entity set.
type SetStats struct {
	Hits, Misses, Stale, Evictions atomic.Int64
}

// entry is one cached thing: an answer, a count, or what a request's
// fingerprint was planned into.
type entry struct {
	answer     *Answer
	count      int64
	recalled   *recalled
	freshUntil time.Time
	staleUsed  atomic.Bool
}

// recalled is what a request was planned into: the set it reads and the
// canonical text its answer is filed under.
type recalled struct{ set, text string }

var owners atomic.Uint64

// Wrap puts a cache in front of inner.
func Wrap(inner sources.Source, opts Options) *Source {
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Source{inner: inner, opts: opts, store: opts.Store, owner: strconv.FormatUint(owners.Add(1), 10),
		gens: map[string]*atomic.Uint64{}, stats: map[string]*SetStats{}}
	if c.store == nil {
		c.store, c.ownStore = NewStore(opts.MaxBytes), true
	}
	if opts.Bus != nil {
		c.unsubscribe = opts.Bus.Subscribe(func(m replicas.Message) {
			switch {
			case m.Kind != replicas.KindInvalidate:
			case m.Source == "":
				c.FlushLocal("")
			case m.Source == opts.Name:
				c.FlushLocal(m.Set)
			}
		})
	}
	return c
}

// Unwrap is the source behind the cache, so that sources.As finds the
// abilities the cache does not take part in.
func (c *Source) Unwrap() sources.Source { return c.inner }

func (c *Source) ttl(set string) time.Duration {
	if t, ok := c.opts.SetTTL[set]; ok {
		return t
	}
	if c.opts.TTL < 0 {
		return 0
	}
	return c.opts.TTL
}

func (c *Source) gen(set string) *atomic.Uint64 {
	c.gensMu.RLock()
	g, ok := c.gens[set]
	c.gensMu.RUnlock()
	if ok {
		return g
	}
	c.gensMu.Lock()
	defer c.gensMu.Unlock()
	if g, ok = c.gens[set]; !ok {
		g = new(atomic.Uint64)
		c.gens[set] = g
	}
	return g
}

// Bump makes every cached answer about set unreachable and frees it, here
// and, through the bus, on the other replicas: later reads go to the
// database. Writes through the gateway call it before they answer.
func (c *Source) Bump(set string) {
	c.FlushLocal(set)
	if g, ok := c.opts.Bus.(replicas.Generations); ok {
		// before the write answers: from then on no replica finds an
		// answer filed under the old generation
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := g.Advance(ctx, c.opts.Name, set); err != nil {
			c.opts.Logger.Warn("the shared generation of a set could not be moved on; other replicas may answer from before this write until their TTL",
				"source", c.opts.Name, "set", set, "error", err)
		}
		cancel()
	}
	if c.opts.Bus != nil {
		c.opts.Bus.Publish(replicas.Message{Source: c.opts.Name, Set: set})
	}
}

// Stats returns the figures of a set.
func (c *Source) Stats(set string) *SetStats {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	s, ok := c.stats[set]
	if !ok {
		s = &SetStats{}
		c.stats[set] = s
	}
	return s
}

// Bytes is what this cache's entries count.
func (c *Source) Bytes() int64 { return c.store.OwnerBytes(c.owner) }

// Store is where the entries are kept, within its bound (shared with the
// gateway's other sources).
func (c *Source) Store() *Store { return c.store }

// SetNames lists the sets with figures.
func (c *Source) SetNames() []string {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	names := make([]string, 0, len(c.stats))
	for n := range c.stats {
		names = append(names, n)
	}
	return names
}

// key names a cached answer: this cache's part of the store, the
// query's canonical text, the model and write generation it was read
// under, and, where the source acts as each caller (row-level security),
// the caller, so that no user is answered from another's rows.
// With replicas sharing generations, the key holds the set's shared
// generation too; when it cannot be read, ok is false and the request goes
// to the database: an old answer is never risked. gen is the local
// generation the key holds, for put.
func (c *Source) key(ctx context.Context, kind, set, text string) (key string, gen uint64, ok bool) {
	scope := ""
	if caller, ok := sources.CallerOf(ctx); ok {
		scope = "|as " + caller.Scope()
	}
	shared := ""
	if g, ok := c.opts.Bus.(replicas.Generations); ok {
		gctx, cancel := context.WithTimeout(ctx, time.Second)
		n, err := g.Generation(gctx, c.opts.Name, set)
		cancel()
		if err != nil {
			return "", 0, false
		}
		shared = "|s" + strconv.FormatUint(n, 10)
	}
	gen = c.gen(set).Load()
	return c.owner + "|" + kind + "|" + c.inner.Metadata().Version() + "|g" + strconv.FormatUint(gen, 10) + shared + scope + "|" + text, gen, true
}

// lookup returns a usable entry and whether it is stale.
func (c *Source) lookup(key string) (*entry, bool) {
	e := c.store.get(key, time.Now())
	if e == nil {
		return nil, false
	}
	if time.Now().Before(e.freshUntil) {
		return e, false
	}
	if c.opts.StaleWhileRevalidate && e.staleUsed.CompareAndSwap(false, true) {
		return e, true
	}
	return nil, false
}

// put keeps an entry of set read under generation gen, unless the set has
// moved on since: a write that answered while it was read must not leave
// it behind.
func (c *Source) put(key, set string, gen uint64, e *entry, size int64, ttl time.Duration) {
	e.freshUntil = time.Now().Add(ttl)
	keep := ttl
	if c.opts.StaleWhileRevalidate {
		keep = 2 * ttl
	}
	g := c.gen(set)
	it := &item{key: key, owner: c.owner, group: groupOf(c.owner, set), size: size, keep: time.Now().Add(keep), e: e, stats: c.Stats(set)}
	if c.store.put(it, func() bool { return g.Load() == gen }) && e.answer != nil {
		store := c.store
		e.answer.count = func(n int64) { store.grow(key, e, n) }
	}
}

// Flush drops every entry of a set, or of the whole source when set is "",
// here and on the other replicas.
func (c *Source) Flush(set string) {
	c.FlushLocal(set)
	if c.opts.Bus != nil {
		c.opts.Bus.Publish(replicas.Message{Source: c.opts.Name, Set: set})
	}
}

// FlushLocal drops entries in this process only: the generation moves on,
// so nothing read before is kept again, and the entries are freed.
func (c *Source) FlushLocal(set string) {
	if set == "" {
		c.gensMu.RLock()
		for _, g := range c.gens {
			g.Add(1)
		}
		c.gensMu.RUnlock()
		c.store.dropOwner(c.owner)
		return
	}
	c.gen(set).Add(1)
	c.store.dropGroup(groupOf(c.owner, set))
}
