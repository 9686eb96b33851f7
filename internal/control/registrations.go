// Package control is the gateway's control plane: it keeps the
// registrations of the state store in service (the sources of the flags
// and the configuration file registered, each registration opened and
// swapped in, a removed one drained, a failed one retried, the other
// replicas followed through one reconcile loop), and it answers the admin
// API (admin.Manager): sources, users, agents and insight. It drives the
// data plane (the OData server and the agents' hub) and opens sources
// through it; it never serves a request itself.
package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/replicas"
	"github.com/odatagw/odatagw/internal/tunnel"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/metadata/compose"
	"github.com/odatagw/odatagw/odata/activity"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/sources"
)

// retryFailed is how long a registration that failed to open waits before
// it is tried again.
const retryFailed = 30 * time.Second

// OpenTimeout bounds connecting to and introspecting a source that is
// being added or changed, so that an unreachable host answers the admin
// in reasonable time.
const OpenTimeout = 20 * time.Second

// DefaultStatePoll is how often a gateway looks for registrations other
// replicas changed in a shared state store.
const DefaultStatePoll = 2 * time.Second

// Opened is a source ready to serve (wrapped as the data plane serves
// it), with the guard of its policy and its answer cache (nil: none).
type Opened struct {
	Src     sources.Source
	Guard   *auth.Guard
	Answers *cache.Answers
}

// Close closes all three.
func (o Opened) Close() {
	o.Src.Close()
	o.Guard.Close()
	if o.Answers != nil {
		o.Answers.Close()
	}
}

// DataPlane is the data plane as the control plane drives it: the one
// interface between the two. The data plane (internal/app) implements it
// and never calls the control plane; what it serves, records and hears is
// read through it.
type DataPlane interface {
	// OpenSource connects to and introspects a source, ready to serve;
	// its settings are resolved (config.Source.Resolved). OpenDemo makes
	// the embedded demo, served when nothing else is.
	OpenSource(ctx context.Context, name string, cfg config.Source) (Opened, error)
	OpenDemo(ctx context.Context, cfg config.Source) (Opened, error)
	// ServeSource puts an opened source in service under name, in place of the
	// one serving, whose requests finish on it (drained says when).
	ServeSource(name string, o Opened) (drained <-chan struct{})
	// UnserveSource takes a source out of service; it closes once its requests
	// end.
	UnserveSource(name string) (drained <-chan struct{}, ok bool)
	// Waiting makes requests to a source that cannot open answer 503
	// with msg (it waits for its agent) until it is served.
	Waiting(name, msg string)
	// Served is the source serving under name; SourceNames all of them.
	Served(name string) (sources.Source, bool)
	SourceNames() []string
	// Watch listens to a serving source's database (schema reloads,
	// changes made behind the gateway, which its cached answers follow)
	// until ctx ends, and keeps listening saying whether it hears it.
	Watch(ctx context.Context, name string, o Opened, listening *atomic.Bool)
	// Reload reads a served source's schema again and tells the replicas.
	Reload(ctx context.Context, name string) (sources.Changes, error)
	// ServeService serves a service over served sources (its model
	// composed now: a clash is an error); UnserveService stops it. Hide
	// serves a source only through its services (expose: false).
	ServeService(name string, cfg config.Service) error
	UnserveService(name string) bool
	ServiceModel(name string) (*compose.Service, error)
	// TryServiceWith composes a service as it would be with a member's
	// new model, changing nothing: the error says what would clash.
	TryServiceWith(service, member string, model *metadata.Service) error
	Hide(name string, hidden bool)
	// Dial is how a source reaches its database (its agent's tunnel), or
	// nil for the driver's own.
	Dial(cfg config.Source) func(ctx context.Context, network, addr string) (net.Conn, error)
	// Agents are the agents' tunnels connected now; AgentConnected says
	// whether one of name is; DisconnectAgent cuts its tunnels.
	Agents() []tunnel.AgentStatus
	AgentConnected(name string) bool
	DisconnectAgent(name string)
	// CacheFigures are a source's answer cache figures (false: it keeps
	// nothing).
	CacheFigures(name string) (cache.Figures, bool)
	// Shapes, Traffic and Audit are what the data plane recorded.
	Shapes(name string) (*shapes.Recorder, bool)
	Traffic(name string) []activity.Series
	Audit(source, user, event string, limit int) []activity.AuditRecord
	// BaseURL is where the OData listener is reached, once serving.
	BaseURL() string
	// HearsReplicas says whether the other replicas' messages reach it.
	HearsReplicas() bool
	// ForgetCredentials drops the credentials checked so far (a user
	// changed or went).
	ForgetCredentials()
}

