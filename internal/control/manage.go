package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/odatagw/odatagw/admin"
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/demo"
)

var _ admin.Manager = (*Plane)(nil)

// discardLogger quiets a source opened only to be looked at.
var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// Reload reads a served source's schema again, here and on the replicas.
func (p *Plane) Reload(ctx context.Context, name string) (sources.Changes, error) {
	if _, ok := p.data.Served(name); !ok {
		return sources.Changes{}, registry.ErrNotFound
	}
	return p.data.Reload(ctx, name)
}

// validate checks what can be checked without connecting.
func validate(src registry.Source) error {
	if err := config.ValidSourceName(src.Name); err != nil {
		return &registry.FieldError{Field: "name", Message: err.Error()}
	}
	if strings.TrimSpace(src.DSN) == "" {
		return &registry.FieldError{Field: "dsn", Message: "give the database's connection URL, e.g. postgres://user@host:5432/db"}
	}
	if _, err := sources.KindOf(src.DSN); err != nil {
		return &registry.FieldError{Field: "dsn", Message: err.Error()}
	}
	var inv *config.Invalid
	if err := src.Source.Check(); errors.As(err, &inv) {
		return &registry.FieldError{Field: inv.Field, Message: inv.Message}
	}
	return nil
}

// normalize moves a password given in the DSN to the Password field.
func normalize(src registry.Source) registry.Source {
	without, pw := dsn.Split(strings.TrimSpace(src.DSN))
	src.DSN = without
	if pw != "" {
		src.Password = pw
	}
	return src
}

// openError is a failure to open a source, as the admin sees it next to
// the field at fault (the DSN, unless the policy is); the password never
// appears in it.
func openError(src registry.Source, err error) error {
	var fe *registry.FieldError
	if errors.As(err, &fe) {
		return err
	}
	var se *sources.SummaryError
	if errors.As(err, &se) {
		return &registry.FieldError{Field: "summaries", Message: se.Error()}
	}
	return &registry.FieldError{Field: "dsn", Message: dsn.Scrub(err.Error(), src.FullDSN())}
}

func (p *Plane) needStore() error {
	if p.store == nil {
		return errors.New("this gateway runs without a state store (--state), so sources can only be given by flags or the configuration file")
	}
	return nil
}

// Test opens a source without saving or serving it and reports what
// Salesforce would make of it.
func (p *Plane) Test(ctx context.Context, src registry.Source) (salesforce.Report, error) {
	src = normalize(src)
	if src.Name == "" {
		src.Name = "test"
	}
	if err := validate(src); err != nil {
		return salesforce.Report{}, err
	}
	var rep salesforce.Report
	settings := src.Config()
	err := inspect(ctx, src.Name, settings, p.defaults, p.data.Dial(settings), func(ctx context.Context, s sources.Source) error {
		rep = reportOf(ctx, s, choicesOf(settings))
		return nil
	})
	if err != nil {
		return salesforce.Report{}, openError(src, err)
	}
	return rep, nil
}

// Check opens a source without serving it, with a small pool, and reports
// what Salesforce would make of it. The admin API's test and `odatagw
// check` both answer with it. The error may quote the DSN's password:
// scrub it before showing it.
func Check(ctx context.Context, name string, settings config.Source, global config.File) (salesforce.Report, error) {
	var report salesforce.Report
	err := Inspect(ctx, name, settings, global, func(ctx context.Context, s sources.Source) error {
		report = reportOf(ctx, s, choicesOf(settings))
		return nil
	})
	return report, err
}

// Inspect opens a source without serving it, with a small pool, hands it
// to look and closes it. The error may quote the DSN's password: scrub
// it before showing it.
func Inspect(ctx context.Context, name string, settings config.Source, global config.File, look func(context.Context, sources.Source) error) error {
	if settings.Via != "" {
		return fmt.Errorf("the source reaches its database through the agent %s, which connects to a gateway: test it through the gateway (odatagw source test, or the admin page)", settings.Via)
	}
	return inspect(ctx, name, settings, global, nil, look)
}

