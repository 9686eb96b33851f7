package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odatagw/odatagw/admin"
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/internal/tunnel"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/replicas"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/demo"
)

// OpenTimeout bounds connecting to and introspecting a source that is
// being added or changed, so that an unreachable host answers the admin
// in reasonable time.
const OpenTimeout = 20 * time.Second

// DefaultStatePoll is how often a gateway looks for registrations other
// replicas changed in a shared state store.
const DefaultStatePoll = 2 * time.Second

// retryFailed is how long a registration that failed to open waits before
// it is tried again.
const retryFailed = 30 * time.Second

// managed is a registration the gateway serves, or tried to.
type managed struct {
	reg     registry.Source // the registration serving (or that failed, when none serves); its password is never shown
	seen    int64           // the latest version of the store looked at: a failed one counts, so the poll waits retryFailed
	stop    context.CancelFunc
	err     error
	errAt   time.Time
	serving bool
	// listening: the source's watcher hears its database (see Listening)
	listening *atomic.Bool
}

// registrations is the gateway's side of the registry: what it serves and
// at which version, changed one registration at a time.
type registrations struct {
	mu     sync.Mutex
	byName map[string]*managed
}

// opened is a source ready to serve, with the guard of its policy.
type opened struct {
	src   sources.Source
	guard *auth.Guard
}

func (o opened) Close() {
	o.src.Close()
	o.guard.Close()
}

// openSource connects to and introspects a source, with the cache in
// front, and prepares its access policy.
func (g *Gateway) openSource(ctx context.Context, name string, cfg config.Source) (opened, error) {
	guard, err := auth.NewGuard(name, cfg.Auth, g.authShared)
	if err != nil {
		return opened{}, &registry.FieldError{Field: "auth", Message: err.Error()}
	}
	cfg = cfg.Resolved(g.settings.Defaults)
	opts := sources.Options{Name: name, Source: cfg, Logger: g.settings.Logger, Dial: g.dialFor(cfg)}
	ctx, cancel := context.WithTimeout(ctx, OpenTimeout)
	defer cancel()
	src, err := sources.Open(ctx, opts)
	if err != nil {
		guard.Close()
		return opened{}, err
	}
	if cfg.Auth.PerUser {
		if a, ok := sources.As[sources.CallerAware](src); !ok || !a.ActsAsCaller() {
			src.Close()
			guard.Close()
			return opened{}, &registry.FieldError{Field: "auth", Message: "per_user needs a PostgreSQL source (roles and row-level security)"}
		}
	}
	if !cfg.Auth.Any() {
		g.settings.Logger.Warn("the source accepts no credentials, so every request gets 401: configure its auth (basic, token_header, bearer, or anonymous behind a restricting proxy); see docs/security.md", "source", name)
	}
	return opened{src: g.withCache(src, name, cfg), guard: guard}, nil
}

// configFor is the configuration to open a registration with: a source the
// configuration file gives is opened from the file, which holds what the
// store never keeps (a bearer secret).
func (g *Gateway) configFor(reg registry.Source) config.Source {
	if c, ok := g.settings.Sources[reg.Name]; ok && reg.Origin == registry.OriginConfig {
		return c
	}
	return reg.Config()
}

func (g *Gateway) busIface() replicas.Bus {
	if g.bus == nil {
		return nil
	}
	return g.bus
}

// install puts an opened source in service under its registration. A
// source it replaces finishes the requests running on it, then closes.
// A registration older than the one serving is not installed (the reconcile
// loop may have opened it while the API saved a newer one): the opened
// source is closed and ok is false. The check and the swap share one lock,
// so an older version never replaces a newer one, even briefly.
func (g *Gateway) install(name string, o opened, reg registry.Source) (drained <-chan struct{}, ok bool) {
	g.regs.mu.Lock()
	defer g.regs.mu.Unlock()
	old := g.regs.byName[name]
	if old != nil && old.serving && reg.Version != 0 && old.reg.Version >= reg.Version {
		o.Close()
		return nil, false
	}
	if old != nil && old.stop != nil {
		old.stop()
	}
	wctx, stop := context.WithCancel(g.watchCtx)
	done := g.Server.AddSource(name, o.src, o.guard)
	g.Server.ClearUnavailable(name)
	listening := new(atomic.Bool)
	g.watch(wctx, name, o.src, listening)
	g.regs.byName[name] = &managed{reg: reg, seen: reg.Version, stop: stop, serving: true, listening: listening}
	return done, true
}

