package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

// Throttle slows down clients that keep failing to authenticate: after
// three failures each further failure is answered later (100 ms, doubling,
// at most 5 s). A client that succeeds, or stays quiet for ten minutes, is
// forgotten. It bounds how fast a password can be guessed without locking
// out the legitimate caller.
type Throttle struct {
	mu      sync.Mutex
	clients map[string]*failures
	tracked atomic.Int64 // len(clients), read without the lock
}

type failures struct {
	count int
	last  time.Time
}

// NewThrottle returns an empty throttle.
func NewThrottle() *Throttle { return &Throttle{clients: map[string]*failures{}} }

// Failed counts a failure of client and returns how long to hold its answer.
func (t *Throttle) Failed(client string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if len(t.clients) > 10000 {
		for k, f := range t.clients {
			if now.Sub(f.last) > 10*time.Minute {
				delete(t.clients, k)
			}
		}
	}
	f := t.clients[client]
	if f == nil || now.Sub(f.last) > 10*time.Minute {
		f = &failures{}
		t.clients[client] = f
	}
	defer func() { t.tracked.Store(int64(len(t.clients))) }()
	f.count++
	f.last = now
	if f.count <= 3 {
		return 0
	}
	return min(100*time.Millisecond<<min(f.count-4, 6), 5*time.Second)
}

// Succeeded forgets client's failures. Every authenticated request calls
// it, so while no client is failing it takes no lock.
func (t *Throttle) Succeeded(client string) {
	if t.tracked.Load() == 0 {
		return
	}
	t.mu.Lock()
	delete(t.clients, client)
	t.tracked.Store(int64(len(t.clients)))
	t.mu.Unlock()
}