func inspect(ctx context.Context, name string, settings config.Source, global config.File,
	dial func(context.Context, string, string) (net.Conn, error), look func(context.Context, sources.Source) error) error {
	opts := SourceOptions(name, settings.Resolved(global), discardLogger, dial)
	opts.MaxConnections = 2 // a look at the schema, not a workload
	ctx, cancel := context.WithTimeout(ctx, OpenTimeout)
	defer cancel()
	var s sources.Source
	var err error
	if name == "demo" && settings.DSN == "" {
		s, err = demo.Open(ctx, opts)
	} else {
		s, err = sources.Open(ctx, opts)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	return look(ctx, s)
}

// reportOf is what Salesforce will make of a source, with the indexes its
// traffic needs where the source can tell.
func reportOf(ctx context.Context, s sources.Source, ch salesforce.Choices) salesforce.Report {
	var rep metadata.Decisions
	if r, ok := sources.As[sources.Reporter](s); ok {
		rep = r.Report()
	}
	report := salesforce.Build(s.Metadata(), rep, ch)
	if a, ok := sources.As[sources.IndexAdvisor](s); ok {
		advice, err := a.AdviseIndexes(ctx)
		if err != nil {
			report.AddProblem(salesforce.Problem{Severity: salesforce.Warning, Object: "indexes",
				Message: "the indexes could not be read, so none is advised: " + err.Error()})
		}
		if advice != nil {
			report.Indexes, report.SmallTables = metadata.Worthwhile(advice)
		}
	}
	if c, ok := sources.As[sources.StandbyChecker](s); ok {
		for _, sb := range c.CheckStandbys(ctx) {
			report.AddStandby(standbyProblem(sb))
		}
	}
	return report
}

// standbyProblem says what odatagw check found of a standby: an error
// when it cannot serve the reads it would be given, else how far behind
// it is.
func standbyProblem(c sources.StandbyCheck) salesforce.Problem {
	p := salesforce.Problem{Object: "standby " + c.Address}
	switch {
	case c.Error != "":
		p.Severity, p.Message = salesforce.Error, "cannot serve reads: "+c.Error
		p.Fix = "check the standby's URL and that it streams from this database; until it answers, its reads go to the primary"
	case len(c.Differences) > 0:
		p.Severity, p.Message = salesforce.Error, "serves another schema than the primary: "+strings.Join(c.Differences, "; ")
		p.Fix = "point replicas at a streaming standby of this database (pg_basebackup -R), not a copy"
	case c.BytesBehind > 0 && c.Behind > 0:
		p.Severity, p.Message = salesforce.Info, fmt.Sprintf("replays %d bytes behind the primary (its newest replayed transaction is %s old); serves the same schema",
			c.BytesBehind, c.Behind.Round(time.Millisecond))
	default:
		p.Severity, p.Message = salesforce.Info, "has replayed everything the primary wrote; serves the same schema"
	}
	return p
}

// Create tests a new source, saves it and serves it.
func (p *Plane) Create(ctx context.Context, src registry.Source) (registry.Source, error) {
	if err := p.needStore(); err != nil {
		return registry.Source{}, err
	}
	src = normalize(src)
	src.Origin = registry.OriginAPI
	if err := validate(src); err != nil {
		return registry.Source{}, err
	}
	if src.Password != "" && !p.store.HasKey() {
		return registry.Source{}, registry.ErrNoSecretKey
	}
	if _, err := p.store.Get(ctx, src.Name); err == nil {
		return registry.Source{}, registry.ErrExists
	}
	if _, served := p.data.Served(src.Name); served || p.isService(src.Name) {
		return registry.Source{}, registry.ErrExists // a service root has one name
	}
	return p.openAndSave(ctx, src, func(src registry.Source) (registry.Source, error) { return p.store.Create(ctx, src) })
}

// openAndSave opens a registration, saves it only if it works, and swaps
// it in; the other replicas are told.
func (p *Plane) openAndSave(ctx context.Context, src registry.Source, save func(registry.Source) (registry.Source, error)) (registry.Source, error) {
	s, err := p.data.OpenSource(ctx, src.Name, p.resolved(src.Config()))
	if err != nil {
		return registry.Source{}, openError(src, err)
	}
	// the Salesforce side's choices name sets and columns the model must
	// have: refused now, not when the package is first downloaded
	if err := salesforce.CheckChoices(s.Src.Metadata(), choicesOf(src.Source)); err != nil {
		s.Close()
		field := "lookups"
		if strings.HasPrefix(err.Error(), "name_fields") {
			field = "name_fields"
		}
		return registry.Source{}, &registry.FieldError{Field: field, Message: err.Error()}
	}
	// a source a service serves must keep the service whole: a set it
	// adds may take a name another source's set has there
	for _, svc := range p.servicesOf(src.Name) {
		if err := p.data.TryServiceWith(svc, src.Name, s.Src.Metadata()); err != nil {
			s.Close()
			return registry.Source{}, &registry.FieldError{Field: "names", Message: "the change would break a service it serves: " + err.Error()}
		}
	}
	saved, err := save(src)
	if err != nil {
		s.Close()
		return registry.Source{}, err
	}
	p.Install(saved.Name, s, saved)
	p.tellReplicas()
	return saved, nil
}

// Update tests the changed source and swaps it in; requests running on
// the old one finish there. A change that fails leaves the old serving.
func (p *Plane) Update(ctx context.Context, src registry.Source, ifVersion int64) (registry.Source, error) {
	if err := p.needStore(); err != nil {
		return registry.Source{}, err
	}
	cur, err := p.store.Get(ctx, src.Name)
	if err != nil {
		return registry.Source{}, err
	}
	if ifVersion != 0 && cur.Version != ifVersion {
		return registry.Source{}, registry.ErrChanged
	}
	if p.configured(cur) {
		return registry.Source{}, registry.ErrFromConfig
	}
	src = normalize(src)
	if src.Password == "" {
		src.Password = cur.Password // unchanged unless a new one is given
	}
	src.Origin = registry.OriginAPI
	if err := validate(src); err != nil {
		return registry.Source{}, err
	}
	return p.openAndSave(ctx, src, func(src registry.Source) (registry.Source, error) { return p.store.Update(ctx, src, cur.Version) })
}

// Delete unregisters a source and drains it.
func (p *Plane) Delete(ctx context.Context, name string, ifVersion int64) error {
	p.regs.mu.Lock()
	m := p.regs.byName[name]
	p.regs.mu.Unlock()
	if m != nil && m.reg.Origin == OriginDemo {
		p.uninstall(name)
		return nil
	}
	if err := p.needStore(); err != nil {
		return err
	}
	if svcs := p.servicesOf(name); len(svcs) > 0 {
		return fmt.Errorf("%w: %s serves its sets (%s); take the source out of the service first", registry.ErrInUse, strings.Join(svcs, ", "), name)
	}
	cur, err := p.store.Get(ctx, name)
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		// a registration whose password cannot be opened can still be removed
		if ifVersion != 0 {
			return err
		}
	} else if err == nil && p.configured(cur) {
		return registry.ErrFromConfig
	}
	if err := p.store.Delete(ctx, name, ifVersion); err != nil {
		return err
	}
	p.uninstall(name)
	p.tellReplicas()
	return nil
}