// uninstall takes a source out of service; it closes once its requests end.
func (g *Gateway) uninstall(name string) <-chan struct{} {
	g.regs.mu.Lock()
	defer g.regs.mu.Unlock()
	if old := g.regs.byName[name]; old != nil && old.stop != nil {
		old.stop()
	}
	delete(g.regs.byName, name)
	g.Server.ClearUnavailable(name)
	done, ok := g.Server.RemoveSource(name)
	if !ok {
		c := make(chan struct{})
		close(c)
		return c
	}
	return done
}

// failed records a registration that could not be opened; the old
// source, if any, keeps serving.
func (g *Gateway) failed(reg registry.Source, err error) {
	g.regs.mu.Lock()
	defer g.regs.mu.Unlock()
	m := g.regs.byName[reg.Name]
	if m == nil {
		m = &managed{listening: new(atomic.Bool)}
		g.regs.byName[reg.Name] = m
	}
	if !m.serving {
		m.reg = reg
	}
	m.err, m.errAt, m.seen = err, time.Now(), reg.Version
	if !m.serving {
		g.waitsForAgent(reg, err)
	}
}

// registerConfigured puts the sources of flags and the configuration file
// in the store, so that the API and the other replicas see them. A
// registration is written only when it differs from the stored one. The
// undo it returns puts back what the store held before, for a start that
// fails after it: a source that could not open must not stay registered.
func (g *Gateway) registerConfigured(ctx context.Context) (undo func(), err error) {
	type before struct {
		name string
		had  *registry.Source // nil: there was none
	}
	var written []before
	undo = func() {
		// its own time: the start's context may be what ended it
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, w := range slices.Backward(written) {
			var err error
			if w.had == nil {
				err = g.store.Delete(ctx, w.name, 0)
			} else {
				_, err = g.store.Update(ctx, *w.had, 0)
			}
			if err != nil {
				g.settings.Logger.Error("the failed start's registration could not be taken back", "source", w.name, "error", err)
			}
		}
	}
	if !g.store.Shared() {
		// a source taken out of this gateway's configuration leaves its
		// own store too; in a shared store another replica may still
		// configure it, and an admin can remove it through the API
		names, err := g.store.Names(ctx)
		if err != nil {
			return undo, fmt.Errorf("reading the state store: %w", err)
		}
		for _, name := range names {
			if _, configured := g.settings.Sources[name]; configured {
				continue
			}
			if reg, err := g.store.Get(ctx, name); err == nil && reg.Origin == registry.OriginConfig {
				if err := g.store.Delete(ctx, name, 0); err != nil && !errors.Is(err, registry.ErrNotFound) {
					return undo, fmt.Errorf("unregistering source %s, no longer configured: %w", name, err)
				}
				g.settings.Logger.Info("source no longer configured; unregistered", "source", name)
			}
		}
	}
	for _, name := range sortedNames(g.settings.Sources) {
		want := registry.FromConfig(name, g.settings.Sources[name], registry.OriginConfig)
		if !g.store.HasKey() {
			// without the operator's key nothing can be sealed: the
			// password stays in the configuration, which opens the source
			want.Password = ""
		}
		have, err := g.store.Get(ctx, name)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			if _, err = g.store.Create(ctx, want); err == nil {
				written = append(written, before{name: name})
			}
		case err != nil:
			// a stored password that cannot be opened is replaced by the configured one
			_, err = g.store.Update(ctx, want, 0)
		case !registry.SameSettings(have, want):
			if have.Origin == registry.OriginAPI {
				g.settings.Logger.Warn("the configuration takes over a source registered through the admin API", "source", name)
			}
			if _, err = g.store.Update(ctx, want, 0); err == nil {
				written = append(written, before{name: name, had: &have})
			}
		}
		if err != nil {
			return undo, fmt.Errorf("registering source %s in the state store: %w", name, err)
		}
	}
	return undo, nil
}

