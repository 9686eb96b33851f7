package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/internal/tracing"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/metadata/compose"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/csdl"
	"github.com/odatagw/odatagw/odata/format"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/odata/uri"
	"github.com/odatagw/odatagw/sources"
)

// request is one OData request on its way through the pipeline.
type request struct {
	w       responseWriter
	req     *http.Request
	srv     *Server
	name    string // source name
	src     sources.Source
	answers AnswerCache // the source's answer cache; nil: none
	slots   *slots
	svc     *metadata.Service
	version odata.Version
	root    string // absolute service root URL, ending in '/'
	plan    *plan.Plan
	json    format.JSON
	prefs   odata.Preferences
	timing  serverTiming

	guard     *auth.Guard
	principal *auth.Principal
	client    string        // the caller's address, for throttling and the audit log
	set       string        // the entity set the request reads or writes, once known (metrics)
	rowsSent  int           // entities written into the answer (metrics)
	deltaLink string        // set when the read tracks changes: its last page links to them
	shape     *shapes.Shape // the request's shape once known, for the shape table
	db        dbTimes       // time the database took for this request
	// places counts where the request's statements ran, for a source
	// with standbys (nil otherwise: nothing to tell apart)
	places  *sources.ReadPlaces
	written *written // set by a write, for the audit log

	// a read's fingerprint (see fingerprintOf), and the text of its
	// per-request parts once made (see fillOf)
	fingerprint []byte
	fpBuf       [256]byte // where a usual fingerprint is written

	cacheStatus cache.StatusHolder // what the cache did for the request
	fills       cache.Fill
	filled      uint8

	// a part of a $batch: tx is the open transaction of its change set,
	// if it is in one
	inBatch bool
	tx      sources.Writer

	// a request to a service (service.go): its model as composed, and
	// the member entry the request's set runs on once bound
	service    *service
	composed   *compose.Service
	svcAnswers *serviceAnswers // its answers, whose tag starts its fingerprints
	member     *entry
	memberName string
}

// responseWriter is what a request answers through: the connection's
// writer, or a batch part's recorder. Status tells the audit log what was
// sent, Size how many bytes of body (-1: none yet).
type responseWriter interface {
	http.ResponseWriter
	Status() int
	Size() int
}

// send writes a whole, small response.
func (r *request) send(status int, contentType string, body []byte) {
	r.w.Header().Set("Content-Type", contentType)
	r.w.WriteHeader(status)
	r.w.Write(body)
}

// fail answers with the OData error body.
func (r *request) fail(err error) { writeError(r.w, r.req, r.srv.log, err) }

// headerETag is ETag in net/http's canonical spelling (see
// odata.HeaderVersion for why).
const headerETag = "Etag"

// serverTiming collects per-stage durations for the Server-Timing header.
// The marks are appended into one buffer that starts in the request
// itself: every request writes the header, and a string per mark was the
// largest share of a key read's allocations.
type serverTiming struct {
	start time.Time
	marks []byte
	buf   [64]byte
}

func (t *serverTiming) mark(name string) {
	now := time.Now()
	if t.marks == nil {
		t.marks = t.buf[:0]
	} else {
		t.marks = append(t.marks, ", "...)
	}
	t.marks = append(append(t.marks, name...), ";dur="...)
	t.marks = strconv.AppendFloat(t.marks, float64(now.Sub(t.start).Microseconds())/1000, 'f', 2, 64)
	t.start = now
}

func (t *serverTiming) header() string { return string(t.marks) }

