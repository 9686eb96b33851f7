package control

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/odatagw/odatagw/admin"
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/metadata/compose"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/sources"
)

// servedService is a service the gateway serves, or tried to: its settings,
// the store's version of them (0: the configuration's), and why the
// latest did not serve, if it did not.
type servedService struct {
	cfg     config.Service
	version int64
	serving bool
	err     error
}

// startServices serves the configuration's services, once their sources
// are: a service whose names clash, whose relation is not one, or whose
// source is missing stops the start, saying what to change. Services
// registered through the admin API follow; one that cannot serve now is
// logged and tried again at each pass of the reconcile loop.
func (p *Plane) startServices(ctx context.Context) error {
	for _, name := range slices.Sorted(maps.Keys(p.services)) {
		cfg := p.services[name]
		if err := p.serveService(name, cfg, 0); err != nil {
			return err
		}
	}
	if p.store != nil {
		p.syncServices(ctx)
	}
	return nil
}

// serveService checks a service's settings and members and serves it,
// recording the outcome.
func (p *Plane) serveService(name string, cfg config.Service, version int64) error {
	err := p.checkService(name, cfg)
	if err == nil {
		err = p.data.ServeService(name, cfg)
	}
	if err != nil {
		p.svcMu.Lock()
		defer p.svcMu.Unlock()
		if cur := p.svcs[name]; cur != nil {
			cur.err, cur.version = err, version // the settings that serve, if any, stay
		} else {
			p.svcs[name] = &servedService{cfg: cfg, version: version, err: err}
		}
		return err
	}
	p.serving(name, cfg, version)
	p.log.Info("service composed", "service", name, "sources", cfg.MemberNames())
	return nil
}

// serving records that a service serves these settings, of the store's
// version (0: the configuration's).
func (p *Plane) serving(name string, cfg config.Service, version int64) {
	p.svcMu.Lock()
	defer p.svcMu.Unlock()
	p.svcs[name] = &servedService{cfg: cfg, version: version, serving: true}
}

// checkService holds a service to what the gateway can serve before its
// model is composed: its settings' bounds, a name no source has, every
// source served, and per-user row-level security agreed on.
func (p *Plane) checkService(name string, cfg config.Service) error {
	if err := cfg.Check(name); err != nil {
		var inv *config.Invalid
		if errors.As(err, &inv) {
			return &registry.FieldError{Field: inv.Field, Message: inv.Message}
		}
		return &registry.FieldError{Field: "name", Message: err.Error()}
	}
	if _, clash := p.data.Served(name); clash {
		return &registry.FieldError{Field: "name", Message: fmt.Sprintf("service %s: a source has that name too; a service root has one name", name)}
	}
	for _, m := range cfg.MemberNames() {
		reg, registered := p.registration(m)
		if _, ok := p.data.Served(m); !ok || !registered {
			return &registry.FieldError{Field: "sources", Message: fmt.Sprintf("service %s: source %s is not served here: register it (the configuration's sources, or the admin API) before the service", name, m)}
		}
		// per-user row-level security holds through a service only where
		// the service and every member agree on it: a member that acts as
		// each caller must get one
		switch perUser := p.configFor(reg).Auth.PerUser; {
		case perUser && !cfg.Auth.PerUser:
			return &registry.FieldError{Field: "auth", Message: fmt.Sprintf("service %s: source %s runs each request as its caller's role (per_user): give the service per_user too, so that its callers are who the database sees", name, m)}
		case !perUser && cfg.Auth.PerUser:
			return &registry.FieldError{Field: "auth", Message: fmt.Sprintf("service %s is per_user, but source %s does not run requests as their callers: give it auth.per_user (PostgreSQL), or take per_user off the service", name, m)}
		}
	}
	return nil
}

