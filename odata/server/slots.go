package server

import (
	"context"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/sources"
)

// QueueTimeout is how long a request waits for database capacity before it
// is answered 503 with Retry-After, unless configured otherwise.
const QueueTimeout = 30 * time.Second

// slots bounds the queries a source runs at once to its pool size. A
// request takes every slot it needs in one step, so two requests can never
// each hold one connection while waiting for a second.
type slots struct {
	sem     *semaphore.Weighted
	size    int64
	timeout time.Duration
}

// DefaultQuerySlots is how many queries a source runs at once when it
// does not say how many connections it has.
const DefaultQuerySlots = 8

func newSlots(src sources.Source, timeout time.Duration) *slots {
	n := DefaultQuerySlots
	if c, ok := sources.As[sources.Capacity](src); ok && c.MaxConcurrentQueries() > 0 {
		n = c.MaxConcurrentQueries()
	}
	return &slots{sem: semaphore.NewWeighted(int64(n)), size: int64(n), timeout: timeout}
}

// sideBySide reports whether a page and its count may run at once. With a
// single connection they take turns: the page's open rows would otherwise
// hold the connection its count waits for.
func (s *slots) sideBySide() bool { return s.size >= 2 }

// acquire takes n slots, waiting in line at most QueueTimeout.
func (s *slots) acquire(ctx context.Context, n int64) error {
	wait, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.sem.Acquire(wait, n); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return odata.Busy()
	}
	return nil
}

func (s *slots) release(n int64) { s.sem.Release(n) }

// querySlots takes n slots for a request on set, unless the source reads
// that set's answers whole (then the request never holds one connection
// while waiting for another, and a cache hit must not queue behind slow
// queries). It returns how many it took.
func (r *request) querySlots(set string, n int64) (int64, error) {
	if r.answers != nil && r.answers.Keeps(set) {
		return 0, nil
	}
	if err := r.slots.acquire(r.req.Context(), n); err != nil {
		if r.req.Context().Err() == nil {
			r.srv.metrics.refused.WithLabelValues("busy").Inc()
		}
		return 0, err
	}
	return n, nil
}
