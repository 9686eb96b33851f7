package cache

import (
	"context"
	"sync"
)

// flights collapses identical concurrent loads into one, like
// x/sync/singleflight, with one difference that matters for a gateway:
// the shared load is cancelled when every caller waiting for it has gone,
// and not before. With singleflight the first caller's cancellation would
// fail all the others; detached from all of them, a query nobody waits
// for would run on.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	waiters int
	cancel  context.CancelFunc
	done    chan struct{}
	val     *entry
	err     error
}

func (fs *flights) do(ctx context.Context, key string, load func(context.Context) (*entry, error)) (*entry, error) {
	fs.mu.Lock()
	if fs.m == nil {
		fs.m = map[string]*flight{}
	}
	f, ok := fs.m[key]
	if !ok {
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{cancel: cancel, done: make(chan struct{})}
		fs.m[key] = f
		go func() {
			f.val, f.err = load(lctx)
			fs.mu.Lock()
			delete(fs.m, key)
			fs.mu.Unlock()
			close(f.done)
			cancel()
		}()
	}
	f.waiters++
	fs.mu.Unlock()
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		fs.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
		}
		fs.mu.Unlock()
		return nil, ctx.Err()
	}
}