// Config is what a control plane is made of.
type Config struct {
	Data DataPlane
	// Bus carries what the replicas tell each other: registry changes
	// wake the reconcile loop; nil without Redis.
	Bus replicas.Bus
	// Store is the state store; nil: sources come from the flags and the
	// file alone, and nothing can be registered at run time.
	Store     *registry.Store
	Defaults  config.File              // every source's defaults
	Sources   map[string]config.Source // the flags' and the file's sources
	Services  map[string]config.Service
	PublicURL string
	Logger    *slog.Logger
}

// Plane is a gateway's control plane.
type Plane struct {
	data      DataPlane
	bus       replicas.Bus
	store     *registry.Store
	defaults  config.File
	sources   map[string]config.Source
	services  map[string]config.Service
	publicURL string
	log       *slog.Logger

	regs registrations
	// the services served or tried: the configuration's and the store's
	svcMu sync.Mutex
	svcs  map[string]*servedService
	wake  chan struct{} // wakes the reconcile loop
	ctx   context.Context
}

// New makes the control plane; ctx bounds the watchers of the sources it
// installs.
func New(ctx context.Context, cfg Config) *Plane {
	p := &Plane{data: cfg.Data, bus: cfg.Bus, store: cfg.Store, defaults: cfg.Defaults, sources: cfg.Sources, services: maps.Clone(cfg.Services),
		publicURL: cfg.PublicURL, log: cfg.Logger, regs: registrations{byName: map[string]*managed{}}, svcs: map[string]*servedService{}, wake: make(chan struct{}, 1), ctx: ctx}
	if p.bus != nil {
		// another replica changed the store: look at it now
		p.bus.Subscribe(func(m replicas.Message) {
			if m.Kind == replicas.KindRegistry {
				p.Wake()
			}
		})
	}
	return p
}

// tellReplicas asks the replicas sharing a Redis to look at the store now
// rather than at their next poll.
func (p *Plane) tellReplicas() {
	if p.bus != nil {
		p.bus.Publish(replicas.Message{Kind: replicas.KindRegistry})
	}
}

// resolved is a source's settings with every default decided: the one
// place a registration's settings become what is opened.
func (p *Plane) resolved(cfg config.Source) config.Source { return cfg.Resolved(p.defaults) }

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

// configFor is the configuration to open a registration with: a source the
// configuration file gives is opened from the file, which holds what the
// store never keeps (a bearer secret).
func (p *Plane) configFor(reg registry.Source) config.Source {
	if c, ok := p.sources[reg.Name]; ok && reg.Origin == registry.OriginConfig {
		return c
	}
	return reg.Config()
}

// Install puts an opened source in service under its registration. A
// source it replaces finishes the requests running on it, then closes.
// A registration older than the one serving is not installed (the reconcile
// loop may have opened it while the API saved a newer one): the opened
// source is closed and ok is false. The check and the swap share one lock,
// so an older version never replaces a newer one, even briefly.
func (p *Plane) Install(name string, o Opened, reg registry.Source) (drained <-chan struct{}, ok bool) {
	p.regs.mu.Lock()
	defer p.regs.mu.Unlock()
	old := p.regs.byName[name]
	if old != nil && old.serving && reg.Version != 0 && old.reg.Version >= reg.Version {
		o.Close()
		return nil, false
	}
	if old != nil && old.stop != nil {
		old.stop()
	}
	wctx, stop := context.WithCancel(p.ctx)
	done := p.data.ServeSource(name, o)
	p.data.Hide(name, !p.configFor(reg).Exposed())
	listening := new(atomic.Bool)
	p.data.Watch(wctx, name, o, listening)
	p.regs.byName[name] = &managed{reg: reg, seen: reg.Version, stop: stop, serving: true, listening: listening}
	return done, true
}

// uninstall takes a source out of service; it closes once its requests end.
func (p *Plane) uninstall(name string) <-chan struct{} {
	p.regs.mu.Lock()
	defer p.regs.mu.Unlock()
	if old := p.regs.byName[name]; old != nil && old.stop != nil {
		old.stop()
	}
	delete(p.regs.byName, name)
	done, ok := p.data.UnserveSource(name)
	if !ok {
		c := make(chan struct{})
		close(c)
		return c
	}
	return done
}

