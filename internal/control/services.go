package control

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/odatagw/odatagw/admin"
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/metadata/compose"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/sources"
)

// startServices serves the configuration's services, once their sources
// are: a service whose names clash, whose relation is not one, or whose
// source is missing stops the start, saying what to change.
func (p *Plane) startServices() error {
	for _, name := range slices.Sorted(maps.Keys(p.services)) {
		cfg := p.services[name]
		if err := cfg.Check(name); err != nil {
			return err
		}
		if _, clash := p.data.Served(name); clash {
			return fmt.Errorf("service %s: a source has that name too; a service root has one name", name)
		}
		for _, m := range cfg.MemberNames() {
			reg, registered := p.registration(m)
			if _, ok := p.data.Served(m); !ok || !registered {
				return fmt.Errorf("service %s: source %s is not served here: register it (the configuration's sources, or the admin API) before the service", name, m)
			}
			// per-user row-level security holds through a service only
			// where the service and every member agree on it: a member
			// that acts as each caller must get one
			switch perUser := p.configFor(reg).Auth.PerUser; {
			case perUser && !cfg.Auth.PerUser:
				return &registry.FieldError{Field: "auth", Message: fmt.Sprintf("service %s: source %s runs each request as its caller's role (per_user): give the service per_user too, so that its callers are who the database sees", name, m)}
			case !perUser && cfg.Auth.PerUser:
				return &registry.FieldError{Field: "auth", Message: fmt.Sprintf("service %s is per_user, but source %s does not run requests as their callers: give it auth.per_user (PostgreSQL), or take per_user off the service", name, m)}
			}
		}
		if err := p.data.ServeService(name, cfg); err != nil {
			return err
		}
		p.log.Info("service composed", "service", name, "sources", cfg.MemberNames())
	}
	return nil
}

// ServiceNames are the services the gateway serves, by name.
func (p *Plane) ServiceNames() []string { return slices.Sorted(maps.Keys(p.services)) }

func (p *Plane) isService(name string) bool {
	_, ok := p.services[name]
	return ok
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
	for _, m := range p.services[name].MemberNames() {
		if reg, ok := p.registration(m); ok {
			members[m] = p.configFor(reg)
		}
	}
	b, err := ServiceBundle(name, p.serviceRoot(name), p.services[name], members, c, form)
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
	ch := salesforce.Choices{NameFields: map[string]string{}, Lookups: map[string]string{}}
	writable := false
	for _, m := range slices.Sorted(maps.Keys(members)) {
		s := members[m]
		writable = writable || !s.ReadOnly
		for set, prop := range s.NameFields {
			if n, ok := c.NameOf(m, set); ok {
				ch.NameFields[n] = prop
			}
		}
		maps.Copy(ch.Lookups, s.Lookups)
	}
	return bundle(name, serviceURL, svc.Auth, writable && !svc.ReadOnly, ch, c.Model, form)
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
	ch := salesforce.Choices{NameFields: map[string]string{}}
	for _, m := range svc.MemberNames() {
		for set, prop := range file.Sources[m].NameFields {
			if n, ok := c.NameOf(m, set); ok {
				ch.NameFields[n] = prop
			}
		}
	}
	out.Service = salesforce.BuildService(c.Model, ch)
	return out, c, nil
}

// Services reports every service: its sources and where its sets come
// from, as composed now.
func (p *Plane) Services(_ context.Context) []admin.ServiceStatus {
	out := []admin.ServiceStatus{}
	for _, name := range p.ServiceNames() {
		cfg := p.services[name]
		st := admin.ServiceStatus{Name: name, ServiceURL: p.serviceRoot(name), Relations: cfg.Relations,
			Sources: []admin.ServiceMember{}, Sets: []admin.ServiceSet{}}
		if st.Relations == nil {
			st.Relations = map[string]string{}
		}
		for _, m := range cfg.MemberNames() {
			_, served := p.data.Served(m)
			exposed := true
			if reg, ok := p.registration(m); ok {
				exposed = p.configFor(reg).Exposed()
			}
			st.Sources = append(st.Sources, admin.ServiceMember{Name: m, Prefix: cfg.Sources[m].Prefix, Served: served, Exposed: exposed})
		}
		c, err := p.data.ServiceModel(name)
		if err != nil {
			st.Error = err.Error()
		} else {
			for _, es := range c.Model.Sets {
				o, _ := c.Origin(es.Name)
				st.Sets = append(st.Sets, admin.ServiceSet{Name: es.Name, Source: o.Member, SourceSet: o.Set.Name})
			}
		}
		out = append(out, st)
	}
	return out
}