// openRegistered opens every registration in the store. Sources from the
// configuration must open (a broken DSN in a file should stop the start);
// one registered through the API that fails is reported and retried, so
// that one unreachable database does not keep the others down.
func (g *Gateway) openRegistered(ctx context.Context) error {
	regs, broken, err := g.store.List(ctx)
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	for name, err := range broken {
		g.settings.Logger.Error("a registered source cannot be used", "source", name, "error", err)
		g.failed(registry.Source{Name: name, Origin: registry.OriginAPI}, err)
	}
	for _, reg := range regs {
		src, err := g.openSource(ctx, reg.Name, g.configFor(reg))
		if err != nil {
			var noAgent *tunnel.NoAgentError
			waits := errors.As(err, &noAgent) || reg.Via != "" && !g.hub.Connected(reg.Via)
			if reg.Origin == registry.OriginConfig && !waits {
				return fmt.Errorf("source %s: %w", reg.Name, err)
			}
			g.settings.Logger.Error("a registered source failed to open; retrying later", "source", reg.Name, "error", err)
			g.failed(reg, err)
			continue
		}
		g.install(reg.Name, src, reg)
	}
	return nil
}

// reconcile keeps this gateway in step with the store: registrations
// other replicas (or this one's API) added, changed or removed are applied
// within one poll, or at once when woken, and failed ones are retried. It
// is the only goroutine that applies the store, so two passes never race
// each other; a wake-up during a pass runs one more pass after it.
func (g *Gateway) reconcile(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-g.wake:
		}
		g.syncStore(ctx)
	}
}

// wakeReconcile asks for a pass of the reconcile loop now, rather than at
// its next tick; wake-ups that arrive while one is pending are one.
func (g *Gateway) wakeReconcile() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// tellReplicas asks the replicas sharing a Redis to look at the store now
// rather than at their next poll.
func (g *Gateway) tellReplicas() {
	if g.bus != nil {
		g.bus.Publish(replicas.Message{Kind: replicas.KindRegistry})
	}
}

func (g *Gateway) syncStore(ctx context.Context) {
	versions, err := g.store.Versions(ctx)
	if err != nil {
		if ctx.Err() == nil {
			g.settings.Logger.Warn("reading the state store failed; serving the sources as they are", "error", err)
		}
		return
	}
	var changed, gone []string
	g.regs.mu.Lock()
	for name, v := range versions {
		m := g.regs.byName[name]
		// a source waiting for its agent is tried as soon as one is here
		waited := m != nil && m.err != nil && m.reg.Via != "" && g.hub.Connected(m.reg.Via) && time.Since(m.errAt) > agentRetry
		if m == nil || m.seen != v || (m.err != nil && time.Since(m.errAt) > retryFailed) || waited {
			changed = append(changed, name)
		}
	}
	for name, m := range g.regs.byName {
		if _, ok := versions[name]; !ok && m.reg.Origin != originDemo {
			gone = append(gone, name)
		}
	}
	g.regs.mu.Unlock()
	for _, name := range gone {
		g.settings.Logger.Info("source removed from the registry; draining it", "source", name)
		g.uninstall(name)
	}
	for _, name := range changed {
		reg, err := g.store.Get(ctx, name)
		if errors.Is(err, registry.ErrNotFound) {
			continue
		}
		if err != nil {
			g.failed(registry.Source{Name: name, Version: versions[name], Origin: registry.OriginAPI}, err)
			continue
		}
		g.apply(ctx, reg)
	}
}

// apply opens a registration and swaps it in, unless a newer one was
// installed meanwhile.
func (g *Gateway) apply(ctx context.Context, reg registry.Source) {
	src, err := g.openSource(ctx, reg.Name, g.configFor(reg))
	if err != nil {
		g.settings.Logger.Error("a registered source failed to open; the previous one, if any, keeps serving", "source", reg.Name, "error", err)
		g.failed(reg, err)
		return
	}
	if _, ok := g.install(reg.Name, src, reg); ok {
		g.settings.Logger.Info("source registration applied", "source", reg.Name, "version", reg.Version)
	}
}

const originDemo = "demo"

func sortedNames(m map[string]config.Source) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// configured reports whether this gateway's flags or configuration file
// give the source: changes through the API would be undone at its next
// start. A source another replica configures may be changed here.
func (g *Gateway) configured(reg registry.Source) bool {
	_, ok := g.settings.Sources[reg.Name]
	return ok && reg.Origin == registry.OriginConfig
}

// ---- admin.Manager ----

var _ admin.Manager = (*Gateway)(nil)

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
	return &registry.FieldError{Field: "dsn", Message: dsn.Scrub(err.Error(), src.FullDSN())}
}

func (g *Gateway) needStore() error {
	if g.store == nil {
		return errors.New("this gateway runs without a state store (--state), so sources can only be given by flags or the configuration file")
	}
	return nil
}

