// Package admin is the gateway's admin listener: a JSON API to register,
// change, test, reload and remove data sources, and the embedded admin
// page that uses it. Every request needs the admin token.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/internal/clientip"

	"github.com/gin-gonic/gin"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/activity"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/sources"
)

// Status is one source as the API lists it: its registration (never its
// password) and how it is doing.
type Status struct {
	registry.Source
	State string `json:"state"` // serving, failed
	// ServingVersion is the version of the registration this gateway
	// serves; it trails Version while a change is applied or after one
	// failed here.
	ServingVersion int64 `json:"serving_version,omitempty"`
	Connected      bool  `json:"connected"`
	// Listening: the database's notifications (and, with Redis, the other
	// replicas' messages) reach this gateway now.
	Listening   bool       `json:"listening"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	EntitySets  []string   `json:"entity_sets"`
	ServiceURL  string     `json:"service_url"`
	Cache       *Cache     `json:"cache,omitempty"`
	// Standbys is where the reads of a source with replicas go now.
	Standbys *sources.StandbyReport `json:"standbys,omitempty"`
}

// Cache is a source's query-cache figures.
type Cache struct {
	Bytes     int64 `json:"bytes"`
	Hits      int64 `json:"hits"`
	Misses    int64 `json:"misses"`
	Stale     int64 `json:"stale"`
	Evictions int64 `json:"evictions"`
}

// Manager is what the API drives: the running gateway.
type Manager interface {
	List(ctx context.Context) []Status
	Get(ctx context.Context, name string) (Status, error)
	Test(ctx context.Context, src registry.Source) (salesforce.Report, error)
	Create(ctx context.Context, src registry.Source) (registry.Source, error)
	Update(ctx context.Context, src registry.Source, ifVersion int64) (registry.Source, error)
	Delete(ctx context.Context, name string, ifVersion int64) error
	Reload(ctx context.Context, name string) (sources.Changes, error)
	Report(ctx context.Context, name string) (salesforce.Report, error)
	// Track returns the SQL that installs change tracking on a served
	// source's tables (or removes it, with drop), and runs it with apply.
	Track(ctx context.Context, name string, req TrackRequest) (string, error)

	Users(ctx context.Context) ([]registry.User, error)
	// AddUser and UpdateUser return a token user's new token, once.
	AddUser(ctx context.Context, u registry.User, password string) (registry.User, string, error)
	UpdateUser(ctx context.Context, name, role, password string, rotate bool) (registry.User, string, error)
	RemoveUser(ctx context.Context, name string) error
	// Agents lists the registered agents with their tunnels; AddAgent and
	// RotateAgent return the token, once; RemoveAgent cuts the tunnels.
	Agents(ctx context.Context) ([]AgentInfo, error)
	// Shapes, Shape, SampleShape and Callouts are a source's request
	// shapes and its callout budget.
	Shapes(ctx context.Context, name string) ([]shapes.Entry, error)
	Shape(ctx context.Context, name, id, explain string) (ShapeDetail, error)
	SampleShape(ctx context.Context, name, id string, on bool) error
	Callouts(ctx context.Context, name string) (CalloutReport, error)
	IndexAdvice(ctx context.Context, name string) ([]RankedAdvice, error)
	AddAgent(ctx context.Context, name string) (registry.Agent, string, error)
	RotateAgent(ctx context.Context, name string) (registry.Agent, string, error)
	RemoveAgent(ctx context.Context, name string) error

	// Traffic is the last hour of a source's traffic, by entity set.
	Traffic(ctx context.Context, name string) ([]activity.Series, error)
	// Audit lists the latest writes and refused credentials, newest first.
	Audit(ctx context.Context, source, user, event string, limit int) []activity.AuditRecord
	// SalesforcePackage is the Metadata API package that sets Salesforce
	// up for a source: data source, credentials, external objects with
	// their fields and lookups, a permission set; no secret in it.
	SalesforcePackage(ctx context.Context, name string, form salesforce.Form) (*salesforce.Bundle, error)
	// SalesforceDiff compares that package with a metadata directory
	// retrieved from the org, sent as a zip.
	SalesforceDiff(ctx context.Context, name string, retrieved []byte, form salesforce.Form) (salesforce.Diff, error)
	// Services lists the services over several sources; the package,
	// diff, shapes, callouts and traffic above take a service's name too.
	// CreateService, UpdateService and DeleteService register one through
	// the API: composed and served before it is saved.
	Services(ctx context.Context) []ServiceStatus
	CreateService(ctx context.Context, svc registry.Service) (ServiceStatus, error)
	UpdateService(ctx context.Context, svc registry.Service, ifVersion int64) (ServiceStatus, error)
	DeleteService(ctx context.Context, name string, ifVersion int64) error
}

// ServiceStatus is a service over several sources as the admin sees it:
// its root, its sources and where each of its sets comes from.
type ServiceStatus struct {
	Name       string            `json:"name"`
	ServiceURL string            `json:"service_url"`
	Sources    []ServiceMember   `json:"sources"`
	Sets       []ServiceSet      `json:"entity_sets"`
	Names      map[string]string `json:"names"`
	Relations  map[string]string `json:"relations"`
	Auth       auth.Policy       `json:"auth"`
	ReadOnly   bool              `json:"read_only"`
	// CalloutsPerHour is the org's hourly callout limit (0: the default).
	CalloutsPerHour int `json:"callouts_per_hour,omitempty"`
	// Version is the registration's (its ETag); Configured: the
	// configuration file declares it, and the API cannot change it.
	Version    int64 `json:"version"`
	Configured bool  `json:"configured"`
	// Error says why the service cannot be composed now (a source not
	// served); its last model keeps serving.
	Error string `json:"error,omitempty"`
}

// ServiceMember is one source of a service.
type ServiceMember struct {
	Name    string `json:"name"`
	Prefix  string `json:"prefix,omitempty"`
	Served  bool   `json:"served"`
	Exposed bool   `json:"exposed"` // also served at its own root
}

// ServiceSet is one of a service's sets: its name in the service, and
// the source and set it is.
type ServiceSet struct {
	Name      string `json:"name"`
	Source    string `json:"source"`
	SourceSet string `json:"source_set"`
}

// Config configures the admin listener.
type Config struct {
	Token   string // the admin credential, sent as "Authorization: Bearer TOKEN"
	Manager Manager
	Logger  *slog.Logger
	Version string // the build, shown on the page once signed in
	// Callers names a request's caller, as for the OData port (see
	// internal/clientip); nil: the connection's address.
	Callers func(*http.Request) string
}

// Handler serves the API under /api/ and the admin page at /.
func Handler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Callers == nil {
		cfg.Callers = (*clientip.Resolver)(nil).Of
	}
	a := &api{m: cfg.Manager, log: cfg.Logger, token: sha256.Sum256([]byte(cfg.Token)), throttle: auth.NewThrottle(), sessions: newSessions(), callers: cfg.Callers}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(gin.Recovery(), a.headers)
	e.GET("/", page)
	e.GET("/ui/*file", asset)
	e.GET("/login", a.login)
	api := e.Group("/api", a.authenticate)
	api.GET("/session", func(c *gin.Context) {
		// the page's session gives its CSRF token here; a token caller has none
		c.JSON(http.StatusOK, gin.H{"ok": true, "csrf": c.GetString("csrf"), "version": cfg.Version})
	})
	api.POST("/login-codes", a.handle(a.loginCode))
	api.POST("/logout", a.handle(a.logout))
	api.GET("/sources", a.handle(a.list))
	api.POST("/sources", a.handle(a.create))
	api.POST("/test", a.handle(a.test))
	api.GET("/sources/:name", a.handle(a.get))
	api.PUT("/sources/:name", a.handle(a.update))
	api.DELETE("/sources/:name", a.handle(a.remove))
	api.POST("/sources/:name/reload", a.handle(a.reload))
	api.GET("/sources/:name/report", a.handle(a.report))
	api.POST("/sources/:name/track", a.handle(a.track))
	api.GET("/sources/:name/traffic", a.handle(a.traffic))
	api.GET("/sources/:name/salesforce-metadata", a.handle(a.salesforcePackage))
	api.GET("/services", a.handle(a.services))
	api.POST("/services", a.handle(a.createService))
	api.GET("/services/:name", a.handle(a.getService))
	api.PUT("/services/:name", a.handle(a.updateService))
	api.DELETE("/services/:name", a.handle(a.deleteService))
	api.GET("/services/:name/salesforce-metadata", a.handle(a.salesforcePackage))
	api.POST("/services/:name/salesforce-diff", a.handle(a.salesforceDiff))
	api.GET("/services/:name/shapes", a.handle(a.shapes))
	api.GET("/services/:name/shapes/:shape", a.handle(a.shape))
	api.GET("/services/:name/callouts", a.handle(a.callouts))
	api.GET("/services/:name/traffic", a.handle(a.traffic))
	api.POST("/sources/:name/salesforce-diff", a.handle(a.salesforceDiff))
	api.GET("/audit", a.handle(a.audit))
	api.GET("/users", a.handle(a.users))
	api.POST("/users", a.handle(a.addUser))
	api.PUT("/users/:user", a.handle(a.updateUser))
	api.DELETE("/users/:user", a.handle(a.removeUser))
	api.GET("/sources/:name/shapes", a.handle(a.shapes))
	api.GET("/sources/:name/shapes/:shape", a.handle(a.shape))
	api.PUT("/sources/:name/shapes/:shape/sampling", a.handle(a.sampleShape))
	api.GET("/sources/:name/callouts", a.handle(a.callouts))
	api.GET("/sources/:name/index-advice", a.handle(a.indexAdvice))
	api.GET("/agents", a.handle(a.agents))
	api.POST("/agents", a.handle(a.addAgent))
	api.POST("/agents/:agent/rotate", a.handle(a.rotateAgent))
	api.DELETE("/agents/:agent", a.handle(a.removeAgent))
	e.NoRoute(func(c *gin.Context) {
		fail(c, errNotFound, "", "no such admin resource: "+c.Request.URL.Path)
	})
	return e
}

type api struct {
	m        Manager
	log      *slog.Logger
	token    [32]byte
	throttle *auth.Throttle
	sessions *sessions
	callers  func(*http.Request) string
}

// client is the request's caller. gin's own ClientIP trusts any peer's
// X-Forwarded-For, which would let a caller choose its own throttle.
func (a *api) client(c *gin.Context) string { return a.callers(c.Request) }

// headers keep the admin page from being framed or its answers cached.
func (a *api) headers(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	c.Next()
}

// authenticate checks the bearer token in constant time, or else the
// page's session cookie (see session.go). Repeated failures from one
// address wait longer and longer before their 401, so guessing is slow.
func (a *api) authenticate(c *gin.Context) {
	given, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok && a.cookieSession(c) {
		return
	}
	if !ok {
		// no credential at all (the page asking whether it is signed in):
		// nothing was guessed, so nothing is throttled or logged
		if _, err := c.Cookie(sessionCookie); err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="odatagw admin"`)
			fail(c, errUnauthorized, "", "sign in with the admin token, or a link from odatagw admin login")
			c.Abort()
			return
		}
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(given)))
	if ok && subtle.ConstantTimeCompare(sum[:], a.token[:]) == 1 {
		a.throttle.Succeeded(a.client(c))
		c.Next()
		return
	}
	delay := a.throttle.Failed(a.client(c))
	a.log.Warn("admin authentication failed", "client", a.client(c), "path", c.Request.URL.Path)
	select {
	case <-time.After(delay):
	case <-c.Request.Context().Done():
	}
	c.Header("WWW-Authenticate", `Bearer realm="odatagw admin"`)
	fail(c, errUnauthorized, "", "sign in with the admin token, or a link from odatagw admin login")
	c.Abort()
}

