package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"github.com/odatagw/odatagw/internal/clientip"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/activity"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/sources"
)

// Config configures the HTTP side of the gateway.
type Config struct {
	// PublicURL is the URL clients reach the gateway at (scheme and host,
	// and a path prefix if a proxy adds one), used in @odata.context and
	// nextLinks. Empty: taken from each request.
	PublicURL string
	// SkipTokenSecret signs skiptokens; replicas must share it. Empty: a
	// random secret, so nextLinks do not survive a restart.
	SkipTokenSecret []byte
	// ResponseBudget ends a page early, with a nextLink, once its body
	// passes this many bytes; Salesforce refuses responses over 8 MB.
	ResponseBudget int
	// MaxBodyBytes bounds request bodies, compressed or not (default 8 MB).
	MaxBodyBytes int
	// NoShapes turns the shape table off (odata/shapes).
	NoShapes bool
	// CacheHeader sends X-Cache: hit, miss or stale on answers the query
	// cache took part in.
	CacheHeader bool
	// Checks are dependencies /readyz reports without failing: the gateway
	// serves without them, less well (Redis, for one).
	Checks map[string]func() error
	// Limits bound what one request may ask (zero: the defaults).
	Limits *odata.Limits
	// RateLimit is requests per second per client (0: no limit).
	RateLimit float64
	// Callers decides who each caller is (behind trusted proxies), for
	// the rate limit, the throttles and the logs; nil: the connection.
	Callers *clientip.Resolver
	// QueueTimeout is how long a request waits for a database connection
	// before it answers 503 (default 30 s).
	QueueTimeout time.Duration
	Logger       *slog.Logger
	// Audit receives one record per write and per refused credential
	// (default: one writing to Logger); Traffic the figures of every
	// answered request (default: one of the server's own).
	Audit   *activity.Audit
	Traffic *activity.Traffic
}

// DefaultResponseBudget keeps pages under Salesforce's 8 MB cap with room
// for the last row.
const DefaultResponseBudget = 7 << 20

// Server routes requests to the registered sources.
type Server struct {
	cfg    Config
	log    *slog.Logger
	signer *plan.Signer
	advice adviceCache // index advice per model, for 504s
	engine *gin.Engine

	limits   odata.Limits
	limiter  *activity.RateLimiter
	throttle *auth.Throttle
	csrfKey  []byte
	audit    *activity.Audit
	metrics  *Metrics
	traffic  *activity.Traffic // the last hour, for the admin page's charts
	draining atomic.Bool       // readiness is false: the gateway is stopping

	mu      sync.RWMutex
	sources map[string]*entry
	// unavailable are sources known but not open, with what their callers
	// read in the 503 (an agent not connected)
	unavailable map[string]string
	// shapes are each source's shape table (odata/shapes)
	shapes map[string]*shapes.Recorder
	// services serve several sources' sets under one root (service.go)
	services map[string]*service
	// hidden are sources served only through services: their own root
	// answers 404 (expose: false)
	hidden map[string]bool
}

// entry is a registered source with its query slots and the requests
// running on it, so that a replaced or removed source is closed only when
// they have finished.
type entry struct {
	src      sources.Source
	guard    *auth.Guard
	answers  AnswerCache // nil: nothing is kept
	slots    *slots
	inflight sync.WaitGroup
	// standbys: the source reads from standbys, and each request's
	// shape says where its statements ran
	standbys bool
}

// close closes the source and what serves it.
func (e *entry) close() {
	e.src.Close()
	if e.guard != nil {
		e.guard.Close()
	}
	if e.answers != nil {
		e.answers.Close()
	}
}

