package app

import (
	"context"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

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
			return g.plane.CheckAgent(ctx, name, token)
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

// agentCollector is the tunnels' figures for /metrics: per agent named by
// a source or connected, the tunnels up (0 when its sources have none),
// streams, bytes and round-trip time.
type agentCollector struct {
	g                            *Gateway
	tunnels, streams, bytes, rtt *prometheus.Desc
}

func newAgentCollector(g *Gateway) *agentCollector {
	return &agentCollector{g: g,
		tunnels: prometheus.NewDesc("odatagw_agent_tunnels", "Tunnels connected, per agent named by a source or connected; 0: the sources that name it cannot reach their databases.", []string{"agent"}, nil),
		streams: prometheus.NewDesc("odatagw_agent_streams", "Database connections open through the agent's tunnels.", []string{"agent"}, nil),
		bytes:   prometheus.NewDesc("odatagw_agent_bytes_total", "Bytes carried through the agent's tunnels connected now, by direction (in: from the database).", []string{"agent", "direction"}, nil),
		rtt:     prometheus.NewDesc("odatagw_agent_rtt_seconds", "The slowest round trip to the agent's tunnels at their last ping.", []string{"agent"}, nil),
	}
}

func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tunnels
	ch <- c.streams
	ch <- c.bytes
	ch <- c.rtt
}

func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	type sum struct {
		tunnels, streams, in, out int64
		rtt                       float64
	}
	by := map[string]*sum{}
	for agent := range c.g.plane.AgentSources() {
		by[agent] = &sum{}
	}
	for _, s := range c.g.hub.Status() {
		v := by[s.Name]
		if v == nil {
			v = &sum{}
			by[s.Name] = v
		}
		v.tunnels++
		v.streams += s.Streams
		v.in += s.BytesIn
		v.out += s.BytesOut
		v.rtt = max(v.rtt, s.RTTMillis/1000)
	}
	for agent, v := range by {
		ch <- prometheus.MustNewConstMetric(c.tunnels, prometheus.GaugeValue, float64(v.tunnels), agent)
		ch <- prometheus.MustNewConstMetric(c.streams, prometheus.GaugeValue, float64(v.streams), agent)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(v.in), agent, "in")
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(v.out), agent, "out")
		ch <- prometheus.MustNewConstMetric(c.rtt, prometheus.GaugeValue, v.rtt, agent)
	}
}