// Test opens a source without saving or serving it and reports what
// Salesforce would make of it.
func (g *Gateway) Test(ctx context.Context, src registry.Source) (salesforce.Report, error) {
	src = normalize(src)
	if src.Name == "" {
		src.Name = "test"
	}
	if err := validate(src); err != nil {
		return salesforce.Report{}, err
	}
	var rep salesforce.Report
	settings := src.Config()
	err := inspect(ctx, src.Name, settings, g.settings.Defaults, g.dialFor(settings), func(ctx context.Context, s sources.Source) error {
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
	opts := sources.Options{Name: name, Source: settings.Resolved(global), Logger: discardLogger, Dial: dial}
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
	return report
}

// Create tests a new source, saves it and serves it.
func (g *Gateway) Create(ctx context.Context, src registry.Source) (registry.Source, error) {
	if err := g.needStore(); err != nil {
		return registry.Source{}, err
	}
	src = normalize(src)
	src.Origin = registry.OriginAPI
	if err := validate(src); err != nil {
		return registry.Source{}, err
	}
	if src.Password != "" && !g.store.HasKey() {
		return registry.Source{}, registry.ErrNoSecretKey
	}
	if _, err := g.store.Get(ctx, src.Name); err == nil {
		return registry.Source{}, registry.ErrExists
	}
	if _, served := g.Server.Source(src.Name); served {
		return registry.Source{}, registry.ErrExists
	}
	return g.openAndSave(ctx, src, func(src registry.Source) (registry.Source, error) { return g.store.Create(ctx, src) })
}

// openAndSave opens a registration, saves it only if it works, and swaps
// it in; the other replicas are told.
func (g *Gateway) openAndSave(ctx context.Context, src registry.Source, save func(registry.Source) (registry.Source, error)) (registry.Source, error) {
	s, err := g.openSource(ctx, src.Name, src.Config())
	if err != nil {
		return registry.Source{}, openError(src, err)
	}
	// the Salesforce side's choices name sets and columns the model must
	// have: refused now, not when the package is first downloaded
	if err := salesforce.CheckChoices(s.src.Metadata(), choicesOf(src.Source)); err != nil {
		s.Close()
		field := "lookups"
		if strings.HasPrefix(err.Error(), "name_fields") {
			field = "name_fields"
		}
		return registry.Source{}, &registry.FieldError{Field: field, Message: err.Error()}
	}
	saved, err := save(src)
	if err != nil {
		s.Close()
		return registry.Source{}, err
	}
	g.install(saved.Name, s, saved)
	g.tellReplicas()
	return saved, nil
}

// Update tests the changed source and swaps it in; requests running on
// the old one finish there. A change that fails leaves the old serving.
func (g *Gateway) Update(ctx context.Context, src registry.Source, ifVersion int64) (registry.Source, error) {
	if err := g.needStore(); err != nil {
		return registry.Source{}, err
	}
	cur, err := g.store.Get(ctx, src.Name)
	if err != nil {
		return registry.Source{}, err
	}
	if ifVersion != 0 && cur.Version != ifVersion {
		return registry.Source{}, registry.ErrChanged
	}
	if g.configured(cur) {
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
	return g.openAndSave(ctx, src, func(src registry.Source) (registry.Source, error) { return g.store.Update(ctx, src, cur.Version) })
}

// Delete unregisters a source and drains it.
func (g *Gateway) Delete(ctx context.Context, name string, ifVersion int64) error {
	g.regs.mu.Lock()
	m := g.regs.byName[name]
	g.regs.mu.Unlock()
	if m != nil && m.reg.Origin == originDemo {
		g.uninstall(name)
		return nil
	}
	if err := g.needStore(); err != nil {
		return err
	}
	cur, err := g.store.Get(ctx, name)
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		// a registration whose password cannot be opened can still be removed
		if ifVersion != 0 {
			return err
		}
	} else if err == nil && g.configured(cur) {
		return registry.ErrFromConfig
	}
	if err := g.store.Delete(ctx, name, ifVersion); err != nil {
		return err
	}
	g.uninstall(name)
	g.tellReplicas()
	return nil
}

// List reports every source the gateway serves or failed to.
func (g *Gateway) List(ctx context.Context) []admin.Status {
	g.regs.mu.Lock()
	names := make([]string, 0, len(g.regs.byName))
	for n := range g.regs.byName {
		names = append(names, n)
	}
	g.regs.mu.Unlock()
	sort.Strings(names)
	out := make([]admin.Status, 0, len(names))
	for _, n := range names {
		if st, err := g.Get(ctx, n); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// Get reports one source: its registration, whether its database
// answers, its sets and cache figures.
func (g *Gateway) Get(ctx context.Context, name string) (admin.Status, error) {
	g.regs.mu.Lock()
	m, ok := g.regs.byName[name]
	var st admin.Status
	if ok {
		st.Source = m.reg.Public()
		st.ServingVersion = m.reg.Version
		st.State = "serving"
		st.Listening = g.hears(m)
		if m.err != nil {
			st.LastError = m.err.Error()
			at := m.errAt.UTC()
			st.LastErrorAt = &at
			if !m.serving {
				st.State = "failed"
			}
		}
	}
	g.regs.mu.Unlock()
	if !ok {
		return st, registry.ErrNotFound
	}
	if g.store != nil && st.Origin != originDemo {
		// what is registered, which may be newer than what serves (a change
		// made elsewhere and not applied here yet, or one that failed)
		if stored, err := g.store.Get(ctx, name); err == nil {
			st.Source = stored.Public()
		}
	}
	if st.State != "serving" {
		st.ServingVersion = 0
	}
	st.ServiceURL = g.serviceRoot(name)
	st.EntitySets = []string{}
	if src, serving := g.Server.Source(name); serving {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		st.Connected = src.Ping(pctx) == nil
		cancel()
		for _, es := range src.Metadata().Sets {
			st.EntitySets = append(st.EntitySets, es.Name)
		}
		if c, ok := sources.As[*cache.Source](src); ok {
			fig := &admin.Cache{Bytes: c.Bytes()}
			for _, set := range c.SetNames() {
				s := c.Stats(set)
				fig.Hits += s.Hits.Load()
				fig.Misses += s.Misses.Load()
				fig.Stale += s.Stale.Load()
				fig.Evictions += s.Evictions.Load()
			}
			st.Cache = fig
		}
	}
	return st, nil
}

// Track returns the change tracking SQL of a served source's tables and
// runs it when asked, as the gateway's own database user; running gateways
// read the schema again (PostgreSQL tells the others).
func (g *Gateway) Track(ctx context.Context, name string, req admin.TrackRequest) (string, error) {
	src, ok := g.Server.Source(name)
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
		if _, err := g.reload(ctx, name, true); err != nil {
			return sql, &registry.FieldError{Field: "apply", Message: "tracking is installed, but reading the schema again failed (Reload schema tries again): " + err.Error()}
		}
	}
	return sql, nil
}

// Report is the compatibility report of a served source.
func (g *Gateway) Report(ctx context.Context, name string) (salesforce.Report, error) {
	src, ok := g.Server.Source(name)
	if !ok {
		return salesforce.Report{}, registry.ErrNotFound
	}
	var ch salesforce.Choices
	if st, err := g.Get(ctx, name); err == nil {
		ch = choicesOf(st.Source.Source)
	}
	return reportOf(ctx, src, ch), nil
}

// serviceRoot is the URL to give Salesforce for a source.
func (g *Gateway) serviceRoot(name string) string {
	g.addrMu.Lock()
	base := g.baseURL
	g.addrMu.Unlock()
	if g.settings.PublicURL != "" {
		base = strings.TrimRight(g.settings.PublicURL, "/")
	}
	return base + "/odata/" + name + "/"
}

// Users lists the gateway's users.
func (g *Gateway) Users(ctx context.Context) ([]registry.User, error) {
	if err := g.needStore(); err != nil {
		return nil, err
	}
	return g.store.Users(ctx)
}

// AddUser adds a user who may call sources that accept Basic or tokens.
func (g *Gateway) AddUser(ctx context.Context, u registry.User, password string) (registry.User, string, error) {
	if err := g.needStore(); err != nil {
		return registry.User{}, "", err
	}
	return g.store.AddUser(ctx, u, password)
}

// UpdateUser changes a user; credentials this gateway checked before are
// checked again.
func (g *Gateway) UpdateUser(ctx context.Context, name, role, password string, rotate bool) (registry.User, string, error) {
	if err := g.needStore(); err != nil {
		return registry.User{}, "", err
	}
	defer g.authShared.Forget()
	return g.store.UpdateUser(ctx, name, role, password, rotate)
}

// RemoveUser removes a user; it is refused at once on this gateway.
func (g *Gateway) RemoveUser(ctx context.Context, name string) error {
	if err := g.needStore(); err != nil {
		return err
	}
	defer g.authShared.Forget()
	return g.store.RemoveUser(ctx, name)
}