// withDefaults fills in what the configuration leaves at zero, in one
// place.
func (cfg Config) withDefaults() Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Audit == nil {
		cfg.Audit = activity.NewAudit(cfg.Logger)
	}
	if cfg.Traffic == nil {
		cfg.Traffic = activity.NewTraffic()
	}
	if cfg.ResponseBudget <= 0 {
		cfg.ResponseBudget = DefaultResponseBudget
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.QueueTimeout <= 0 {
		cfg.QueueTimeout = QueueTimeout
	}
	if cfg.Limits == nil {
		lim := odata.DefaultLimits()
		cfg.Limits = &lim
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return cfg
}

// New returns a server with no sources.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	secret := cfg.SkipTokenSecret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
	}
	csrfKey := sha256.Sum256(append([]byte("odatagw csrf\x00"), secret...))
	s := &Server{cfg: cfg, log: cfg.Logger, signer: plan.NewSigner(secret), sources: map[string]*entry{},
		limits: *cfg.Limits, throttle: auth.NewThrottle(), csrfKey: csrfKey[:], audit: cfg.Audit, traffic: cfg.Traffic}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = false
	e.Use(s.recoverer, s.guardedRequest, s.accessLog)
	if cfg.RateLimit > 0 {
		s.limiter = activity.NewRateLimiter(cfg.RateLimit)
		e.Use(s.rateLimit)
	}
	e.Any("/odata/:source", s.serveOData)
	e.Any("/odata/:source/*path", s.serveOData)
	// MERGE is the OData 2.0 update verb some clients still send
	e.Handle("MERGE", "/odata/:source", s.serveOData)
	e.Handle("MERGE", "/odata/:source/*path", s.serveOData)
	// the probes on the public port name nothing: which sources exist, and
	// the figures, are for the operations listener (OpsHandler)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyzPublic)
	e.GET("/", s.index)
	e.NoRoute(func(c *gin.Context) {
		writeError(c.Writer, c.Request, s.log, notFoundRoute(c.Request.URL.Path))
	})
	s.engine = e
	s.metrics = newMetrics(s)
	return s
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

// DrainTimeout bounds how long a replaced or removed source waits for its
// requests before it is closed anyway: past the statement timeout and
// Salesforce's own 120 s, nothing useful is still running.
const DrainTimeout = 150 * time.Second

// AddSource registers a source under name, with the guard that decides
// who may call it and its answer cache (nil: none). A source it replaces
// keeps serving the requests that started on it and is closed when they
// end; the channel is closed then.
func (s *Server) AddSource(name string, src sources.Source, guard *auth.Guard, answers AnswerCache) <-chan struct{} {
	s.mu.Lock()
	old := s.sources[name]
	e := &entry{src: src, guard: guard, answers: answers, slots: newSlots(src, s.cfg.QueueTimeout)}
	if sb, ok := sources.As[sources.Standbyed](src); ok {
		e.standbys = len(sb.Standbys().Standbys) > 0
	}
	s.sources[name] = e
	s.mu.Unlock()
	if old == nil || old.src == src {
		done := make(chan struct{})
		close(done)
		return done
	}
	return s.drain(name, old)
}

// RemoveSource stops routing requests to a source, lets those running
// finish and closes it; the channel is closed then. ok is false when no
// source has that name.
func (s *Server) RemoveSource(name string) (drained <-chan struct{}, ok bool) {
	s.mu.Lock()
	old, ok := s.sources[name]
	delete(s.sources, name)
	delete(s.shapes, name)
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	return s.drain(name, old), true
}

func (s *Server) drain(name string, e *entry) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		finished := make(chan struct{})
		go func() { e.inflight.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(DrainTimeout):
			s.log.Warn("closing a replaced source while requests still run on it", "source", name)
		}
		e.close()
	}()
	return done
}

// acquire returns the source registered under name and counts the request
// as running on it; the caller must call release.
func (s *Server) acquire(name string) (*entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.sources[name]
	if ok {
		// under the read lock: a source is removed under the write lock,
		// so no request joins it once its drain has begun
		e.inflight.Add(1)
	}
	return e, ok
}

func (e *entry) release() { e.inflight.Done() }

// root is what a service root's name names, in one look: a service, or a
// source served at its own root, counted as running on it as acquire
// counts it (the caller releases it); neither for a name unknown or a
// source served only through its services.
func (s *Server) root(name string) (*service, *entry) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if svc, ok := s.services[name]; ok {
		return svc, nil
	}
	e, ok := s.sources[name]
	if !ok || s.hidden[name] {
		return nil, nil
	}
	e.inflight.Add(1)
	return nil, e
}

// SetUnavailable makes requests to a source that is not served answer 503
// with msg, instead of 404: it exists, and waits for something (its
// agent) to come back.
func (s *Server) SetUnavailable(name, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unavailable == nil {
		s.unavailable = map[string]string{}
	}
	s.unavailable[name] = msg
}

// ClearUnavailable undoes SetUnavailable.
func (s *Server) ClearUnavailable(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.unavailable, name)
}

