package app

import (
	"github.com/odatagw/odatagw/internal/lineguard"
	"net/http"
	"time"

	"github.com/odatagw/odatagw/internal/config"
)

// timeouts are what one listener allows a connection: every listener's
// http.Server is made by httpServer from them, so that none lacks a
// timeout or a header bound (a server without them keeps a slow client's
// connection for ever).
type timeouts struct {
	readHeader, read, write, idle time.Duration
	maxHeaderBytes                int
}

// sideTimeouts are the admin and metrics listeners': private addresses
// whose slowest answers (a Salesforce package, an EXPLAIN ANALYZE, a
// schema reload) take seconds, not minutes.
var sideTimeouts = timeouts{readHeader: 10 * time.Second, read: 60 * time.Second, write: 120 * time.Second, idle: 120 * time.Second, maxHeaderBytes: 64 << 10}

// publicTimeouts are the OData port's: the configured limits, each
// defaulted; the write timeout lies above the statement timeout and
// Salesforce's own 120 s, so that a slow answer is sent, not cut.
func publicTimeouts(l config.Limits, maxHeaderBytes int) timeouts {
	orDefault := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	return timeouts{
		readHeader:     orDefault(l.ReadHeaderTimeout, 10*time.Second), // a slow-loris client is cut here
		read:           orDefault(l.ReadTimeout, 60*time.Second),
		write:          orDefault(l.WriteTimeout, 150*time.Second),
		idle:           orDefault(l.IdleTimeout, 120*time.Second),
		maxHeaderBytes: maxHeaderBytes,
	}
}

// httpServer is a listener's server: the handler, the timeouts, and the
// connection context that keeps a guarded TLS connection's state for the
// handler (it changes nothing on the other listeners).
func httpServer(h http.Handler, t timeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.readHeader,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
		MaxHeaderBytes:    t.maxHeaderBytes,
		ConnContext:       lineguard.ConnContext,
	}
}
