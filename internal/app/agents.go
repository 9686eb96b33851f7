package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/odatagw/odatagw/admin"
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/tunnel"
)

// newHub is the gateway's side of the agents' tunnels: agents are checked
// against the state store, throttled like other credentials, and an agent
// that connects wakes the sources waiting for it.
func (g *Gateway) newHub() *tunnel.Hub {
	return tunnel.NewHub(tunnel.HubConfig{
		Authenticate: g.checkAgent,
		Logger:       g.settings.Logger,
		ClientIP:     g.callers.Of,
		Throttle:     auth.NewThrottle(),
		Changed:      func(string) { g.wakeReconcile() },
	})
}

func (g *Gateway) checkAgent(ctx context.Context, name, token string) (bool, error) {
	if g.store == nil {
		return false, nil // without a state store no agent is registered
	}
	return g.store.CheckAgent(ctx, name, token)
}

// dialFor is the dialer of a source: through its agent's tunnel when it
// names one, else nil (the driver's own).
func (g *Gateway) dialFor(cfg config.Source) func(ctx context.Context, network, addr string) (net.Conn, error) {
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

// Agents lists the registered agents with their connected tunnels, and
// the sources that name each.
func (g *Gateway) Agents(ctx context.Context) ([]admin.AgentInfo, error) {
	if err := g.needStore(); err != nil {
		return nil, err
	}
	regs, err := g.store.Agents(ctx)
	if err != nil {
		return nil, err
	}
	tunnels := map[string][]tunnel.AgentStatus{}
	for _, s := range g.hub.Status() {
		tunnels[s.Name] = append(tunnels[s.Name], s)
	}
	users := g.agentUsers()
	out := []admin.AgentInfo{}
	for _, a := range regs {
		out = append(out, admin.AgentInfo{Agent: a, Tunnels: orEmpty(tunnels[a.Name]), Sources: orEmpty(users[a.Name])})
	}
	return out, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// agentUsers maps each agent to the sources that name it.
func (g *Gateway) agentUsers() map[string][]string {
	g.regs.mu.Lock()
	defer g.regs.mu.Unlock()
	out := map[string][]string{}
	for name, m := range g.regs.byName {
		if m.reg.Via != "" {
			out[m.reg.Via] = append(out[m.reg.Via], name)
		}
	}
	for _, l := range out {
		sort.Strings(l)
	}
	return out
}

// AddAgent registers an agent and returns its token, once.
func (g *Gateway) AddAgent(ctx context.Context, name string) (registry.Agent, string, error) {
	if err := g.needStore(); err != nil {
		return registry.Agent{}, "", err
	}
	return g.store.AddAgent(ctx, name)
}

// RotateAgent gives an agent a new token; its tunnels here are cut at
// once, and on the other replicas at their next check (seconds).
func (g *Gateway) RotateAgent(ctx context.Context, name string) (registry.Agent, string, error) {
	if err := g.needStore(); err != nil {
		return registry.Agent{}, "", err
	}
	a, tok, err := g.store.RotateAgent(ctx, name)
	if err == nil {
		g.hub.Disconnect(name)
	}
	return a, tok, err
}

// RemoveAgent unregisters an agent and cuts its tunnels.
func (g *Gateway) RemoveAgent(ctx context.Context, name string) error {
	if err := g.needStore(); err != nil {
		return err
	}
	err := g.store.RemoveAgent(ctx, name)
	if err == nil {
		g.hub.Disconnect(name)
	}
	return err
}

// waitsForAgent sets the 503 a source's callers get while it cannot open
// because its agent is not connected (the drivers do not all keep the
// error's chain, so the hub is asked too).
func (g *Gateway) waitsForAgent(reg registry.Source, err error) {
	var na *tunnel.NoAgentError
	if !errors.As(err, &na) && (reg.Via == "" || g.hub.Connected(reg.Via)) {
		return
	}
	if na == nil {
		na = &tunnel.NoAgentError{Agent: reg.Via}
	}
	g.Server.SetUnavailable(reg.Name, na.UnavailableMessage())
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
	for agent := range c.g.agentUsers() {
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

// agentRetry is how soon a source waiting for its agent is tried again
// once an agent of the name is connected.
const agentRetry = 500 * time.Millisecond
