package cache

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/odatagw/odatagw/internal/tracing"
)

// Keeps reports whether answers about set are kept: such a page is read
// whole before it is sent, so that no request holds a connection while it
// waits for another.
func (c *Answers) Keeps(set string) bool { return c.ttl(set) > 0 }

// Close leaves the bus and frees the entries; the store, if shared, stays.
func (c *Answers) Close() {
	if c.unsubscribe != nil {
		c.unsubscribe() // a replaced source must not stay subscribed, nor in memory
	}
	c.store.dropOwner(c.owner)
	if c.ownStore {
		c.store.Close()
	}
}

// answer returns the entry under key: fresh from the cache (a hit), past
// its TTL while one refresh runs (stale), or loaded once for every caller
// asking at the same time (a miss).
func (c *Answers) answer(ctx context.Context, set, key string, load func(context.Context) (*entry, error)) (*entry, error) {
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

// Answer returns the answer filed under text for set: from the cache while
// it is fresh (a hit) or, past its TTL, once more while one refresh runs
// (stale); else render makes it, once for every caller asking the same at
// the same time, and it is kept. render must not use anything of the
// request that called first but what every caller shares: when that
// request goes away, the others still wait for it.
func (c *Answers) Answer(ctx context.Context, set, text string, render func(context.Context) (*Answer, error)) (*Answer, error) {
	e, err := c.kept(ctx, "answer", set, text, func(ctx context.Context) (*entry, int64, error) {
		a, err := render(ctx)
		if err != nil {
			return nil, 0, err
		}
		return &entry{answer: a}, a.size(), nil
	})
	if err != nil {
		return nil, err
	}
	return e.answer, nil
}

// kept is the entry of a kind filed under text for set: from the cache
// while it is fresh (or stale, once more, while one refresh runs); else
// build makes it, with its size, once for every caller asking the same at
// the same time, and it is kept for the set's TTL. Where the set is not
// cached, or its shared generation cannot be read, it is made and not
// kept.
func (c *Answers) kept(ctx context.Context, kind, set, text string, build func(context.Context) (*entry, int64, error)) (*entry, error) {
	ctx, end := cacheSpan(ctx, set)
	defer end()
	ttl := c.ttl(set)
	var key string
	var gen uint64
	ok := false
	if ttl > 0 {
		key, gen, ok = c.key(ctx, kind, set, text)
	}
	if !ok {
		record(ctx, statusBypass)
		e, _, err := build(ctx)
		return e, err
	}
	return c.answer(ctx, set, key, func(ctx context.Context) (*entry, error) {
		e, size, err := build(ctx)
		if err != nil {
			return nil, err
		}
		c.put(key, set, gen, e, size, ttl)
		return e, nil
	})
}

// Reader is a caller as Recall asks about it: whether they may read a
// set.
type Reader interface{ MayReadSet(set string) bool }

// recallSet is the store's set name under which a cache files what
// requests were planned into; no entity set is called so.
const recallSet = "\x00recall"

// Remember files that a request with this fingerprint (its path, options
// and the headers that shape its answer, as sent) was planned into the
// answer under text for set, so that Recall can find that answer the next
// time without parsing or planning it again.
func (c *Answers) Remember(fingerprint, set, text string) {
	ttl := c.ttl(set)
	if ttl <= 0 {
		return
	}
	key := c.owner + "|recall|" + c.opts.Version() + "|" + fingerprint
	e := &entry{recalled: &recalled{set: set, text: text}, freshUntil: time.Now().Add(ttl)}
	it := &item{key: key, owner: c.owner, group: groupOf(c.owner, recallSet), size: int64(len(set) + len(text)), keep: e.freshUntil, e: e}
	c.store.put(it, func() bool { return true })
}

// Recall answers a request that was planned before (see Remember) from a
// fresh cached answer: a lookup and nothing else. may says whether the
// caller may read the set the request reads; where it may not, or there is
// no fresh answer, ok is false and the request takes the whole way.
func (c *Answers) Recall(ctx context.Context, fingerprint []byte, may Reader) (a *Answer, set string, ok bool) {
	now := time.Now()
	var buf [512]byte // the keys are built here: a hit allocates no key
	b := append(append(append(append(buf[:0], c.owner...), "|recall|"...), c.opts.Version()...), '|')
	e := c.store.getBytes(append(b, fingerprint...), now)
	if e == nil || e.recalled == nil || !may.MayReadSet(e.recalled.set) {
		return nil, "", false
	}
	set = e.recalled.set
	key, _, ok := c.appendKey(buf[:0], ctx, "answer", set, e.recalled.text)
	if !ok {
		return nil, "", false
	}
	if e = c.store.getBytes(key, now); e == nil || e.answer == nil || !now.Before(e.freshUntil) {
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

// Count answers a count of set filed under text from the cache, or
// counts once (count) for every caller asking the same at the same time.
func (c *Answers) Count(ctx context.Context, set, text string, count func(context.Context) (int64, error)) (int64, error) {
	e, err := c.kept(ctx, "count", set, text, func(ctx context.Context) (*entry, int64, error) {
		n, err := count(ctx)
		if err != nil {
			return nil, 0, err
		}
		return &entry{count: n}, 0, nil
	})
	if err != nil {
		return 0, err
	}
	return e.count, nil
}
