package control

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/odatagw/odatagw/admin"
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/tunnel"
)

// CheckAgent is the hub's check of an agent's token against the store.
func (p *Plane) CheckAgent(ctx context.Context, name, token string) (bool, error) {
	if p.store == nil {
		return false, nil // without a state store no agent is registered
	}
	return p.store.CheckAgent(ctx, name, token)
}

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
	for _, s := range p.hub.Status() {
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
		p.hub.Disconnect(name)
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
		p.hub.Disconnect(name)
	}
	return err
}

// waitsForAgent sets the 503 a source's callers get while it cannot open
// because its agent is not connected (the drivers do not all keep the
// error's chain, so the hub is asked too).
func (p *Plane) waitsForAgent(reg registry.Source, err error) {
	var na *tunnel.NoAgentError
	if !errors.As(err, &na) && (reg.Via == "" || p.hub.Connected(reg.Via)) {
		return
	}
	if na == nil {
		na = &tunnel.NoAgentError{Agent: reg.Via}
	}
	p.srv.SetUnavailable(reg.Name, na.UnavailableMessage())
}

// agentRetry is how soon a source waiting for its agent is tried again
// once an agent of the name is connected.
const agentRetry = 500 * time.Millisecond
