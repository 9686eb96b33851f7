package app

import (
	"context"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/odata/server"
)

// Traffic is the last hour of a served source's traffic, for the admin
// page's charts.
func (g *Gateway) Traffic(_ context.Context, name string) ([]server.TrafficSeries, error) {
	if _, ok := g.Server.Source(name); !ok {
		return nil, registry.ErrNotFound
	}
	return g.Server.Traffic(name), nil
}

// Audit lists the latest writes and refused credentials.
func (g *Gateway) Audit(_ context.Context, source, user, event string, limit int) []server.AuditRecord {
	return g.Server.Audit(source, user, event, limit)
}

// SalesforcePackage is the Metadata API package that sets Salesforce up
// for a source (salesforce.Package): no secret in it.
func (g *Gateway) SalesforcePackage(ctx context.Context, name string) ([]byte, error) {
	st, err := g.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	c := salesforce.Connection{Source: name, ServiceURL: st.ServiceURL, Writable: !st.ReadOnly, CSRF: st.Auth.CSRF}
	switch a := st.Auth; {
	case a.Basic:
		c.Auth = "basic"
	case a.Bearer != nil:
		c.Auth = "bearer"
	case a.TokenHeader != "":
		c.Auth, c.TokenHeader = "token_header", a.TokenHeader
	case a.Anonymous:
		c.Auth = "anonymous"
	}
	if src, ok := g.Server.Source(name); ok {
		for _, es := range src.Metadata().Sets {
			c.Tracked = c.Tracked || es.Tracked
		}
	}
	return salesforce.Package(c)
}
