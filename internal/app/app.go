// Package app wires a gateway from settings: it opens the data sources (or
// the embedded demo when none is given), builds the HTTP server and runs it
// until its context ends. main stays small, and tests start whole gateways
// through the same code.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/odatagw/odatagw/internal/lineguard"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/odatagw/odatagw/internal/clientip"
	"github.com/odatagw/odatagw/internal/control"
	"github.com/odatagw/odatagw/internal/replicas"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/memlimit"
	"github.com/odatagw/odatagw/internal/tunnel"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/activity"
	"github.com/odatagw/odatagw/odata/server"
	"github.com/odatagw/odatagw/sources"
	_ "github.com/odatagw/odatagw/sources/all"
	"github.com/odatagw/odatagw/sources/demo"
)

// DefaultListen is where the gateway listens unless told otherwise.
const DefaultListen = "127.0.0.1:8080"

// Settings is everything a gateway needs, merged from flags, environment
// and configuration file.
type Settings struct {
	// Version names the build (its version and commit), for the log and
	// the admin page.
	Version         string
	Listen          string
	PublicURL       string
	SkipTokenSecret string
	Defaults        config.File // page size and statement timeout for every source
	Sources         map[string]config.Source
	Logger          *slog.Logger

	// State is where registrations are kept: an SQLite file path or a
	// postgres:// URL shared by replicas. Empty: no store; sources come
	// from Sources only and the admin API cannot change them.
	State string
	// SecretKey seals DSN passwords in the state store.
	SecretKey string
	// StatePoll is how often to look for changes other replicas made
	// (default 2 s).
	StatePoll time.Duration
	// Bound are the listeners, bound already (Bind); nil: Serve binds them.
	Bound *Bound
	// AdminListen is the admin API and page's address; empty: none.
	AdminListen string
	// AdminToken is the admin credential; required with AdminListen.
	AdminToken string
	// AuditLog is a file the audit records are appended to as JSON lines;
	// empty: they go to Logger.
	AuditLog string
	// MetricsListen, when set, serves /metrics, /readyz (with every
	// source's state) and /healthz on a listener of its own; the admin
	// listener serves them too.
	MetricsListen string
	// MemoryLimit is the memory the gateway may use, in bytes (0: from
	// GOMEMLIMIT or the container's cgroup, if either says). The Go
	// runtime's soft limit and, unless Defaults.Cache.MaxBytes is set, the
	// query cache's bound follow from it.
	MemoryLimit int64
	// DrainDelay is how long, after a stop is asked (SIGTERM), readiness
	// reports false while requests are still served, so that load
	// balancers stop sending new ones first (default 0; a few seconds
	// behind Kubernetes' Services).
	DrainDelay time.Duration
	// DrainTimeout bounds how long requests in flight may still run once
	// the listener is closed (default 30 s).
	DrainTimeout time.Duration
}

// DefaultDrainTimeout is how long requests in flight may still run once a
// stopping gateway's listener is closed.
const DefaultDrainTimeout = 30 * time.Second

// withDefaults fills in what the settings leave at zero: the one place
// the gateway's own defaults are decided (the sources' are in
// config.Source.Resolved, the listeners' timeouts in httpserver.go).
func (s Settings) withDefaults() Settings {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.StatePoll <= 0 {
		s.StatePoll = control.DefaultStatePoll
	}
	if s.DrainTimeout <= 0 {
		s.DrainTimeout = DefaultDrainTimeout
	}
	return s
}

// Gateway is a running set of sources behind one HTTP server.
type Gateway struct {
	Server     *server.Server
	settings   Settings
	bus        *replicas.RedisBus
	answers    *cache.Store // every source's cached answers, within one bound
	callers    *clientip.Resolver
	memory     memlimit.Budget
	store      *registry.Store
	plane      *control.Plane // keeps the registrations in service; the admin API's manager
	authShared *auth.Shared   // users and checked credentials, for every source
	traffic    *activity.Traffic
	audit      *activity.Audit
	hub        *tunnel.Hub // the agents' tunnels, for sources with via
	auditFile  *os.File
	watchCtx   context.Context    // lives as long as the gateway
	stop       context.CancelFunc // ends watchCtx: the watchers and the store poll

	addrMu      sync.Mutex
	baseURL     string // where the OData listener is reached, once serving
	adminAddr   string
	metricsAddr string
}