// syncServices serves the store's services as they are now: a new or
// changed one composed and swapped in, a removed one stopped, a failed
// one tried again. The reconcile loop calls it after the sources, which
// the services are made of.
func (p *Plane) syncServices(ctx context.Context) {
	stored, err := p.store.Services(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("reading the state store's services failed; serving them as they are", "error", err)
		}
		return
	}
	seen := map[string]bool{}
	for _, svc := range stored {
		seen[svc.Name] = true
		if _, configured := p.services[svc.Name]; configured {
			continue // the configuration's wins, as for a source
		}
		p.svcMu.Lock()
		cur := p.svcs[svc.Name]
		p.svcMu.Unlock()
		if cur != nil && cur.version == svc.Version && cur.err == nil {
			continue
		}
		if err := p.serveService(svc.Name, svc.Service, svc.Version); err != nil && (cur == nil || cur.err == nil || cur.version != svc.Version) {
			p.log.Error("a registered service cannot be served; trying again at the next poll", "service", svc.Name, "error", err)
		}
	}
	for _, name := range p.ServiceNames() {
		if _, configured := p.services[name]; !configured && !seen[name] {
			p.unserveService(name)
		}
	}
}

func (p *Plane) unserveService(name string) {
	p.data.UnserveService(name)
	p.svcMu.Lock()
	delete(p.svcs, name)
	p.svcMu.Unlock()
	p.log.Info("service removed", "service", name)
}

// ServiceNames are the services the gateway serves or tried to, by name.
func (p *Plane) ServiceNames() []string {
	p.svcMu.Lock()
	defer p.svcMu.Unlock()
	return slices.Sorted(maps.Keys(p.svcs))
}

// serviceConfig is a service's settings, as served (or last tried).
func (p *Plane) serviceConfig(name string) (servedService, bool) {
	p.svcMu.Lock()
	defer p.svcMu.Unlock()
	s, ok := p.svcs[name]
	if !ok {
		return servedService{}, false
	}
	return *s, true
}

func (p *Plane) isService(name string) bool {
	_, ok := p.serviceConfig(name)
	return ok
}

// servicesOf are the services that serve a source's sets.
func (p *Plane) servicesOf(source string) []string {
	var out []string
	for _, name := range p.ServiceNames() {
		if s, _ := p.serviceConfig(name); s.cfg.Sources != nil {
			if _, member := s.cfg.Sources[source]; member {
				out = append(out, name)
			}
		}
	}
	return out
}

// CreateService checks, composes and serves a new service, then saves
// it; the other replicas are told. A clash of names or a relation that
// cannot be one is refused naming what to change, and nothing is saved.
func (p *Plane) CreateService(ctx context.Context, svc registry.Service) (admin.ServiceStatus, error) {
	if err := p.needStore(); err != nil {
		return admin.ServiceStatus{}, err
	}
	if p.isService(svc.Name) {
		return admin.ServiceStatus{}, registry.ErrServiceExists
	}
	if err := config.ValidSourceName(svc.Name); err != nil {
		return admin.ServiceStatus{}, &registry.FieldError{Field: "name", Message: err.Error()}
	}
	if err := p.checkService(svc.Name, svc.Service); err != nil {
		return admin.ServiceStatus{}, err
	}
	if err := p.data.ServeService(svc.Name, svc.Service); err != nil {
		return admin.ServiceStatus{}, composeError(err)
	}
	saved, err := p.store.CreateService(ctx, svc)
	if err != nil {
		p.data.UnserveService(svc.Name)
		return admin.ServiceStatus{}, err
	}
	p.serving(svc.Name, saved.Service, saved.Version)
	p.tellReplicas()
	return p.serviceStatus(svc.Name), nil
}