// failed records a registration that could not be opened; the old
// source, if any, keeps serving.
func (p *Plane) failed(reg registry.Source, err error) {
	p.regs.mu.Lock()
	defer p.regs.mu.Unlock()
	m := p.regs.byName[reg.Name]
	if m == nil {
		m = &managed{listening: new(atomic.Bool)}
		p.regs.byName[reg.Name] = m
	}
	if !m.serving {
		m.reg = reg
	}
	m.err, m.errAt, m.seen = err, time.Now(), reg.Version
	if !m.serving {
		p.waitsForAgent(reg, err)
	}
}

// Start puts the sources of the flags and the configuration file in
// service: through the state store when there is one (which adds those
// registered at run time), else directly; with none at all, the embedded
// demo. A source of the file that cannot open stops the start, and takes
// back what the start registered.
func (p *Plane) Start(ctx context.Context) error {
	if err := p.start(ctx); err != nil {
		return err
	}
	if err := p.startServices(ctx); err != nil {
		return err
	}
	if p.Serving() > 0 {
		return nil
	}
	// the demo holds made-up data, so anyone may call it
	settings := p.resolved(config.Source{DSN: "sqlite:(embedded demo, rebuilt at each start)", Auth: config.Auth{Anonymous: true}})
	o, err := p.data.OpenDemo(ctx, settings)
	if err != nil {
		return err
	}
	p.Install("demo", o, registry.Source{Name: "demo", Source: settings, Origin: OriginDemo})
	return nil
}

func (p *Plane) start(ctx context.Context) error {
	if p.store == nil {
		for _, name := range sortedNames(p.sources) {
			if p.sources[name].Via != "" {
				return fmt.Errorf("source %s: via needs the state store, where agents are registered (--state)", name)
			}
			src, err := p.data.OpenSource(ctx, name, p.resolved(p.sources[name]))
			if err != nil {
				return fmt.Errorf("source %s: %w", name, err)
			}
			p.Install(name, src, registry.FromConfig(name, p.sources[name], registry.OriginConfig))
		}
		return nil
	}
	undo, err := p.registerConfigured(ctx)
	if err == nil {
		err = p.openRegistered(ctx)
	}
	if err != nil {
		undo()
	}
	return err
}

// Listening reports whether what is said about a source elsewhere reaches
// this gateway now: its database's notifications (schema reloads, changes
// made behind the gateway) and, with Redis, the other replicas' messages.
// Right after a start or a change it is false for a moment.
func (p *Plane) Listening(name string) bool {
	p.regs.mu.Lock()
	m, ok := p.regs.byName[name]
	p.regs.mu.Unlock()
	return ok && p.hears(m)
}

func (p *Plane) hears(m *managed) bool {
	return m.serving && m.listening.Load() && p.data.HearsReplicas()
}

// Serving reports how many sources are registered here, serving or not.
func (p *Plane) Serving() int {
	p.regs.mu.Lock()
	defer p.regs.mu.Unlock()
	return len(p.regs.byName)
}

