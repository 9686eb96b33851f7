// Package retry keeps a long-lived connection going: it runs a function
// again after it fails, with a doubling backoff up to a bound, until the
// context ends.
package retry

import (
	"context"
	"time"
)

// Forever runs fn until ctx ends. After each failure it calls failed (when
// not nil) and waits, 100 ms at first, doubling up to 5 s. first tells fn
// whether it runs for the first time, so that it can tell a reconnection.
func Forever(ctx context.Context, fn func(ctx context.Context, first bool) error, failed func(error)) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		start := time.Now()
		err := fn(ctx, first)
		first = false
		if ctx.Err() != nil {
			return
		}
		if failed != nil && err != nil {
			failed(err)
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond // it worked for a while
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}
