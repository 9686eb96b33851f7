package auth

import (
	"sync"
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
	f.count++
	f.last = now
	if f.count <= 3 {
		return 0
	}
	return min(100*time.Millisecond<<min(f.count-4, 6), 5*time.Second)
}

// Succeeded forgets client's failures.
func (t *Throttle) Succeeded(client string) {
	t.mu.Lock()
	if _, ok := t.clients[client]; ok {
		delete(t.clients, client)
	}
	t.mu.Unlock()
}
