package cache

import (
	"container/list"
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/odatagw/odatagw/odata/plan"
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
	Name     string // source name, for logs and metrics
	MaxBytes int64  // bound on the bytes of all entries (default 256 MB)
	// TTL is how long an entry answers (default 30 s; negative disables the
	// cache). SetTTL overrides it per entity set; 0 there disables it.
	TTL    time.Duration
	SetTTL map[string]time.Duration
	// StaleWhileRevalidate lets an entry past its TTL answer once more
	// while one refresh runs.
	StaleWhileRevalidate bool
	// Bus, when set, shares write invalidations with other replicas.
	Bus    Bus
	Logger *slog.Logger
}

// Source is a source with a query cache in front.
type Source struct {
	inner sources.Source
	opts  Options
	store *gocache.Cache
	group flights

	mu    sync.Mutex // guards lru, bytes and the size of each entry
	lru   *list.List // front: most recently used key
	items map[string]*list.Element
	bytes int64

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

type lruItem struct {
	key  string
	set  string
	size int64
}

// entry is one cached answer.
type entry struct {
	rows       [][]any // values then sort keys, per row
	nValues    int
	count      int64
	freshUntil time.Time
	staleUsed  atomic.Bool
}

// Wrap puts a cache in front of inner.
func Wrap(inner sources.Source, opts Options) *Source {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Source{inner: inner, opts: opts, lru: list.New(), items: map[string]*list.Element{},
		gens: map[string]*atomic.Uint64{}, stats: map[string]*SetStats{}}
	c.store = gocache.New(opts.TTL, time.Minute)
	c.store.OnEvicted(func(key string, _ any) { c.forget(key) })
	if opts.Bus != nil {
		c.unsubscribe = opts.Bus.Subscribe(func(m Message) {
			switch {
			case m.Kind != KindInvalidate:
			case m.Source == "":
				c.FlushLocal("")
			case m.Source == opts.Name:
				c.FlushLocal(m.Set)
			}
		})
	}
	return c
}

// Inner is the wrapped source.
func (c *Source) Inner() sources.Source { return c.inner }

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

// Bump makes every cached answer about set unreachable, here and, through
// the bus, on the other replicas: later reads go to the database. Writes
// through the gateway call it before they answer.
func (c *Source) Bump(set string) {
	c.gen(set).Add(1)
	if g, ok := c.opts.Bus.(Generations); ok {
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
		c.opts.Bus.Publish(Message{Source: c.opts.Name, Set: set})
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

// Bytes is the size of every entry, as the cache counts it.
func (c *Source) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

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

// key names a cached answer: the query's canonical text, the model and
// write generation it was read under, and, where the source acts as each
// caller (row-level security), the caller, so that no user is answered
// from another's rows.
// With replicas sharing generations, the key holds the set's shared
// generation too; when it cannot be read, ok is false and the request goes
// to the database: an old answer is never risked.
func (c *Source) key(ctx context.Context, kind string, q *plan.Query, text string) (key string, ok bool) {
	scope := ""
	if caller, ok := sources.CallerOf(ctx); ok {
		scope = "|as " + caller.Scope()
	}
	shared := ""
	if g, ok := c.opts.Bus.(Generations); ok {
		gctx, cancel := context.WithTimeout(ctx, time.Second)
		n, err := g.Generation(gctx, c.opts.Name, q.Set.Name)
		cancel()
		if err != nil {
			return "", false
		}
		shared = "|s" + strconv.FormatUint(n, 10)
	}
	return kind + "|" + c.inner.Metadata().Version() + "|g" + strconv.FormatUint(c.gen(q.Set.Name).Load(), 10) + shared + scope + "|" + text, true
}

// lookup returns a usable entry and whether it is stale.
func (c *Source) lookup(key string) (*entry, bool) {
	v, ok := c.store.Get(key)
	if !ok {
		return nil, false
	}
	e := v.(*entry)
	c.touch(key)
	if time.Now().Before(e.freshUntil) {
		return e, false
	}
	if c.opts.StaleWhileRevalidate && e.staleUsed.CompareAndSwap(false, true) {
		return e, true
	}
	return nil, false
}

func (c *Source) touch(key string) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.lru.MoveToFront(el)
	}
	c.mu.Unlock()
}

// put stores an entry and evicts the least recently used until the cache
// fits its bound.
func (c *Source) put(key, set string, e *entry, ttl time.Duration) {
	size := entrySize(key, e)
	if size > c.opts.MaxBytes/4 {
		return // one answer may not push out most of the cache
	}
	e.freshUntil = time.Now().Add(ttl)
	keep := ttl
	if c.opts.StaleWhileRevalidate {
		keep = 2 * ttl
	}
	c.store.Set(key, e, keep)
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.bytes -= el.Value.(*lruItem).size
		c.lru.Remove(el)
	}
	c.items[key] = c.lru.PushFront(&lruItem{key: key, set: set, size: size})
	c.bytes += size
	var victims []*lruItem
	for c.bytes > c.opts.MaxBytes && c.lru.Len() > 1 {
		el := c.lru.Back()
		it := el.Value.(*lruItem)
		c.lru.Remove(el)
		delete(c.items, it.key)
		c.bytes -= it.size
		victims = append(victims, it)
	}
	c.mu.Unlock()
	for _, it := range victims {
		c.store.Delete(it.key) // OnEvicted finds it already forgotten
		c.Stats(it.set).Evictions.Add(1)
	}
}

// forget drops the accounting of a key go-cache removed (expiry).
func (c *Source) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.bytes -= el.Value.(*lruItem).size
		c.lru.Remove(el)
		delete(c.items, key)
	}
}

// Flush drops every entry of a set, or of the whole source when set is "",
// here and on the other replicas.
func (c *Source) Flush(set string) {
	c.FlushLocal(set)
	if c.opts.Bus != nil {
		c.opts.Bus.Publish(Message{Source: c.opts.Name, Set: set})
	}
}

// FlushLocal drops entries in this process only.
func (c *Source) FlushLocal(set string) {
	if set == "" {
		c.gensMu.RLock()
		for _, g := range c.gens {
			g.Add(1)
		}
		c.gensMu.RUnlock()
		c.store.Flush()
		c.mu.Lock()
		c.lru.Init()
		c.items = map[string]*list.Element{}
		c.bytes = 0
		c.mu.Unlock()
		return
	}
	c.gen(set).Add(1)
}

// entrySize estimates the memory an entry holds.
func entrySize(key string, e *entry) int64 {
	n := int64(len(key)) + 128
	for _, row := range e.rows {
		n += 24 + int64(len(row))*16
		for _, v := range row {
			switch x := v.(type) {
			case string:
				n += int64(len(x))
			case []byte:
				n += int64(len(x))
			case time.Time:
				n += 24
			}
		}
	}
	return n
}
