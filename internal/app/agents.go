package app

import (
	"context"
	"net"
	"net/http"

	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/tunnel"
)

// newHub is the gateway's side of the agents' tunnels: agents are checked
// against the state store, throttled like other credentials, and an agent
// that connects wakes the sources waiting for it.
func (g *Gateway) newHub() *tunnel.Hub {
	return tunnel.NewHub(tunnel.HubConfig{
		Authenticate: func(ctx context.Context, name, token string) (bool, error) {
			if g.store == nil {
				return false, nil // without a state store no agent is registered
			}
			return g.store.CheckAgent(ctx, name, token)
		},
		Logger:   g.settings.Logger,
		ClientIP: g.callers.Of,
		Throttle: auth.NewThrottle(),
		Changed:  func(string) { g.plane.Wake() },
	})
}

// Dial is the dialer of a source: through its agent's tunnel when it
// names one, else nil (the driver's own).
func (g *Gateway) Dial(cfg config.Source) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if cfg.Via == "" {
		return nil
	}
	agent := cfg.Via
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		return g.hub.Dial(ctx, agent, addr)
	}
}

// publicHandler is the public port: the agents' tunnels on their reserved
// path, OData everywhere else.
func (g *Gateway) publicHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(tunnel.Path, g.hub)
	mux.Handle("/", g.Server.Handler())
	return mux
}