// handle adapts a handler that returns its error: the one place the
// admin API's errors are answered (failWith), as the OData handlers
// return theirs to one writer.
func (a *api) handle(h func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			a.failWith(c, err)
		}
	}
}

// failWith answers an error: a refusal as it says, the manager's errors
// with their statuses, anything else as a 500 whose cause is logged under
// an error id, never sent.
func (a *api) failWith(c *gin.Context, err error) {
	var fe *registry.FieldError
	var r *refusal
	switch {
	case errors.As(err, &r):
		fail(c, r.apiError, r.field, r.msg)
	case errors.As(err, &fe):
		fail(c, errInvalidSource, fe.Field, fe.Message)
	case errors.Is(err, sources.ErrNeedsSample):
		fail(c, errNeedsSample, "explain", "the plan needs the statement's values, which are kept only while the shape is sampled: turn on sampling, wait for the shape's next request, then ask again")
	case errors.Is(err, ErrNoStatement):
		fail(c, errInvalidValue, "explain", err.Error())
	case errors.Is(err, ErrNoShape):
		fail(c, errNotFound, "", "no shape "+strconv.Quote(c.Param("shape"))+" in this source's table (it may have been evicted)")
	case errors.Is(err, registry.ErrNotFound):
		fail(c, errNotFound, "", "no source named "+strconv.Quote(c.Param("name")))
	case errors.Is(err, registry.ErrNoUser):
		fail(c, errNotFound, "", "no user named "+strconv.Quote(c.Param("user")))
	case errors.Is(err, registry.ErrUserExists):
		fail(c, errExists, "name", "a user of that name exists")
	case errors.Is(err, registry.ErrExists):
		fail(c, errExists, "name", "a source of that name exists")
	case errors.Is(err, registry.ErrChanged):
		fail(c, errChanged, "", "the source was changed by someone else since you read it; reload it and try again")
	case errors.Is(err, registry.ErrFromConfig):
		fail(c, errFromConfig, "", err.Error())
	case errors.Is(err, registry.ErrNoAgent):
		fail(c, errNotFound, "", "no agent named "+c.Param("agent"))
	case errors.Is(err, registry.ErrAgentExists):
		fail(c, errExists, "name", "an agent of that name exists")
	case errors.Is(err, registry.ErrNoService):
		fail(c, errNotFound, "", "no service named "+strconv.Quote(c.Param("name")))
	case errors.Is(err, registry.ErrServiceExists):
		fail(c, errExists, "name", "a service or source of that name exists")
	case errors.Is(err, registry.ErrInUse):
		fail(c, errInUse, "", err.Error())
	case errors.Is(err, registry.ErrNoSecretKey):
		fail(c, errNoSecretKey, "password", err.Error())
	default:
		// the cause (a database's message, a path) is logged, never sent:
		// the answer carries the id of the log line
		id := odata.ErrorID()
		a.log.Error("admin request failed", "error_id", id, "method", c.Request.Method, "path", c.Request.URL.Path, "error", err)
		fail(c, errInternal, "", "the gateway could not do this; its log says why under error id "+id)
	}
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads If-Match: 0 when absent or "*".
func ifMatch(c *gin.Context) (int64, error) {
	v := strings.TrimSpace(c.GetHeader("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
	if err != nil {
		return 0, refuse(errBadRequest, "", "If-Match must be the ETag a GET returned")
	}
	return n, nil
}

func (a *api) list(c *gin.Context) error {
	c.JSON(http.StatusOK, gin.H{"sources": a.m.List(c.Request.Context())})
	return nil
}

func (a *api) get(c *gin.Context) error {
	st, err := a.m.Get(c.Request.Context(), c.Param("name"))
	if err != nil {
		return err
	}
	c.Header("ETag", etag(st.Version))
	c.JSON(http.StatusOK, st)
	return nil
}

// readSource decodes a registration, refusing unknown fields so that a
// typo is not silently ignored.
func readSource(c *gin.Context) (registry.Source, error) {
	var src registry.Source
	dec := jsonDecoder(c)
	if err := dec.Decode(&src); err != nil {
		return src, refuse(errBadRequest, jsonField(err), "the body is not a source: "+err.Error())
	}
	src.PasswordSet, src.Version, src.Origin, src.UpdatedAt = false, 0, "", time.Time{}
	return src, nil
}

func (a *api) create(c *gin.Context) error {
	src, err := readSource(c)
	if err != nil {
		return err
	}
	saved, err := a.m.Create(c.Request.Context(), src)
	if err != nil {
		return err
	}
	a.log.Info("source added", "source", saved.Name, "dsn", saved.DSN, "client", a.client(c))
	c.Header("ETag", etag(saved.Version))
	c.Header("Location", "/api/sources/"+saved.Name)
	c.JSON(http.StatusCreated, saved.Public())
	return nil
}

func (a *api) update(c *gin.Context) error {
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	src, err := readSource(c)
	if err != nil {
		return err
	}
	if src.Name != "" && src.Name != c.Param("name") {
		return refuse(errInvalidSource, "name", "a source cannot be renamed: add one under the new name and remove this one")
	}
	src.Name = c.Param("name")
	saved, err := a.m.Update(c.Request.Context(), src, version)
	if err != nil {
		return err
	}
	a.log.Info("source changed", "source", saved.Name, "dsn", saved.DSN, "client", a.client(c))
	c.Header("ETag", etag(saved.Version))
	c.JSON(http.StatusOK, saved.Public())
	return nil
}

func (a *api) remove(c *gin.Context) error {
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	if err := a.m.Delete(c.Request.Context(), c.Param("name"), version); err != nil {
		return err
	}
	a.log.Info("source removed", "source", c.Param("name"), "client", a.client(c))
	c.Status(http.StatusNoContent)
	return nil
}

func (a *api) test(c *gin.Context) error {
	src, err := readSource(c)
	if err != nil {
		return err
	}
	rep, err := a.m.Test(c.Request.Context(), src)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, rep)
	return nil
}

func (a *api) reload(c *gin.Context) error {
	changes, err := a.m.Reload(c.Request.Context(), c.Param("name"))
	if err != nil {
		return err
	}
	body := gin.H{"added_sets": changes.AddedSets, "removed_sets": changes.RemovedSets,
		"added_properties": changes.AddedProperties, "removed_properties": changes.RemovedProperties}
	if len(changes.RemovedSets)+len(changes.RemovedProperties) > 0 {
		body["warning"] = "names Salesforce may have synced are gone: its next sync creates new objects or fields for their replacements"
	}
	c.JSON(http.StatusOK, body)
	return nil
}

func (a *api) report(c *gin.Context) error {
	rep, err := a.m.Report(c.Request.Context(), c.Param("name"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, rep)
	return nil
}

// TrackRequest asks for change tracking on a source's tables (every table
// it serves when none is named): the SQL, and with Apply, running it.
type TrackRequest struct {
	Tables []string `json:"tables,omitempty"`
	Drop   bool     `json:"drop,omitempty"`
	Apply  bool     `json:"apply,omitempty"`
}

// track answers the change tracking SQL of a source, run when asked.
func (a *api) track(c *gin.Context) error {
	var req TrackRequest
	if c.Request.ContentLength != 0 {
		if err := jsonDecoder(c).Decode(&req); err != nil {
			return refuse(errBadRequest, jsonField(err), "the body is not a tracking request: "+err.Error())
		}
	}
	sql, err := a.m.Track(c.Request.Context(), c.Param("name"), req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"sql": sql, "applied": req.Apply})
	return nil
}

// userRequest adds or changes a user; the password and token are never
// answered back, except a new token, once.
type userRequest struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // password (default) or token
	Password string `json:"password"`
	Role     string `json:"role"`
	Rotate   bool   `json:"rotate_token"`
}

type userAnswer struct {
	registry.User
	Token string `json:"token,omitempty"`
}

func (a *api) users(c *gin.Context) error {
	us, err := a.m.Users(c.Request.Context())
	if err != nil {
		return err
	}
	if us == nil {
		us = []registry.User{}
	}
	c.JSON(http.StatusOK, gin.H{"users": us})
	return nil
}

func (a *api) readUser(c *gin.Context) (userRequest, error) {
	var u userRequest
	if err := jsonDecoder(c).Decode(&u); err != nil {
		return u, refuse(errBadRequest, jsonField(err), "the body is not a user: "+err.Error())
	}
	return u, nil
}

func (a *api) addUser(c *gin.Context) error {
	u, err := a.readUser(c)
	if err != nil {
		return err
	}
	saved, token, err := a.m.AddUser(c.Request.Context(), registry.User{Name: u.Name, Kind: u.Kind, Role: u.Role}, u.Password)
	if err != nil {
		return err
	}
	a.log.Info("user added", "user", saved.Name, "kind", saved.Kind, "client", a.client(c))
	c.JSON(http.StatusCreated, userAnswer{User: saved, Token: token})
	return nil
}

func (a *api) updateUser(c *gin.Context) error {
	u, err := a.readUser(c)
	if err != nil {
		return err
	}
	saved, token, err := a.m.UpdateUser(c.Request.Context(), c.Param("user"), u.Role, u.Password, u.Rotate)
	if err != nil {
		return err
	}
	a.log.Info("user changed", "user", saved.Name, "client", a.client(c))
	c.JSON(http.StatusOK, userAnswer{User: saved, Token: token})
	return nil
}

func (a *api) removeUser(c *gin.Context) error {
	if err := a.m.RemoveUser(c.Request.Context(), c.Param("user")); err != nil {
		return err
	}
	a.log.Info("user removed", "user", c.Param("user"), "client", a.client(c))
	c.Status(http.StatusNoContent)
	return nil
}