// Open opens every source, or the demo when there is none. A source that
// fails to open stops the start: an admin should see a broken DSN at once.
func Open(ctx context.Context, s Settings) (*Gateway, error) {
	s = s.withDefaults()
	memory, err := memlimit.Decide(memlimit.FromEnvironment(s.MemoryLimit, s.Defaults.Cache.MaxBytes))
	if err != nil {
		return nil, err
	}
	memory.Apply()
	if s.Version != "" {
		s.Logger.Info("starting " + s.Version)
	}
	s.Logger.Info("memory: " + memory.String())
	var bus *replicas.RedisBus
	checks := map[string]func() error{}
	if s.Defaults.Redis != "" {
		var err error
		if bus, err = replicas.NewRedisBus(s.Defaults.Redis, s.Defaults.RedisPrefix, s.Logger); err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		checks["redis"] = bus.Err
	}
	auditLog := s.Logger
	var auditFile *os.File
	if s.AuditLog != "" {
		f, err := os.OpenFile(s.AuditLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--audit-log: %w", err)
		}
		auditFile = f
		auditLog = slog.New(slog.NewJSONHandler(f, nil))
	}
	// what clients did, recorded by the data plane and read by the admin API
	audit, traffic := activity.NewAudit(auditLog), activity.NewTraffic()
	// the bounds the admin API holds registrations to hold the file and
	// the flags too
	if err := (config.Source{PageSize: s.Defaults.PageSize}).Check(); err != nil {
		return nil, fmt.Errorf("the configuration's %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Sources)) {
		if err := s.Sources[name].Check(); err != nil {
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
	}
	// one way to name callers, for every listener
	callers, err := clientip.New(s.Defaults.Limits.ClientIPHeader, s.Defaults.Limits.TrustedProxies)
	if err != nil {
		return nil, err
	}
	cacheHeader := s.Defaults.Cache.Header == nil || *s.Defaults.Cache.Header
	lim := limitsFrom(s.Defaults.Limits)
	srv := server.New(server.Config{PublicURL: s.PublicURL, SkipTokenSecret: []byte(s.SkipTokenSecret),
		MaxBodyBytes: s.Defaults.MaxBodyBytes, CacheHeader: cacheHeader, NoShapes: s.Defaults.RecordShapes != nil && !*s.Defaults.RecordShapes, Checks: checks, Logger: s.Logger,
		Limits: &lim, RateLimit: s.Defaults.Limits.RateLimit, Callers: callers,
		QueueTimeout: s.Defaults.Limits.QueueTimeout, Audit: audit, Traffic: traffic})
	watchCtx, stop := context.WithCancel(context.Background())
	g := &Gateway{Server: srv, settings: s, callers: callers, bus: bus, stop: stop, answers: cache.NewStore(memory.Cache), memory: memory, watchCtx: watchCtx, auditFile: auditFile,
		authShared: auth.NewShared(nil, s.Logger)}
	g.hub = g.newHub()
	if s.State != "" {
		store, err := registry.Open(ctx, s.State, s.SecretKey)
		if err != nil {
			g.Close()
			return nil, err
		}
		g.store = store
		g.authShared.Users = accounts{store}
	}
	g.traffic, g.audit = traffic, audit
	g.plane = control.New(watchCtx, control.Config{Data: g, Bus: g.busIface(), Store: g.store,
		Defaults: s.Defaults, Sources: s.Sources, Services: s.Defaults.Services, PublicURL: s.PublicURL, Logger: s.Logger})
	if err := srv.RegisterMetrics(control.AgentCollector(g.plane)); err != nil {
		g.Close()
		return nil, err
	}
	if err := srv.RegisterMetrics(control.CalloutCollector(g.plane)); err != nil {
		g.Close()
		return nil, err
	}
	if bus != nil {
		bus.Subscribe(func(m replicas.Message) {
			if m.Kind == replicas.KindReload {
				g.reload(watchCtx, m.Source, false)
			}
		})
	}
	if err := g.plane.Start(ctx); err != nil {
		g.Close()
		return nil, err
	}
	if g.store != nil {
		go g.plane.Run(watchCtx, s.StatePoll)
	}
	return g, nil
}

// OpenDemo makes the embedded demo database, wrapped as every source is.
func (g *Gateway) OpenDemo(ctx context.Context, cfg config.Source) (control.Opened, error) {
	start := time.Now()
	src, err := demo.Open(ctx, control.SourceOptions("demo", cfg, g.settings.Logger, nil))
	if err != nil {
		return control.Opened{}, fmt.Errorf("creating the demo database: %w", err)
	}
	g.settings.Logger.Info("demo database created", "duration_ms", time.Since(start).Milliseconds())
	guard, err := auth.NewGuard("demo", cfg.Auth, g.authShared)
	if err != nil {
		src.Close()
		return control.Opened{}, err
	}
	return g.withCache(src, "demo", cfg, guard), nil
}

// OpenSource connects to and introspects a source, wrapped for tracing
// and with the cache in front, and prepares its access policy. cfg is
// resolved (control.Plane decides the defaults).
func (g *Gateway) OpenSource(ctx context.Context, name string, cfg config.Source) (control.Opened, error) {
	guard, err := auth.NewGuard(name, cfg.Auth, g.authShared)
	if err != nil {
		return control.Opened{}, &registry.FieldError{Field: "auth", Message: err.Error()}
	}
	opts := control.SourceOptions(name, cfg, g.settings.Logger, g.Dial(cfg))
	if g.bus != nil {
		// the newest write's position, shared with the other replicas
		// before a read goes to a standby
		opts.Positions = g.bus
	}
	ctx, cancel := context.WithTimeout(ctx, control.OpenTimeout)
	defer cancel()
	src, err := sources.Open(ctx, opts)
	if err != nil {
		guard.Close()
		return control.Opened{}, err
	}
	if cfg.Auth.PerUser {
		if a, ok := sources.As[sources.CallerAware](src); !ok || !a.ActsAsCaller() {
			src.Close()
			guard.Close()
			return control.Opened{}, &registry.FieldError{Field: "auth", Message: "per_user needs a PostgreSQL source (roles and row-level security)"}
		}
	}
	if !cfg.Auth.Any() {
		g.settings.Logger.Warn("the source accepts no credentials, so every request gets 401: configure its auth (basic, token_header, bearer, or anonymous behind a restricting proxy); see docs/security.md", "source", name)
	}
	return g.withCache(src, name, cfg, guard), nil
}

// Watch listens for changes made behind the gateway and for reload
// requests, where the source can hear them (PostgreSQL's NOTIFY).
func (g *Gateway) Watch(ctx context.Context, name string, o control.Opened, listening *atomic.Bool) {
	w, ok := sources.As[sources.ChangeWatcher](o.Src)
	if !ok {
		listening.Store(true) // nothing to listen to: nothing is missed
		return
	}
	on := sources.WatchEvents{Reload: func() { g.reload(ctx, name, false) }, Listening: listening.Store}
	// the triggers of `odatagw track` name each changed table: its cached
	// answers go at once, whoever changed it
	if o.Answers != nil {
		on.Changed = o.Answers.FlushLocal
	}
	go w.Watch(ctx, on)
}

// Listening reports whether what is said about a source elsewhere reaches
// this gateway now: its database's notifications (schema reloads, changes
// made behind the gateway) and, with Redis, the other replicas' messages.
// Right after a start or a change it is false for a moment.
func (g *Gateway) Listening(name string) bool { return g.plane.Listening(name) }

// HearsReplicas reports whether the other replicas' messages (registry
// changes, reloads, invalidations) reach this gateway now: always without
// Redis, while subscribed with it.
func (g *Gateway) HearsReplicas() bool { return g.bus == nil || g.bus.Subscribed() }

// Reload reads a source's schema again, swaps in the new model and tells
// the other replicas to do the same; the admin API calls it.
func (g *Gateway) Reload(ctx context.Context, name string) (sources.Changes, error) {
	return g.reload(ctx, name, true)
}

// reload reads a source's schema again and swaps in the new model, telling
// the other replicas to do the same when propagate is set. A reload that
// removes or renames what Salesforce may have synced is logged as a
// warning: its next sync would create new objects and fields.
func (g *Gateway) reload(ctx context.Context, name string, propagate bool) (sources.Changes, error) {
	src, ok := g.Server.Source(name)
	if !ok {
		return sources.Changes{}, registry.ErrNotFound
	}
	r, ok := sources.As[sources.Reloader](src)
	if !ok {
		return sources.Changes{}, fmt.Errorf("source %s cannot be reloaded", name)
	}
	log := g.settings.Logger.With("source", name)
	changes, err := r.Reload(ctx)
	if err != nil {
		log.Error("reloading the schema failed; the old model keeps serving", "error", err)
		return changes, err
	}
	if len(changes.RemovedSets)+len(changes.RemovedProperties) > 0 {
		log.Warn("names Salesforce may have synced are gone; its next sync creates new objects or fields for their replacements",
			"removed_sets", changes.RemovedSets, "removed_properties", changes.RemovedProperties,
			"added_sets", changes.AddedSets, "added_properties", changes.AddedProperties)
	} else {
		log.Info("schema reloaded", "added_sets", changes.AddedSets, "added_properties", changes.AddedProperties)
	}
	if propagate && g.bus != nil {
		g.bus.Publish(replicas.Message{Kind: replicas.KindReload, Source: name})
	}
	return changes, nil
}

// ForgetCredentials drops the credentials checked so far, so that a
// changed or removed user is checked again at once.
func (g *Gateway) ForgetCredentials() { g.authShared.Forget() }

// BaseURL is where the OData listener is reached, once serving.
func (g *Gateway) BaseURL() string {
	g.addrMu.Lock()
	defer g.addrMu.Unlock()
	return g.baseURL
}

func (g *Gateway) busIface() replicas.Bus {
	if g.bus == nil {
		return nil
	}
	return g.bus
}

// ReloadAll reloads every source, as SIGHUP asks.
func (g *Gateway) ReloadAll(ctx context.Context) {
	for _, name := range g.Server.SourceNames() {
		g.reload(ctx, name, true)
	}
}

// limitsFrom fills the limits the configuration leaves at zero with the defaults.
func limitsFrom(c config.Limits) odata.Limits {
	l := odata.DefaultLimits()
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&l.MaxURLLength, c.MaxURLLength)
	set(&l.MaxFilterDepth, c.MaxFilterDepth)
	set(&l.MaxFilterNodes, c.MaxFilterNodes)
	set(&l.MaxSelectItems, c.MaxSelectItems)
	set(&l.MaxOrderByItems, c.MaxOrderByItems)
	set(&l.MaxInItems, c.MaxInItems)
	set(&l.MaxSearchTerms, c.MaxSearchTerms)
	if c.MaxTop > 0 {
		l.MaxTop = c.MaxTop
	}
	return l
}

// withCache puts the database's trace spans around a source, and makes
// its answer cache unless its TTL is 0 everywhere. sc is resolved
// (config.Source.Resolved).
func (g *Gateway) withCache(src sources.Source, name string, sc config.Source, guard *auth.Guard) control.Opened {
	src = sources.Traced(src)
	o := control.Opened{Src: src, Guard: guard}
	ttl := sc.CacheTTL.D()
	setTTL := map[string]time.Duration{}
	anySet := false
	for set, t := range sc.SetCacheTTL {
		setTTL[set] = t.D()
		anySet = anySet || t > 0
	}
	if ttl <= 0 && !anySet {
		return o
	}
	if ttl <= 0 {
		ttl = -1 // off, except for the sets that say otherwise
	}
	o.Answers = cache.New(cache.Options{Name: name, Version: func() string { return src.Metadata().Version() },
		Dependents: func(set string) []string { return src.Metadata().Dependents(set) }, Store: g.answers, TTL: ttl,
		SetTTL: setTTL, StaleWhileRevalidate: g.settings.Defaults.Cache.StaleWhileRevalidate, Bus: g.busIface(), Logger: g.settings.Logger})
	return o
}

// Close closes every source, the state store and the Redis connection.
func (g *Gateway) Close() {
	g.stop()
	g.Server.Close()
	if g.bus != nil {
		g.bus.Close()
	}
	g.answers.Close()
	if g.store != nil {
		g.store.Close()
	}
	if g.auditFile != nil {
		g.auditFile.Close()
	}
}

// Serve listens on the settings' address until ctx ends, then shuts down
// gracefully. ready, when not nil, receives the bound address.
func (g *Gateway) Serve(ctx context.Context, ready chan<- string) error {
	listen := g.settings.Listen
	if listen == "" {
		listen = DefaultListen
	}
	ln, err := g.listener(g.bound("public"), listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if t := g.settings.Defaults.TLS; t.Cert != "" || t.Key != "" {
		cfg, err := tlsConfig(t.Cert, t.Key, t.ClientCA, g.settings.Logger)
		if err != nil {
			ln.Close()
			return err
		}
		ln, scheme = tls.NewListener(ln, cfg), "https"
	}
	// requests with a broken percent-encoding get an OData error too
	// and requests too large for it an OData 414 or 431: the request line
	// may be a little longer than the parser's URL limit, which answers
	// those between; 64 KiB of headers is far above what clients send
	lim := g.settings.Defaults.Limits
	glim := lineguard.Limits{Line: limitsFrom(lim).MaxURLLength + 1<<10, Headers: 64 << 10}
	ln = lineguard.Listen(ln, glim)
	hs := httpServer(g.publicHandler(), publicTimeouts(lim, glim.Total()))
	base := g.settings.PublicURL
	if base == "" {
		base = scheme + "://" + ln.Addr().String()
	}
	g.addrMu.Lock()
	g.baseURL = scheme + "://" + ln.Addr().String()
	g.addrMu.Unlock()
	var adminSrv, metricsSrv *http.Server
	if g.settings.AdminListen != "" {
		if adminSrv, err = g.serveAdmin(); err != nil {
			ln.Close()
			return err
		}
	}
	if g.settings.MetricsListen != "" {
		if metricsSrv, err = g.serveMetrics(); err != nil {
			ln.Close()
			if adminSrv != nil {
				adminSrv.Close()
			}
			return err
		}
	}
	for _, n := range g.Server.SourceNames() {
		if g.Server.Hidden(n) {
			g.settings.Logger.Info("serving through its services only (expose: false)", "source", n)
			continue
		}
		g.settings.Logger.Info("serving", "source", n, "service_root", base+"/odata/"+n+"/")
	}
	for _, n := range g.Server.ServiceNames() {
		if c, err := g.Server.ServiceModel(n); err == nil {
			g.settings.Logger.Info("serving", "service", n, "sources", c.Members(), "service_root", base+"/odata/"+n+"/")
		}
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				g.settings.Logger.Info("SIGHUP: reloading every source's schema")
				g.ReloadAll(ctx)
			}
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	g.drain(hs)
	for _, srv := range []*http.Server{adminSrv, metricsSrv} {
		if srv != nil {
			srv.Close()
		}
	}
	return nil
}

// drain stops the OData listener without failing a request it accepted:
// readiness turns false first and stays so for DrainDelay while requests
// are still served (load balancers take that long to stop sending new
// ones), then the listener closes and the requests in flight have
// DrainTimeout to finish.
func (g *Gateway) drain(hs *http.Server) {
	g.Server.Draining()
	log := g.settings.Logger
	if d := g.settings.DrainDelay; d > 0 {
		log.Info("stopping: readiness is false; still serving while load balancers catch up", "drain_delay", d)
		time.Sleep(d)
	}
	timeout := g.settings.DrainTimeout
	shutdown, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	if err := hs.Shutdown(shutdown); errors.Is(err, context.DeadlineExceeded) {
		log.Warn("stopping: requests still running past the drain timeout were cut", "drain_timeout", timeout)
		hs.Close()
		return
	}
	log.Info("stopped: every request in flight finished", "took", time.Since(start).Round(time.Millisecond))
}

// accounts checks credentials against the user store, for auth, which
// knows accounts and not the store.
type accounts struct{ store *registry.Store }

func (a accounts) CheckPassword(ctx context.Context, name, password string) (auth.Account, bool, error) {
	u, ok, err := a.store.CheckPassword(ctx, name, password)
	return auth.Account{Name: u.Name, Role: u.Role}, ok, err
}

func (a accounts) CheckToken(ctx context.Context, token string) (auth.Account, bool, error) {
	u, ok, err := a.store.CheckToken(ctx, token)
	return auth.Account{Name: u.Name, Role: u.Role}, ok, err
}
