package app

import (
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/control"
	"github.com/odatagw/odatagw/internal/tunnel"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/metadata/compose"
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

// ServeService puts a service over served sources in service under name,
// with a guard of its own policy.
func (g *Gateway) ServeService(name string, cfg config.Service) error {
	guard, err := auth.NewGuard(name, cfg.Auth, g.authShared)
	if err != nil {
		return &registry.FieldError{Field: "auth", Message: err.Error()}
	}
	prefixes := map[string]string{}
	for m, member := range cfg.Sources {
		prefixes[m] = member.Prefix
	}
	def := server.ServiceDef{Members: prefixes, ReadOnly: cfg.ReadOnly,
		Settings: compose.Settings{Service: name, Names: cfg.Names, Relations: cfg.Relations}}
	if err := g.Server.AddService(name, def, guard); err != nil {
		guard.Close()
		return err
	}
	if !cfg.Auth.Any() {
		g.settings.Logger.Warn("the service accepts no credentials, so every request gets 401: configure its auth", "service", name)
	}
	return nil
}

// UnserveService stops serving a service; its sources stay.
func (g *Gateway) UnserveService(name string) bool { return g.Server.RemoveService(name) }

// Hide serves a source only through its services (expose: false), or at
// its own root too.
func (g *Gateway) Hide(name string, hidden bool) { g.Server.Hide(name, hidden) }

// ServiceModel is a served service's model as composed now.
func (g *Gateway) ServiceModel(name string) (*compose.Service, error) {
	return g.Server.ServiceModel(name)
}

// TryServiceWith composes a service as it would be with a member's new
// model, changing nothing.
func (g *Gateway) TryServiceWith(service, member string, model *metadata.Service) error {
	return g.Server.TryServiceWith(service, member, model)
}
