package app

import (
	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/internal/control"
	"github.com/odatagw/odatagw/internal/tunnel"
	"github.com/odatagw/odatagw/odata/activity"
	"github.com/odatagw/odatagw/odata/server"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/sources"
)

// The gateway is the data plane the control plane drives: the methods
// below, with OpenSource, OpenDemo, Watch, Reload, Dial, BaseURL,
// HearsReplicas and ForgetCredentials, are control.DataPlane.
var _ control.DataPlane = (*Gateway)(nil)

// ServeSource puts an opened source in service, in place of the one serving.
func (g *Gateway) ServeSource(name string, o control.Opened) <-chan struct{} {
	var answers server.AnswerCache
	if o.Answers != nil {
		answers = o.Answers // a nil *cache.Answers would not be a nil AnswerCache
	}
	done := g.Server.AddSource(name, o.Src, o.Guard, answers)
	g.Server.ClearUnavailable(name)
	return done
}

// UnserveSource takes a source out of service.
func (g *Gateway) UnserveSource(name string) (<-chan struct{}, bool) {
	g.Server.ClearUnavailable(name)
	return g.Server.RemoveSource(name)
}

// Waiting makes a source's callers get 503 with msg until it serves.
func (g *Gateway) Waiting(name, msg string) { g.Server.SetUnavailable(name, msg) }

// Served is the source serving under name.
func (g *Gateway) Served(name string) (sources.Source, bool) { return g.Server.Source(name) }

// SourceNames lists the sources serving.
func (g *Gateway) SourceNames() []string { return g.Server.SourceNames() }

// Agents are the agents' tunnels connected now.
func (g *Gateway) Agents() []tunnel.AgentStatus { return g.hub.Status() }

// AgentConnected says whether an agent of that name has a tunnel up.
func (g *Gateway) AgentConnected(name string) bool { return g.hub.Connected(name) }

// DisconnectAgent cuts an agent's tunnels.
func (g *Gateway) DisconnectAgent(name string) { g.hub.Disconnect(name) }

// CacheFigures are a source's answer cache figures.
func (g *Gateway) CacheFigures(name string) (cache.Figures, bool) { return g.Server.CacheFigures(name) }

// Shapes is a served source's shape table.
func (g *Gateway) Shapes(name string) (*shapes.Recorder, bool) { return g.Server.Shapes(name) }

// Traffic is a source's last hour.
func (g *Gateway) Traffic(name string) []activity.Series { return g.traffic.Series(name) }

// Audit lists the latest audit records.
func (g *Gateway) Audit(source, user, event string, limit int) []activity.AuditRecord {
	return g.audit.Recent(source, user, event, limit)
}
