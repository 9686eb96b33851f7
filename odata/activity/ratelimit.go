package activity

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter gives each client address a token bucket of rps requests
// per second (bursts of twice that), so that one client's flood cannot
// starve the others. Buckets of clients unseen for a while are dropped.
type RateLimiter struct {
	rps   rate.Limit
	burst int

	mu      sync.Mutex
	clients map[string]*clientBucket
	swept   time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewRateLimiter lets each client send rps requests a second.
func NewRateLimiter(rps float64) *RateLimiter {
	return &RateLimiter{rps: rate.Limit(rps), burst: int(math.Max(1, 2*rps)),
		clients: map[string]*clientBucket{}, swept: time.Now()}
}

// Allow takes a token for the client, or says how long until one is there.
func (l *RateLimiter) Allow(client string) (bool, time.Duration) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.clients {
			if now.Sub(b.seen) > 5*time.Minute {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	b, ok := l.clients[client]
	if !ok {
		b = &clientBucket{lim: rate.NewLimiter(l.rps, l.burst)}
		l.clients[client] = b
	}
	b.seen = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}