// registerConfigured puts the sources of flags and the configuration file
// in the store, so that the API and the other replicas see them. A
// registration is written only when it differs from the stored one. The
// undo it returns puts back what the store held before, for a start that
// fails after it: a source that could not open must not stay registered.
func (p *Plane) registerConfigured(ctx context.Context) (undo func(), err error) {
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
				err = p.store.Delete(ctx, w.name, 0)
			} else {
				_, err = p.store.Update(ctx, *w.had, 0)
			}
			if err != nil {
				p.log.Error("the failed start's registration could not be taken back", "source", w.name, "error", err)
			}
		}
	}
	if !p.store.Shared() {
		// a source taken out of this gateway's configuration leaves its
		// own store too; in a shared store another replica may still
		// configure it, and an admin can remove it through the API
		names, err := p.store.Names(ctx)
		if err != nil {
			return undo, fmt.Errorf("reading the state store: %w", err)
		}
		for _, name := range names {
			if _, configured := p.sources[name]; configured {
				continue
			}
			if reg, err := p.store.Get(ctx, name); err == nil && reg.Origin == registry.OriginConfig {
				if err := p.store.Delete(ctx, name, 0); err != nil && !errors.Is(err, registry.ErrNotFound) {
					return undo, fmt.Errorf("unregistering source %s, no longer configured: %w", name, err)
				}
				p.log.Info("source no longer configured; unregistered", "source", name)
			}
		}
	}
	for _, name := range sortedNames(p.sources) {
		want := registry.FromConfig(name, p.sources[name], registry.OriginConfig)
		if !p.store.HasKey() {
			// without the operator's key nothing can be sealed: the
			// password stays in the configuration, which opens the source
			want.Password = ""
		}
		have, err := p.store.Get(ctx, name)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			if _, err = p.store.Create(ctx, want); err == nil {
				written = append(written, before{name: name})
			}
		case err != nil:
			// a stored password that cannot be opened is replaced by the configured one
			_, err = p.store.Update(ctx, want, 0)
		case !registry.SameSettings(have, want):
			if have.Origin == registry.OriginAPI {
				p.log.Warn("the configuration takes over a source registered through the admin API", "source", name)
			}
			if _, err = p.store.Update(ctx, want, 0); err == nil {
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
func (p *Plane) openRegistered(ctx context.Context) error {
	regs, broken, err := p.store.List(ctx)
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	for name, err := range broken {
		p.log.Error("a registered source cannot be used", "source", name, "error", err)
		p.failed(registry.Source{Name: name, Origin: registry.OriginAPI}, err)
	}
	for _, reg := range regs {
		src, err := p.data.OpenSource(ctx, reg.Name, p.resolved(p.configFor(reg)))
		if err != nil {
			var noAgent *tunnel.NoAgentError
			waits := errors.As(err, &noAgent) || reg.Via != "" && !p.data.AgentConnected(reg.Via)
			if reg.Origin == registry.OriginConfig && !waits {
				return fmt.Errorf("source %s: %w", reg.Name, err)
			}
			p.log.Error("a registered source failed to open; retrying later", "source", reg.Name, "error", err)
			p.failed(reg, err)
			continue
		}
		p.Install(reg.Name, src, reg)
	}
	return nil
}

// Run keeps this gateway in step with the store (the reconcile loop): registrations
// other replicas (or this one's API) added, changed or removed are applied
// within one poll, or at once when woken, and failed ones are retried. It
// is the only goroutine that applies the store, so two passes never race
// each other; a wake-up during a pass runs one more pass after it.
func (p *Plane) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.wake:
		}
		p.syncStore(ctx)
	}
}

// Wake asks for a pass of the reconcile loop now, rather than at
// its next tick; wake-ups that arrive while one is pending are one.
func (p *Plane) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Plane) syncStore(ctx context.Context) {
	versions, err := p.store.Versions(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("reading the state store failed; serving the sources as they are", "error", err)
		}
		return
	}
	var changed, gone []string
	p.regs.mu.Lock()
	for name, v := range versions {
		m := p.regs.byName[name]
		// a source waiting for its agent is tried as soon as one is here
		waited := m != nil && m.err != nil && m.reg.Via != "" && p.data.AgentConnected(m.reg.Via) && time.Since(m.errAt) > agentRetry
		if m == nil || m.seen != v || (m.err != nil && time.Since(m.errAt) > retryFailed) || waited {
			changed = append(changed, name)
		}
	}
	for name, m := range p.regs.byName {
		if _, ok := versions[name]; !ok && m.reg.Origin != OriginDemo {
			gone = append(gone, name)
		}
	}
	p.regs.mu.Unlock()
	for _, name := range gone {
		p.log.Info("source removed from the registry; draining it", "source", name)
		p.uninstall(name)
	}
	for _, name := range changed {
		reg, err := p.store.Get(ctx, name)
		if errors.Is(err, registry.ErrNotFound) {
			continue
		}
		if err != nil {
			p.failed(registry.Source{Name: name, Version: versions[name], Origin: registry.OriginAPI}, err)
			continue
		}
		p.apply(ctx, reg)
	}
	p.syncServices(ctx)
}

// apply opens a registration and swaps it in, unless a newer one was
// installed meanwhile.
func (p *Plane) apply(ctx context.Context, reg registry.Source) {
	src, err := p.data.OpenSource(ctx, reg.Name, p.resolved(p.configFor(reg)))
	if err != nil {
		p.log.Error("a registered source failed to open; the previous one, if any, keeps serving", "source", reg.Name, "error", err)
		p.failed(reg, err)
		return
	}
	if _, ok := p.Install(reg.Name, src, reg); ok {
		p.log.Info("source registration applied", "source", reg.Name, "version", reg.Version)
	}
}

// OriginDemo marks the embedded demo's registration: never in the store.
const OriginDemo = "demo"

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
func (p *Plane) configured(reg registry.Source) bool {
	_, ok := p.sources[reg.Name]
	return ok && reg.Origin == registry.OriginConfig
}