// UpdateService composes a service's new settings and swaps them in; a
// change that cannot serve leaves the old one serving.
func (p *Plane) UpdateService(ctx context.Context, svc registry.Service, ifVersion int64) (admin.ServiceStatus, error) {
	if err := p.needStore(); err != nil {
		return admin.ServiceStatus{}, err
	}
	if _, configured := p.services[svc.Name]; configured {
		return admin.ServiceStatus{}, registry.ErrFromConfig
	}
	cur, err := p.store.Service(ctx, svc.Name)
	if err != nil {
		return admin.ServiceStatus{}, err
	}
	if ifVersion != 0 && cur.Version != ifVersion {
		return admin.ServiceStatus{}, registry.ErrChanged
	}
	if err := p.checkService(svc.Name, svc.Service); err != nil {
		return admin.ServiceStatus{}, err
	}
	if err := p.data.ServeService(svc.Name, svc.Service); err != nil {
		return admin.ServiceStatus{}, composeError(err)
	}
	saved, err := p.store.UpdateService(ctx, svc, cur.Version)
	if err != nil {
		p.data.ServeService(svc.Name, cur.Service) // the settings that were saved serve again
		return admin.ServiceStatus{}, err
	}
	p.serving(svc.Name, saved.Service, saved.Version)
	p.tellReplicas()
	return p.serviceStatus(svc.Name), nil
}

// DeleteService stops and unregisters a service; its sources stay.
func (p *Plane) DeleteService(ctx context.Context, name string, ifVersion int64) error {
	if err := p.needStore(); err != nil {
		return err
	}
	if _, configured := p.services[name]; configured {
		return registry.ErrFromConfig
	}
	if err := p.store.DeleteService(ctx, name, ifVersion); err != nil {
		return err
	}
	p.unserveService(name)
	p.tellReplicas()
	return nil
}

// composeError is a service the data plane could not compose, as the
// admin reads it: a clash names the names setting, a relation the
// relations one.
func composeError(err error) error {
	var fe *registry.FieldError
	if errors.As(err, &fe) {
		return err
	}
	var clash *compose.ClashError
	field := "relations"
	if errors.As(err, &clash) || strings.Contains(err.Error(), ": names: ") {
		field = "names"
	}
	return &registry.FieldError{Field: field, Message: err.Error()}
}

// servicePackage is the package of a served service: one External Data
// Source, one credential and one permission set for every member's
// objects, with the lookups inside each member and across them.
func (p *Plane) servicePackage(name string, form salesforce.Form) (*salesforce.Bundle, error) {
	c, err := p.data.ServiceModel(name)
	if err != nil {
		return nil, err
	}
	members := map[string]config.Source{}
	svc, _ := p.serviceConfig(name)
	for _, m := range svc.cfg.MemberNames() {
		if reg, ok := p.registration(m); ok {
			members[m] = p.configFor(reg)
		}
	}
	b, err := ServiceBundle(name, p.serviceRoot(name), svc.cfg, members, c, form)
	if err != nil {
		return nil, &registry.FieldError{Field: "salesforce", Message: err.Error()}
	}
	return b, nil
}

// registration is the registration serving under name.
func (p *Plane) registration(name string) (registry.Source, bool) {
	p.regs.mu.Lock()
	defer p.regs.mu.Unlock()
	m, ok := p.regs.byName[name]
	if !ok {
		return registry.Source{}, false
	}
	return m.reg, true
}

// ServiceBundle is the package of a service from its settings, its
// members' settings and its composed model, whether a gateway serves it
// or `odatagw salesforce package` opened its members alone. The members'
// choices (name fields, Indirect Lookups) carry over under the service's
// names; the service is writable where a member is and the service does
// not say read_only.
func ServiceBundle(name, serviceURL string, svc config.Service, members map[string]config.Source, c *compose.Service, form salesforce.Form) (*salesforce.Bundle, error) {
	writable := false
	for _, s := range members {
		writable = writable || !s.ReadOnly
	}
	return bundle(name, serviceURL, svc.Auth, writable && !svc.ReadOnly, serviceChoices(c, members), c.Model, form)
}

// serviceChoices are the Salesforce side's choices of a service: its
// sources' name fields under the service's names for their sets, and
// their Indirect Lookups (named by table and column, which a service
// does not rename). The package and `odatagw check` read the same.
func serviceChoices(c *compose.Service, members map[string]config.Source) salesforce.Choices {
	ch := salesforce.Choices{NameFields: map[string]string{}, Lookups: map[string]string{}}
	for _, m := range slices.Sorted(maps.Keys(members)) {
		for set, prop := range members[m].NameFields {
			if n, ok := c.NameOf(m, set); ok {
				ch.NameFields[n] = prop
			}
		}
		maps.Copy(ch.Lookups, members[m].Lookups)
	}
	return ch
}