func (s *Server) serveOData(c *gin.Context) {
	ctx := c.Request.Context()
	span := trace.SpanFromContext(ctx) // does nothing while tracing is off
	if tracing.Enabled() {
		// a trace the caller started continues here (W3C traceparent)
		ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(c.Request.Header))
		ctx, span = tracing.Start(ctx, c.Request.Method+" /odata/{source}", attribute.String("http.request.method", c.Request.Method))
		defer span.End()
	}
	r := &request{w: c.Writer, srv: s, name: c.Param("source"), timing: serverTiming{start: time.Now()}}
	req := c.Request.WithContext(cache.WithStatusIn(ctx, &r.cacheStatus))
	r.req, r.client = req, s.cfg.Callers.Of(req)
	start := r.timing.start
	if !r.negotiateVersion() {
		return
	}
	svc, e := s.root(r.name)
	if svc != nil {
		s.serveService(c, r, svc, span, start)
		return
	}
	ok := e != nil
	if msg, waiting := s.unavailableMessage(r.name); !ok && waiting {
		r.fail(&odata.Error{Status: http.StatusServiceUnavailable, Code: odata.CodeUnavailable, Message: msg})
		return
	}
	if !ok {
		// the public port names no source: which exist is the admin's to know
		r.fail(odata.NotFound(odata.CodeNotFound, "there is no data source named %q here; check the service root's name (the gateway's admin page lists them)", r.name))
		return
	}
	defer e.release()
	defer r.finish(span, start)
	r.src, r.answers, r.slots, r.guard = e.src, e.answers, e.slots, e.guard
	r.svc = e.src.Metadata()
	if e.standbys {
		r.places = &sources.ReadPlaces{}
		r.req = r.req.WithContext(sources.WithReadPlaces(r.req.Context(), r.places))
	}
	r.admit()
}

// serveService serves a request to a service: the service's model and
// guard, its answers kept in the members' caches; the member is bound
// once the request's set is known.
func (s *Server) serveService(c *gin.Context, r *request, svc *service, span trace.Span, start time.Time) {
	composed, answers, err := s.composeService(svc)
	if err != nil {
		r.fail(&odata.Error{Status: http.StatusServiceUnavailable, Code: odata.CodeUnavailable, Cause: err,
			Message: "service " + r.name + " cannot be served right now: one of its sources is not; try again in a moment"})
		return
	}
	r.service, r.composed, r.svc, r.guard, r.answers, r.svcAnswers = svc, composed, composed.Model, svc.guard, answers, answers
	defer func() {
		if r.member != nil {
			r.member.release()
		}
	}()
	defer r.finish(span, start)
	r.admit()
}

// finish records what a request did, once answered: its span, metrics,
// shape and traffic (a service's under its name and its member's too).
func (r *request) finish(span trace.Span, start time.Time) {
	s := r.srv
	if span.IsRecording() { // only a source that exists, and a set its model has, become labels
		span.SetAttributes(attribute.String("odata.source", r.name), attribute.String("odata.entity_set", r.set),
			attribute.Int("http.response.status_code", r.w.Status()))
		if r.w.Status() >= 500 {
			span.SetStatus(codes.Error, http.StatusText(r.w.Status()))
		}
	}
	took := time.Since(start)
	r.attribute()
	s.metrics.observe(r.name, r.set, r.req.Method, r.w.Status(), took, r.rowsSent)
	r.recordShape(took)
	status := cache.StatusOf(r.req.Context()).String()
	s.traffic.Record(r.name, r.set, r.w.Status(), took, status, r.rowsSent)
	if r.memberName != "" {
		// the member's traffic is all its database answers, through any root
		if o, ok := r.composed.Origin(r.set); ok {
			s.traffic.Record(r.memberName, o.Set.Name, r.w.Status(), took, status, r.rowsSent)
		}
	}
}

// admit checks the caller, then serves the request.
func (r *request) admit() {
	s := r.srv
	if r.guard == nil {
		r.fail(&odata.Error{Status: http.StatusUnauthorized, Code: odata.CodeUnauthorized, Message: "this source accepts no credentials"})
		return
	}
	if err := r.authenticate(r.guard); err != nil {
		r.fail(err)
		return
	}
	if err := r.csrf(); err != nil {
		r.fail(err)
		return
	}
	r.root = s.baseURL(r.req) + "/odata/" + r.name + "/"
	r.run()
}

// versionHeaders are the OData-Version header's values, made once (a
// header's slice is only read).
var versionHeaders = map[odata.Version][]string{odata.V40: {string(odata.V40)}, odata.V401: {string(odata.V401)}}

// negotiateVersion settles the OData version of the answer, or answers
// the error and reports false.
func (r *request) negotiateVersion() bool {
	version, err := odata.NegotiateVersion(r.req.Header)
	if err != nil {
		r.fail(err)
		return false
	}
	r.version = version
	if v, ok := versionHeaders[version]; ok {
		r.w.Header()[odata.HeaderVersion] = v
	} else {
		r.w.Header().Set(odata.HeaderVersion, string(version))
	}
	return true
}

