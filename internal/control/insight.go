package control

import (
	"context"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/metadata"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/odata/activity"
)

// Traffic is the last hour of a served source's traffic, for the admin
// page's charts.
func (p *Plane) Traffic(_ context.Context, name string) ([]activity.Series, error) {
	if _, ok := p.data.Served(name); !ok && !p.isService(name) {
		return nil, registry.ErrNotFound
	}
	return p.data.Traffic(name), nil
}

// Audit lists the latest writes and refused credentials.
func (p *Plane) Audit(_ context.Context, source, user, event string, limit int) []activity.AuditRecord {
	return p.data.Audit(source, user, event, limit)
}

// SalesforcePackage is the Metadata API package that sets Salesforce up
// for a served source (salesforce.Package): no secret in it.
func (p *Plane) SalesforcePackage(ctx context.Context, name string, form salesforce.Form) (*salesforce.Bundle, error) {
	if p.isService(name) {
		return p.servicePackage(name, form)
	}
	st, err := p.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	src, ok := p.data.Served(name)
	if !ok {
		return nil, registry.ErrNotFound
	}
	b, err := SalesforceBundle(name, st.ServiceURL, st.Source.Source, src.Metadata(), form)
	if err != nil {
		// the package is built from the settings and the form alone: what
		// fails is one of them, which the admin can change
		return nil, &registry.FieldError{Field: "salesforce", Message: err.Error()}
	}
	return b, nil
}

// SalesforceDiff compares the package for a served source with a
// metadata directory retrieved from the org, uploaded as a zip.
func (p *Plane) SalesforceDiff(ctx context.Context, name string, retrieved []byte, form salesforce.Form) (salesforce.Diff, error) {
	b, err := p.SalesforcePackage(ctx, name, form)
	if err != nil {
		return salesforce.Diff{}, err
	}
	org, err := salesforce.ReadZip(retrieved)
	if err != nil {
		return salesforce.Diff{}, &registry.FieldError{Field: "file", Message: err.Error()}
	}
	return b.Compare(org), nil
}

// SalesforceBundle is the package for a source from its settings and
// model, whether a gateway serves it or `odatagw salesforce package`
// opened it alone.
func SalesforceBundle(name, serviceURL string, settings config.Source, svc *metadata.Service, form salesforce.Form) (*salesforce.Bundle, error) {
	return bundle(name, serviceURL, settings.Auth, !settings.ReadOnly, choicesOf(settings), svc, form)
}

// bundle is the package for a service root, a source's or a service's.
func bundle(name, serviceURL string, a config.Auth, writable bool, ch salesforce.Choices, svc *metadata.Service, form salesforce.Form) (*salesforce.Bundle, error) {
	o := salesforce.Options{Form: form, Choices: ch,
		Connection: salesforce.Connection{Source: name, ServiceURL: serviceURL, Writable: writable, CSRF: a.CSRF}}
	switch {
	case a.Basic:
		o.Auth = "basic"
	case a.Bearer != nil:
		o.Auth = "bearer"
	case a.TokenHeader != "":
		o.Auth, o.TokenHeader = "token_header", a.TokenHeader
	case a.Anonymous:
		o.Auth = "anonymous"
	}
	return salesforce.Package(svc, o)
}

// choicesOf are a source's settings for the Salesforce side.
func choicesOf(s config.Source) salesforce.Choices {
	return salesforce.Choices{NameFields: s.NameFields, Lookups: s.Lookups}
}
