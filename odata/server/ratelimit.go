package server

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/odatagw/odatagw/odata"
)

// clientLimiter gives each client address a token bucket of rps requests
// per second (bursts of twice that), so that one client's flood cannot
// starve the others. Buckets of clients unseen for a while are dropped.
type clientLimiter struct {
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

func newClientLimiter(rps float64) *clientLimiter {
	return &clientLimiter{rps: rate.Limit(rps), burst: int(math.Max(1, 2*rps)),
		clients: map[string]*clientBucket{}, swept: time.Now()}
}

// allow takes a token for the client, or says how long until one is there.
func (l *clientLimiter) allow(client string) (bool, time.Duration) {
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

func (s *Server) rateLimit(c *gin.Context) {
	ok, wait := s.limiter.allow(s.cfg.Callers.Of(c.Request))
	if !ok {
		s.metrics.refused.WithLabelValues("rate").Inc()
		c.Header("Retry-After", retryAfter(wait))
		writeError(c.Writer, c.Request, s.log, tooManyRequests(wait))
		c.Abort()
		return
	}
	c.Next()
}

func retryAfter(wait time.Duration) string { return strconv.Itoa(int(math.Ceil(wait.Seconds()))) }

func tooManyRequests(wait time.Duration) *odata.Error {
	return odata.TooManyRequests("this client sends more requests than the gateway allows; slow down and retry after %s s", retryAfter(wait))
}