// run serves a request whose source and caller are settled, and records a
// write in the audit log.
func (r *request) run() {
	if err := r.serve(); err != nil {
		r.fail(r.explainTimeout(err))
	}
	if r.written != nil {
		r.srv.auditWrite(r, r.w.Status())
	}
}

// attribute names the entity set a request was about where it was
// refused before planning named it (credentials, a malformed option, a
// feature answered 501): the path's first segment, if the model has such
// a set. A name the model lacks stays "" (no label is made from a URL).
func (r *request) attribute() {
	if r.set != "" || r.svc == nil {
		return
	}
	if name, ok := firstSegment(r.escapedSubPath()); ok {
		if es, ok := r.svc.EntitySet(name); ok {
			r.set = es.Name
		}
	}
}

// firstSegment is the first segment of a still-encoded path below a
// service root, decoded, without its key or options: the entity set a
// request names, if it names one.
func firstSegment(p string) (string, bool) {
	if i := strings.IndexAny(p, "/(?"); i >= 0 {
		p = p[:i]
	}
	name, err := url.PathUnescape(p)
	return name, err == nil
}

// escapedSubPath returns the still-encoded path below the service root.
func (r *request) escapedSubPath() string {
	p := r.req.URL.EscapedPath()
	prefix := "/odata/" + r.name
	if i := strings.Index(p, prefix); i >= 0 {
		p = p[i+len(prefix):]
	} else if j := strings.Index(p[len("/odata/"):], "/"); j >= 0 {
		p = p[len("/odata/")+j:]
	} else {
		p = ""
	}
	return strings.TrimPrefix(p, "/")
}

func (r *request) serve() error {
	if a := r.recall(); a != nil {
		return r.sendAnswer(a)
	}
	_, planSpan := tracing.Start(r.req.Context(), "plan")
	req, perr := uri.ParseWith(r.escapedSubPath(), r.req.URL.RawQuery, r.srv.limits)
	r.timing.mark("parse")
	if perr != nil {
		planSpan.End()
		return perr
	}
	method, merr := writeMethod(r.req)
	if merr != nil {
		planSpan.End() // every return below ends the span: a trace must not hold it open
		return merr
	}
	if len(req.Segments) == 1 && req.Segments[0].Name == "$batch" {
		planSpan.End()
		sh := shapes.Shape{Set: "$batch", Method: r.req.Method}.Identified()
		r.shape = &sh
		return r.serveBatch(r.req.Method)
	}
	if method != "" {
		planSpan.End()
		return r.serveWrite(method, req)
	}
	r.prefs = odata.ParsePrefer(r.req.Header.Values("Prefer"))
	p, berr := plan.BuildWith(r.svc, req, r.req.Method, r.planOptions())
	planSpan.End()
	if berr != nil {
		return berr
	}
	r.timing.mark("plan")
	if p.Query.Set != nil {
		r.set = p.Query.Set.Name
	}
	if err := r.mayRead(p); err != nil {
		return err
	}
	if err := r.bindMember(p.Query.Set); err != nil {
		return err
	}
	r.plan = p
	sh := shapeOf(p, r.req.Method)
	r.shape = &sh
	switch p.Kind {
	case plan.KindMetadata:
		return r.serveMetadata()
	case plan.KindPropertyValue, plan.KindCount:
		if p.Format != "" {
			// raw values have one representation; $format may only ask for it
			if f := strings.ToLower(p.Format); f != "json" && !strings.HasPrefix(f, "text/plain") && !strings.HasPrefix(f, "application/json") {
				return odata.NotAcceptable("$format=%s is not available for a raw value", p.Format).WithTarget("$format")
			}
		}
	default:
		j, err := format.Negotiate(p.Format, r.req.Header.Get("Accept"))
		if err != nil {
			return err
		}
		r.json = j
	}
	switch p.Kind {
	case plan.KindServiceDocument:
		return r.serveServiceDocument()
	case plan.KindCollection:
		if r.plan.DeltaToken != "" {
			return r.serveDelta()
		}
		return r.serveCollection()
	case plan.KindCount:
		return r.serveCount()
	case plan.KindEntity:
		return r.serveEntity()
	case plan.KindProperty, plan.KindPropertyValue:
		return r.serveProperty()
	}
	return odata.Internal(nil)
}

