package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/odatagw/odatagw/admin"
)

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// Bound holds the gateway's listeners bound before it opens its sources
// (Bind), so that an address in use is said at once, naming its flag,
// rather than after the demo was built or every database introspected.
type Bound struct{ public, admin, metrics net.Listener }

// Bind binds the settings' listeners: the OData port, and the admin and
// metrics ports where set.
func Bind(s Settings) (*Bound, error) {
	b := &Bound{}
	listen := s.Listen
	if listen == "" {
		listen = DefaultListen
	}
	var err error
	if b.public, err = net.Listen("tcp", listen); err != nil {
		return nil, fmt.Errorf("--listen %s: %w (another program serves there, another gateway perhaps: give --listen HOST:PORT)", listen, unwrapListen(err))
	}
	if s.AdminListen != "" {
		if b.admin, err = net.Listen("tcp", s.AdminListen); err != nil {
			b.Close()
			return nil, fmt.Errorf("--admin-listen %s: %w (another gateway on this machine? give this one --admin-listen HOST:PORT, or off)", s.AdminListen, unwrapListen(err))
		}
	}
	if s.MetricsListen != "" {
		if b.metrics, err = net.Listen("tcp", s.MetricsListen); err != nil {
			b.Close()
			return nil, fmt.Errorf("--metrics-listen %s: %w", s.MetricsListen, unwrapListen(err))
		}
	}
	return b, nil
}

// Close closes the listeners not yet served.
func (b *Bound) Close() {
	for _, ln := range []net.Listener{b.public, b.admin, b.metrics} {
		if ln != nil {
			ln.Close()
		}
	}
}

// unwrapListen is a listen error without the address, which the message
// gives already: "address already in use".
func unwrapListen(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// bound is where the named listener bound by Bind is kept (nil without).
func (g *Gateway) bound(which string) *net.Listener {
	b := g.settings.Bound
	if b == nil {
		return new(net.Listener)
	}
	switch which {
	case "admin":
		return &b.admin
	case "metrics":
		return &b.metrics
	}
	return &b.public
}

// listener is a bound listener taken for serving, or a new one.
func (g *Gateway) listener(bound *net.Listener, addr string) (net.Listener, error) {
	if b := g.settings.Bound; b != nil && *bound != nil {
		ln := *bound
		*bound = nil
		return ln, nil
	}
	return net.Listen("tcp", addr)
}

// serveAdmin starts the admin API and page on their own listener, kept
// apart from the OData listener so that it can stay on a private address.
func (g *Gateway) serveAdmin() (*http.Server, error) {
	if g.settings.AdminToken == "" {
		return nil, errors.New("the admin listener needs an admin token (ODATAGW_ADMIN_TOKEN)")
	}
	ln, err := g.listener(g.bound("admin"), g.settings.AdminListen)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w (another gateway on this machine? give this one --admin-listen HOST:PORT, or off)", err)
	}
	// the operations endpoints (figures, readiness with names) beside the
	// admin API: both belong on a private address
	mux := http.NewServeMux()
	ops := g.Server.OpsHandler()
	mux.Handle("GET /metrics", ops)
	mux.Handle("GET /readyz", ops)
	mux.Handle("GET /healthz", ops)
	mux.Handle("/", admin.Handler(admin.Config{Token: g.settings.AdminToken, Manager: g.plane, Logger: g.settings.Logger, Version: g.settings.Version, Callers: g.callers.Of}))
	hs := httpServer(mux, sideTimeouts)
	g.addrMu.Lock()
	g.adminAddr = ln.Addr().String()
	g.addrMu.Unlock()
	g.settings.Logger.Info("admin page and API", "admin_url", "http://"+ln.Addr().String()+"/")
	go g.serveOn(hs, ln, "admin")
	return hs, nil
}

// serveMetrics serves the operations endpoints on a listener of their own
// (--metrics-listen), for a scraper that must not reach the admin API.
func (g *Gateway) serveMetrics() (*http.Server, error) {
	ln, err := g.listener(g.bound("metrics"), g.settings.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	hs := httpServer(g.Server.OpsHandler(), sideTimeouts)
	g.addrMu.Lock()
	g.metricsAddr = ln.Addr().String()
	g.addrMu.Unlock()
	g.settings.Logger.Info("metrics and probes", "metrics_url", "http://"+ln.Addr().String()+"/metrics")
	go g.serveOn(hs, ln, "metrics")
	return hs, nil
}

// MetricsAddr is the metrics listener's address, once serving.
func (g *Gateway) MetricsAddr() string {
	g.addrMu.Lock()
	defer g.addrMu.Unlock()
	return g.metricsAddr
}

// AdminAddr is the admin listener's address, once serving.
func (g *Gateway) AdminAddr() string {
	g.addrMu.Lock()
	defer g.addrMu.Unlock()
	return g.adminAddr
}

// serveOn serves a side listener until it is closed; an error that ends
// it otherwise (the listener failing) is logged, not lost: the OData port
// keeps serving, but the admin page or the scraper has lost its port.
func (g *Gateway) serveOn(hs *http.Server, ln net.Listener, which string) {
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		g.settings.Logger.Error("the "+which+" listener stopped", "address", ln.Addr().String(), "error", err)
	}
}