// ServiceReport is what `odatagw check` says of a service: each member's
// own report, and the service's, over its composed model (its names, its
// lookups within and across members).
type ServiceReport struct {
	Service salesforce.Report            `json:"service"`
	Members map[string]salesforce.Report `json:"members"`
}

// CheckService opens each member of a service alone, with a small pool,
// composes the service as a gateway would, and reports on every member
// and on the whole. A member that cannot open, a clash of names or a
// relation that cannot be one is the error. The error may quote a DSN's
// password: scrub it before showing it.
func CheckService(ctx context.Context, name string, svc config.Service, file config.File) (ServiceReport, *compose.Service, error) {
	out := ServiceReport{Members: map[string]salesforce.Report{}}
	var members []compose.Member
	for _, m := range svc.MemberNames() {
		settings, ok := file.Sources[m]
		if !ok {
			return out, nil, fmt.Errorf("service %s: the configuration has no source %s", name, m)
		}
		err := Inspect(ctx, m, settings, file, func(ctx context.Context, s sources.Source) error {
			out.Members[m] = reportOf(ctx, s, choicesOf(settings))
			members = append(members, compose.Member{Name: m, Prefix: svc.Sources[m].Prefix, Model: s.Metadata()})
			return nil
		})
		if err != nil {
			return out, nil, fmt.Errorf("source %s: %w", m, err)
		}
	}
	c, err := compose.New(members, compose.Settings{Service: name, Names: svc.Names, Relations: svc.Relations})
	if err != nil {
		return out, nil, err
	}
	settings := map[string]config.Source{}
	for _, m := range svc.MemberNames() {
		settings[m] = file.Sources[m]
	}
	out.Service = salesforce.BuildService(c.Model, serviceChoices(c, settings))
	return out, c, nil
}

// Services reports every service: its sources and where its sets come
// from, as composed now.
func (p *Plane) Services(_ context.Context) []admin.ServiceStatus {
	out := []admin.ServiceStatus{}
	for _, name := range p.ServiceNames() {
		out = append(out, p.serviceStatus(name))
	}
	return out
}

// serviceStatus is one service as the admin sees it.
func (p *Plane) serviceStatus(name string) admin.ServiceStatus {
	svc, _ := p.serviceConfig(name)
	cfg := svc.cfg
	st := admin.ServiceStatus{Name: name, ServiceURL: p.serviceRoot(name), Relations: cfg.Relations, Names: cfg.Names,
		Sources: []admin.ServiceMember{}, Sets: []admin.ServiceSet{}, Version: svc.version, Configured: svc.version == 0,
		Auth: cfg.Auth, ReadOnly: cfg.ReadOnly, CalloutsPerHour: cfg.CalloutsPerHour}
	if st.Relations == nil {
		st.Relations = map[string]string{}
	}
	if st.Names == nil {
		st.Names = map[string]string{}
	}
	for _, m := range cfg.MemberNames() {
		_, served := p.data.Served(m)
		exposed := true
		if reg, ok := p.registration(m); ok {
			exposed = p.configFor(reg).Exposed()
		}
		st.Sources = append(st.Sources, admin.ServiceMember{Name: m, Prefix: cfg.Sources[m].Prefix, Served: served, Exposed: exposed})
	}
	if svc.err != nil {
		st.Error = svc.err.Error()
	}
	if !svc.serving {
		return st
	}
	c, err := p.data.ServiceModel(name)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	for _, es := range c.Model.Sets {
		o, _ := c.Origin(es.Name)
		st.Sets = append(st.Sets, admin.ServiceSet{Name: es.Name, Source: o.Member, SourceSet: o.Set.Name})
	}
	return st
}