// planOptions are what the planner needs of this request beyond its URL.
func (r *request) planOptions() plan.Options {
	return plan.Options{Limits: r.srv.limits, Signer: r.srv.signer, MaxPageSize: r.prefs.MaxPageSize}
}

// sendCached writes a small, fully built response with an ETag, answering
// 304 when the client already holds it.
func (r *request) sendCached(contentType string, body []byte) error {
	sum := sha256.Sum256(body)
	return r.sendWithETag(contentType, body, `W/"`+base64.RawURLEncoding.EncodeToString(sum[:12])+`"`)
}

// cacheHeader says what the query cache did, when it took part.
func (r *request) cacheHeader() {
	if !r.srv.cfg.CacheHeader {
		return
	}
	if st := cache.StatusOf(r.req.Context()); st.String() != "" && st.String() != "bypass" {
		r.w.Header()["X-Cache"] = st.Header()
	}
}

// sendWithETag writes a small response under a given ETag.
func (r *request) sendWithETag(contentType string, body []byte, etag string) error {
	r.cacheHeader()
	r.w.Header().Set(headerETag, etag)
	r.w.Header().Set("Server-Timing", r.timing.header())
	if inm := r.req.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		r.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if im := r.req.Header.Get("If-Match"); im != "" && !etagMatches(im, etag) {
		return errPrecondition
	}
	r.send(http.StatusOK, contentType, body)
	return nil
}

func etagMatches(header, etag string) bool {
	weak := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == etag || strings.TrimPrefix(t, "W/") == weak {
			return true
		}
	}
	return false
}

func (r *request) serveMetadata() error {
	asJSON, err := format.WantsJSONMetadata(r.plan.Format, r.req.Header.Get("Accept"))
	if err != nil {
		return err
	}
	if asJSON && r.version == odata.V40 {
		// OData 4.0 defines CSDL as XML only: a 4.0 client that accepts
		// JSON still gets XML. $format=json asks for CSDL JSON explicitly,
		// a 4.01 document, which a client that set no maximum may have.
		switch {
		case r.plan.Format == "":
			asJSON = false
		case r.req.Header.Get(odata.HeaderMaxVersion) == "":
			r.version = odata.V401
			r.w.Header().Set(odata.HeaderVersion, string(odata.V401))
		}
	}
	var b bytes.Buffer
	if asJSON {
		if werr := csdl.WriteJSON(&b, r.svc); werr != nil {
			return odata.Internal(werr)
		}
		return r.sendCached("application/json", b.Bytes())
	}
	if werr := csdl.WriteXML(&b, r.svc, string(r.version)); werr != nil {
		return odata.Internal(werr)
	}
	return r.sendCached("application/xml", b.Bytes())
}

func (r *request) serveServiceDocument() error {
	b := []byte(`{`)
	if r.json.Metadata != format.MetadataNone {
		b = append(b, `"@odata.context":`...)
		b = format.AppendString(b, r.root+"$metadata")
		b = append(b, ',')
	}
	b = append(b, `"value":[`...)
	for i, es := range r.svc.Sets {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = format.AppendString(b, es.Name)
		b = append(b, `,"kind":"EntitySet","url":`...)
		b = format.AppendString(b, es.Name)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	return r.sendCached(r.json.ContentType(), b)
}

func (r *request) serveCount() error {
	held, serr := r.querySlots(r.plan.Set.Name, 1)
	if serr != nil {
		return serr
	}
	start, ctx := time.Now(), cache.WithStatus(r.req.Context())
	n, err := r.count(ctx, &r.plan.Query)
	r.database(r.plan.Set.Name, "count", cache.StatusOf(ctx), time.Since(start))
	r.slots.release(held)
	r.timing.mark("db")
	if err != nil {
		return err
	}
	return r.sendCached("text/plain;charset=utf-8", []byte(strconv.FormatInt(n, 10)))
}

// contextPath is the @odata.context of a response about the plan's set,
// after the service root.
func (r *request) contextPath(suffix string) string {
	u := "$metadata#" + r.plan.Set.Name
	if r.plan.SelectExplicit {
		names := make([]string, len(r.plan.Select))
		for i, p := range r.plan.Select {
			names[i] = p.Name
		}
		u += "(" + strings.Join(names, ",") + ")"
	}
	return u + suffix
}
