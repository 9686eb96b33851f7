package cache

import (
	"context"
	"sync/atomic"
)

// Status is what the cache did for a request, for the X-Cache header.
type Status int32

const (
	statusNone   Status = iota // the request asked the cache nothing
	statusBypass               // caching is off for the set
	statusHit
	statusStale
	statusMiss
)

// String is the X-Cache value; a request that asked several times reports
// the worst: miss over stale over hit.
func (s Status) String() string {
	return [...]string{"", "bypass", "hit", "stale", "miss"}[s]
}

// statusHeaders are the X-Cache values, made once.
var statusHeaders = [...][]string{{""}, {"bypass"}, {"hit"}, {"stale"}, {"miss"}}

// Header is the X-Cache header's value as net/http keeps it: shared, since
// a header's slice is only read, so that a hit allocates nothing for it.
func (s Status) Header() []string { return statusHeaders[s] }

type statusKey struct{}

// WithStatus returns a context in which the cache records what it did.
func WithStatus(ctx context.Context) context.Context {
	return WithStatusIn(ctx, new(StatusHolder))
}

// WithStatusIn is WithStatus keeping the record in h, which the caller
// holds already (a request's own): one allocation fewer on every request.
func WithStatusIn(ctx context.Context, h *StatusHolder) context.Context {
	h.parent, _ = ctx.Value(statusKey{}).(*StatusHolder)
	return context.WithValue(ctx, statusKey{}, h)
}

// StatusHolder keeps what the cache did in one context, and tells the
// context it was made in (the request's) as well.
type StatusHolder struct {
	cur    atomic.Int32
	parent *StatusHolder
}

// StatusOf reads what the cache did for a context made by WithStatus.
func StatusOf(ctx context.Context) Status {
	if s, ok := ctx.Value(statusKey{}).(*StatusHolder); ok {
		return Status(s.cur.Load())
	}
	return statusNone
}

// Answered reports whether the cache answered (fresh or stale), so that
// no database time was spent.
func (s Status) Answered() bool { return s == statusHit || s == statusStale }

func record(ctx context.Context, st Status) {
	h, _ := ctx.Value(statusKey{}).(*StatusHolder)
	for ; h != nil; h = h.parent {
		for {
			cur := h.cur.Load()
			if Status(cur) >= st || h.cur.CompareAndSwap(cur, int32(st)) {
				break
			}
		}
	}
}