// Hide serves a source only through the services it is a member of, or
// at its own root again (hidden false).
func (s *Server) Hide(name string, hidden bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hidden == nil {
		s.hidden = map[string]bool{}
	}
	if hidden {
		s.hidden[name] = true
	} else {
		delete(s.hidden, name)
	}
}

// Hidden says whether a source is served only through its services.
func (s *Server) Hidden(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hidden[name]
}

func (s *Server) unavailableMessage(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	msg, ok := s.unavailable[name]
	return msg, ok
}

// RegisterMetrics adds a collector to the operations listener's /metrics.
func (s *Server) RegisterMetrics(c prometheus.Collector) error { return s.metrics.reg.Register(c) }

// CacheFigures are the answer cache figures of a source, ok false where
// it keeps nothing.
func (s *Server) CacheFigures(name string) (cache.Figures, bool) {
	e, ok := s.entry(name)
	if !ok || e.answers == nil {
		return cache.Figures{}, false
	}
	return e.answers.Figures(), true
}

// Source returns the source registered under name.
func (s *Server) Source(name string) (sources.Source, bool) {
	e, ok := s.entry(name)
	if !ok {
		return nil, false
	}
	return e.src, true
}

func (s *Server) entry(name string) (*entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.sources[name]
	return e, ok
}

// SourceNames lists the registered sources, sorted.
func (s *Server) SourceNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.sources))
	for n := range s.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close closes every source.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, e := range s.sources {
		e.close()
		delete(s.sources, name)
	}
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyzPublic is readiness without names: 200 {"status":"ready"}, or 503
// while draining or while a source is unreachable.
func (s *Server) readyzPublic(c *gin.Context) {
	status, _ := s.readiness(c.Request.Context())
	word := "ready"
	if status != http.StatusOK {
		word = "not ready"
	}
	c.JSON(status, gin.H{"status": word})
}

// Draining makes readiness false from now on: the gateway is stopping,
// and the load balancer should send it nothing new.
func (s *Server) Draining() { s.draining.Store(true) }

// readiness pings every source; it is 503 while any is unreachable, and
// once the gateway drains.
func (s *Server) readiness(ctx context.Context) (int, gin.H) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	status := http.StatusOK
	report := gin.H{}
	for _, name := range s.SourceNames() {
		src, _ := s.Source(name)
		if err := src.Ping(ctx); err != nil {
			status = http.StatusServiceUnavailable
			report[name] = "unreachable"
			s.log.Warn("source unreachable", "source", name, "error", err)
		} else {
			report[name] = "ok"
		}
	}
	s.mu.RLock()
	for name, msg := range s.unavailable {
		if _, served := report[name]; !served {
			status, report[name] = http.StatusServiceUnavailable, msg
		}
	}
	s.mu.RUnlock()
	body := gin.H{"sources": report}
	if s.draining.Load() {
		status, body["draining"] = http.StatusServiceUnavailable, true
	}
	if len(s.cfg.Checks) > 0 {
		deps := gin.H{}
		for name, check := range s.cfg.Checks {
			if err := check(); err != nil {
				deps[name] = "degraded: " + err.Error()
			} else {
				deps[name] = "ok"
			}
		}
		body["dependencies"] = deps
	}
	return status, body
}

// OpsHandler serves what the operations listener offers: /metrics in
// Prometheus' formats, /readyz naming every source and dependency, and
// /healthz.
func (s *Server) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		status, body := s.readiness(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(body)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	return mux
}

// index tells a person who opens the gateway's address where services
// are, without naming any: like the public /readyz, the public port does
// not say which sources exist (the admin page and the log do).
func (s *Server) index(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"service": "odatagw",
		"message": "OData services are at " + s.baseURL(c.Request) + "/odata/{source}/; the gateway's log and admin page list them"})
}

// baseURL is the absolute URL of the gateway root, without trailing slash.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic while serving a request", "panic", v, "path", c.Request.URL.Path)
			if !c.Writer.Written() {
				writeError(c.Writer, c.Request, s.log, internalPanic(v))
			}
			c.Abort()
		}
	}()
	c.Next()
}

func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	if !s.log.Enabled(c.Request.Context(), slog.LevelDebug) {
		return // building the record's attributes costs allocations even when it is dropped
	}
	s.log.Debug("request", "client", s.cfg.Callers.Of(c.Request), "method", c.Request.Method, "path", c.Request.URL.Path,
		"query", c.Request.URL.RawQuery, "status", c.Writer.Status(), "bytes", c.Writer.Size(),
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
}
