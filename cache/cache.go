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
	// Version is the version of the source's model, which every key holds:
	// a reload makes the answers about the old model unreachable.
	Version func() string
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
	// Dependents, when set, names the sets whose answers are made from a
	// set's (the summary sets over its table): a write to the set makes
	// theirs go too.
	Dependents func(set string) []string
	// Bus, when set, shares write invalidations with other replicas.
	Bus    replicas.Bus
	Logger *slog.Logger
}

// Answers is one source's answer cache: the server asks it for whole
// answers (Answer, Recall) and counts (Count), fills it as it renders
// them, and tells it of writes (Written). It knows no HTTP server and no
// database.
type Answers struct {
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

// New makes a source's answer cache.
func New(opts Options) *Answers {
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Version == nil {
		opts.Version = func() string { return "" } // one model for the cache's life
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Answers{opts: opts, store: opts.Store, owner: strconv.FormatUint(owners.Add(1), 10),
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

func (c *Answers) ttl(set string) time.Duration {
	if t, ok := c.opts.SetTTL[set]; ok {
		return t
	}
	if c.opts.TTL < 0 {
		return 0
	}
	return c.opts.TTL
}

func (c *Answers) gen(set string) *atomic.Uint64 {
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

// Written makes every cached answer about set unreachable and frees it,
// here and, through the bus, on the other replicas: later reads go to the
// database. The server calls it for each write, before it answers.
func (c *Answers) Written(set string) {
	c.FlushLocal(set)
	if g, ok := c.opts.Bus.(replicas.Generations); ok {
		// before the write answers: from then on no replica finds an
		// answer filed under the old generation
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		for _, s := range c.affected(set) {
			if err := g.Advance(ctx, c.opts.Name, s); err != nil {
				c.opts.Logger.Warn("the shared generation of a set could not be moved on; other replicas may answer from before this write until their TTL",
					"source", c.opts.Name, "set", s, "error", err)
			}
		}
		cancel()
	}
	if c.opts.Bus != nil {
		c.opts.Bus.Publish(replicas.Message{Source: c.opts.Name, Set: set})
	}
}

// Stats returns the figures of a set.
func (c *Answers) Stats(set string) *SetStats {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	s, ok := c.stats[set]
	if !ok {
		s = &SetStats{}
		c.stats[set] = s
	}
	return s
}

// Figures are a source's cache figures: per set, and summed.
type Figures struct {
	Sets                           map[string]SetFigures
	Hits, Misses, Stale, Evictions int64
	Bytes                          int64 // what its entries count
	// StoreBytes and StoreMax are the store it is kept in (every
	// source's, within one bound): what it holds, and its bound.
	StoreBytes, StoreMax int64
}

// SetFigures are one set's.
type SetFigures struct{ Hits, Misses, Stale, Evictions int64 }

// Figures reads the figures, for the metrics and the admin API: the one
// place they are summed.
func (c *Answers) Figures() Figures {
	f := Figures{Sets: map[string]SetFigures{}, Bytes: c.Bytes(), StoreBytes: c.store.Bytes(), StoreMax: c.store.Max()}
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	for set, s := range c.stats {
		sf := SetFigures{Hits: s.Hits.Load(), Misses: s.Misses.Load(), Stale: s.Stale.Load(), Evictions: s.Evictions.Load()}
		f.Sets[set] = sf
		f.Hits, f.Misses, f.Stale, f.Evictions = f.Hits+sf.Hits, f.Misses+sf.Misses, f.Stale+sf.Stale, f.Evictions+sf.Evictions
	}
	return f
}

// Bytes is what this cache's entries count.
func (c *Answers) Bytes() int64 { return c.store.OwnerBytes(c.owner) }

// Store is where the entries are kept, within its bound (shared with the
// gateway's other sources).
func (c *Answers) Store() *Store { return c.store }

// SetNames lists the sets with figures.
func (c *Answers) SetNames() []string {
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
func (c *Answers) key(ctx context.Context, kind, set, text string) (key string, gen uint64, ok bool) {
	b, gen, ok := c.appendKey(nil, ctx, kind, set, text)
	return string(b), gen, ok
}

// appendKey writes the key at the end of b: a lookup builds it in a
// buffer of its own and allocates nothing.
func (c *Answers) appendKey(b []byte, ctx context.Context, kind, set, text string) ([]byte, uint64, bool) {
	var shared uint64
	bus, sharing := c.opts.Bus.(replicas.Generations)
	if sharing {
		gctx, cancel := context.WithTimeout(ctx, time.Second)
		n, err := bus.Generation(gctx, c.opts.Name, set)
		cancel()
		if err != nil {
			return b, 0, false
		}
		shared = n
	}
	gen := c.gen(set).Load()
	b = append(append(append(append(b, c.owner...), '|'), kind...), '|')
	b = append(append(b, c.opts.Version()...), "|g"...)
	b = strconv.AppendUint(b, gen, 10)
	if sharing {
		b = strconv.AppendUint(append(b, "|s"...), shared, 10)
	}
	if caller, ok := sources.CallerOf(ctx); ok {
		b = append(append(b, "|as "...), caller.Scope()...)
	}
	return append(append(b, '|'), text...), gen, true
}

// lookup returns a usable entry and whether it is stale.
func (c *Answers) lookup(key string) (*entry, bool) {
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
func (c *Answers) put(key, set string, gen uint64, e *entry, size int64, ttl time.Duration) {
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
func (c *Answers) Flush(set string) {
	c.FlushLocal(set)
	if c.opts.Bus != nil {
		c.opts.Bus.Publish(replicas.Message{Source: c.opts.Name, Set: set})
	}
}

// FlushLocal drops entries in this process only: the generation moves on,
// so nothing read before is kept again, and the entries are freed.
func (c *Answers) FlushLocal(set string) {
	if set == "" {
		c.gensMu.RLock()
		for _, g := range c.gens {
			g.Add(1)
		}
		c.gensMu.RUnlock()
		c.store.dropOwner(c.owner)
		return
	}
	for _, s := range c.affected(set) {
		c.gen(s).Add(1)
		c.store.dropGroup(groupOf(c.owner, s))
	}
}

// affected are a set and the sets made from it.
func (c *Answers) affected(set string) []string {
	if c.opts.Dependents == nil {
		return []string{set}
	}
	return append([]string{set}, c.opts.Dependents(set)...)
}
