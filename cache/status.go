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

type statusKey struct{}

// WithStatus returns a context in which the cache records what it did.
func WithStatus(ctx context.Context) context.Context {
	return context.WithValue(ctx, statusKey{}, new(atomic.Int32))
}

// StatusOf reads what the cache did for a context made by WithStatus.
func StatusOf(ctx context.Context) Status {
	if s, ok := ctx.Value(statusKey{}).(*atomic.Int32); ok {
		return Status(s.Load())
	}
	return statusNone
}

func record(ctx context.Context, st Status) {
	s, ok := ctx.Value(statusKey{}).(*atomic.Int32)
	if !ok {
		return
	}
	for {
		cur := s.Load()
		if Status(cur) >= st || s.CompareAndSwap(cur, int32(st)) {
			return
		}
	}
}