// List reports every source the gateway serves or failed to.
func (p *Plane) List(ctx context.Context) []admin.Status {
	p.regs.mu.Lock()
	names := make([]string, 0, len(p.regs.byName))
	for n := range p.regs.byName {
		names = append(names, n)
	}
	p.regs.mu.Unlock()
	sort.Strings(names)
	out := make([]admin.Status, 0, len(names))
	for _, n := range names {
		if st, err := p.Get(ctx, n); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// Get reports one source: its registration, whether its database
// answers, its sets and cache figures.
func (p *Plane) Get(ctx context.Context, name string) (admin.Status, error) {
	p.regs.mu.Lock()
	m, ok := p.regs.byName[name]
	var st admin.Status
	if ok {
		st.Source = m.reg.Public()
		st.ServingVersion = m.reg.Version
		st.State = "serving"
		st.Listening = p.hears(m)
		if m.err != nil {
			st.LastError = m.err.Error()
			at := m.errAt.UTC()
			st.LastErrorAt = &at
			if !m.serving {
				st.State = "failed"
			}
		}
	}
	p.regs.mu.Unlock()
	if !ok {
		return st, registry.ErrNotFound
	}
	if p.store != nil && st.Origin != OriginDemo {
		// what is registered, which may be newer than what serves (a change
		// made elsewhere and not applied here yet, or one that failed)
		if stored, err := p.store.Get(ctx, name); err == nil {
			st.Source = stored.Public()
		}
	}
	if st.State != "serving" {
		st.ServingVersion = 0
	}
	st.ServiceURL = p.serviceRoot(name)
	st.EntitySets = []string{}
	if src, serving := p.data.Served(name); serving {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		st.Connected = src.Ping(pctx) == nil
		cancel()
		for _, es := range src.Metadata().Sets {
			st.EntitySets = append(st.EntitySets, es.Name)
		}
		if f, ok := p.data.CacheFigures(name); ok {
			st.Cache = &admin.Cache{Bytes: f.Bytes, Hits: f.Hits, Misses: f.Misses, Stale: f.Stale, Evictions: f.Evictions}
		}
		if sb, ok := sources.As[sources.Standbyed](src); ok {
			if rep := sb.Standbys(); len(rep.Standbys) > 0 {
				st.Standbys = &rep
			}
		}
	}
	return st, nil
}

// Track returns the change tracking SQL of a served source's tables and
// runs it when asked, as the gateway's own database user; running gateways
// read the schema again (PostgreSQL tells the others).
func (p *Plane) Track(ctx context.Context, name string, req admin.TrackRequest) (string, error) {
	src, ok := p.data.Served(name)
	if !ok {
		return "", registry.ErrNotFound
	}
	installer, ok := sources.As[sources.TrackingInstaller](src)
	if !ok {
		return "", &registry.FieldError{Field: "tables", Message: "this kind of source cannot be tracked yet"}
	}
	sql, err := installer.TrackingSQL(req.Tables, req.Drop)
	if err != nil {
		return "", &registry.FieldError{Field: "tables", Message: err.Error()}
	}
	if req.Apply {
		if err := installer.ApplyTracking(ctx, sql); err != nil {
			return sql, &registry.FieldError{Field: "apply", Message: "the database refused it (the gateway's user must own the tables, or run the SQL as one who does): " + err.Error()}
		}
		// the schema again (tracked sets gain their annotations), here and
		// on the other replicas, logged like every reload
		if _, err := p.data.Reload(ctx, name); err != nil {
			return sql, &registry.FieldError{Field: "apply", Message: "tracking is installed, but reading the schema again failed (Reload schema tries again): " + err.Error()}
		}
	}
	return sql, nil
}

// Report is the compatibility report of a served source.
func (p *Plane) Report(ctx context.Context, name string) (salesforce.Report, error) {
	src, ok := p.data.Served(name)
	if !ok {
		return salesforce.Report{}, registry.ErrNotFound
	}
	var ch salesforce.Choices
	if st, err := p.Get(ctx, name); err == nil {
		ch = choicesOf(st.Source.Source)
	}
	return reportOf(ctx, src, ch), nil
}

// serviceRoot is the URL to give Salesforce for a source.
func (p *Plane) serviceRoot(name string) string {
	base := p.data.BaseURL()
	if p.publicURL != "" {
		base = strings.TrimRight(p.publicURL, "/")
	}
	return base + "/odata/" + name + "/"
}

// Users lists the gateway's users.
func (p *Plane) Users(ctx context.Context) ([]registry.User, error) {
	if err := p.needStore(); err != nil {
		return nil, err
	}
	return p.store.Users(ctx)
}

// AddUser adds a user who may call sources that accept Basic or tokens.
func (p *Plane) AddUser(ctx context.Context, u registry.User, password string) (registry.User, string, error) {
	if err := p.needStore(); err != nil {
		return registry.User{}, "", err
	}
	return p.store.AddUser(ctx, u, password)
}

// UpdateUser changes a user; credentials this gateway checked before are
// checked again.
func (p *Plane) UpdateUser(ctx context.Context, name, role, password string, rotate bool) (registry.User, string, error) {
	if err := p.needStore(); err != nil {
		return registry.User{}, "", err
	}
	defer p.data.ForgetCredentials()
	return p.store.UpdateUser(ctx, name, role, password, rotate)
}

// RemoveUser removes a user; it is refused at once on this gateway.
func (p *Plane) RemoveUser(ctx context.Context, name string) error {
	if err := p.needStore(); err != nil {
		return err
	}
	defer p.data.ForgetCredentials()
	return p.store.RemoveUser(ctx, name)
}
