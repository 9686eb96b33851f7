package server

import (
	"math"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/odata"
)

func (s *Server) rateLimit(c *gin.Context) {
	ok, wait := s.limiter.Allow(s.cfg.Callers.Of(c.Request))
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
