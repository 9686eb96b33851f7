package control

import (
	"context"
	"errors"
	"github.com/prometheus/client_golang/prometheus"
	"sort"
	"time"

	"github.com/odatagw/odatagw/admin"
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/tunnel"
)

// Agents lists the registered agents with their connected tunnels, and
// the sources that name each.
func (p *Plane) Agents(ctx context.Context) ([]admin.AgentInfo, error) {
	if err := p.needStore(); err != nil {
		return nil, err
	}
	regs, err := p.store.Agents(ctx)
	if err != nil {
		return nil, err
	}
	tunnels := map[string][]tunnel.AgentStatus{}
	for _, s := range p.data.Agents() {
		tunnels[s.Name] = append(tunnels[s.Name], s)
	}
	users := p.AgentSources()
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

// AgentSources maps each agent to the sources that name it.
func (p *Plane) AgentSources() map[string][]string {
	p.regs.mu.Lock()
	defer p.regs.mu.Unlock()
	out := map[string][]string{}
	for name, m := range p.regs.byName {
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
func (p *Plane) AddAgent(ctx context.Context, name string) (registry.Agent, string, error) {
	if err := p.needStore(); err != nil {
		return registry.Agent{}, "", err
	}
	return p.store.AddAgent(ctx, name)
}

// RotateAgent gives an agent a new token; its tunnels here are cut at
// once, and on the other replicas at their next check (seconds).
func (p *Plane) RotateAgent(ctx context.Context, name string) (registry.Agent, string, error) {
	if err := p.needStore(); err != nil {
		return registry.Agent{}, "", err
	}
	a, tok, err := p.store.RotateAgent(ctx, name)
	if err == nil {
		p.data.DisconnectAgent(name)
	}
	return a, tok, err
}

// RemoveAgent unregisters an agent and cuts its tunnels.
func (p *Plane) RemoveAgent(ctx context.Context, name string) error {
	if err := p.needStore(); err != nil {
		return err
	}
	err := p.store.RemoveAgent(ctx, name)
	if err == nil {
		p.data.DisconnectAgent(name)
	}
	return err
}

// waitsForAgent sets the 503 a source's callers get while it cannot open
// because its agent is not connected (the drivers do not all keep the
// error's chain, so the hub is asked too).
func (p *Plane) waitsForAgent(reg registry.Source, err error) {
	var na *tunnel.NoAgentError
	if !errors.As(err, &na) && (reg.Via == "" || p.data.AgentConnected(reg.Via)) {
		return
	}
	if na == nil {
		na = &tunnel.NoAgentError{Agent: reg.Via}
	}
	p.data.Waiting(reg.Name, na.UnavailableMessage())
}

// agentRetry is how soon a source waiting for its agent is tried again
// once an agent of the name is connected.
const agentRetry = 500 * time.Millisecond

// agentCollector is the tunnels' figures for /metrics: per agent named by
// a source or connected, the tunnels up (0 when its sources have none),
// streams, bytes and round-trip time.
type agentCollector struct {
	p                            *Plane
	tunnels, streams, bytes, rtt *prometheus.Desc
}

// AgentCollector is the agents' tunnels for /metrics.
func AgentCollector(p *Plane) prometheus.Collector { return newAgentCollector(p) }

func newAgentCollector(p *Plane) *agentCollector {
	return &agentCollector{p: p,
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
	for agent := range c.p.AgentSources() {
		by[agent] = &sum{}
	}
	for _, s := range c.p.data.Agents() {
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
