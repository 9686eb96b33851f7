package server

import (
	"compress/flate"
	"compress/gzip"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/format"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/odata/uri"
	"github.com/odatagw/odatagw/sources"
)

// DefaultMaxBodyBytes bounds a request body, before and after
// decompression: Salesforce sends at most 8 MB.
const DefaultMaxBodyBytes = 8 << 20

// headerMethodTunnel is X-HTTP-Method in net/http's canonical spelling
// (see odata.HeaderVersion for why).
const headerMethodTunnel = "X-Http-Method"

// writeMethod returns the verb a request means: POST may carry another in
// X-HTTP-Method, which Salesforce (and clients behind proxies that allow
// only GET and POST) use. "" means a read.
func writeMethod(req *http.Request) (string, *odata.Error) {
	m := strings.ToUpper(req.Method)
	if tunnel := strings.TrimSpace(req.Header.Get(headerMethodTunnel)); tunnel != "" {
		if m != http.MethodPost {
			return "", odata.BadRequest(odata.CodeBadRequest, "X-HTTP-Method may only come with POST")
		}
		m = strings.ToUpper(tunnel)
		switch m {
		case http.MethodPatch, http.MethodPut, "MERGE", http.MethodDelete:
		default:
			return "", odata.BadRequest(odata.CodeBadRequest, "X-HTTP-Method %s is not one of PATCH, PUT, MERGE, DELETE", tunnel)
		}
	}
	switch m {
	case http.MethodPost, http.MethodPatch, http.MethodPut, "MERGE", http.MethodDelete:
		return m, nil
	}
	return "", nil
}

// readBody reads a body, decompressing gzip or deflate, and stops at the
// limit whether the bytes arrive compressed or not. jsonOnly refuses any
// Content-Type but JSON.
func (r *request) readBody(jsonOnly bool) ([]byte, error) {
	req := r.req
	if ct := req.Header.Get("Content-Type"); ct != "" && jsonOnly {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, &odata.Error{Status: http.StatusUnsupportedMediaType, Code: odata.CodeUnsupportedMedia,
				Message: "the body must be application/json, not " + ct}
		}
	}
	limit := int64(r.srv.cfg.MaxBodyBytes)
	tooLarge := &odata.Error{Status: http.StatusRequestEntityTooLarge, Code: odata.CodeBodyTooLarge,
		Message: "the request body is larger than " + strconv.FormatInt(limit, 10) + " bytes"}
	if req.ContentLength > limit {
		return nil, tooLarge
	}
	body := io.LimitReader(req.Body, limit+1)
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(body)
		if err != nil {
			return nil, odata.BadRequest(odata.CodeBadRequest, "the body is not valid gzip: %v", err)
		}
		body = io.LimitReader(gz, limit+1) // bounds a decompression bomb too
	case "deflate":
		body = io.LimitReader(flate.NewReader(body), limit+1)
	default:
		return nil, &odata.Error{Status: http.StatusUnsupportedMediaType, Code: odata.CodeUnsupportedMedia,
			Message: "Content-Encoding " + enc + " is not supported; use gzip"}
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, odata.BadRequest(odata.CodeBadRequest, "the body could not be read: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, tooLarge
	}
	return b, nil
}

// serveWrite runs a create, update or delete through the source's Writer.
func (r *request) serveWrite(method string, req *uri.Request) error {
	r.prefs = odata.ParsePrefer(r.req.Header.Values("Prefer"))
	target, err := plan.BuildWith(r.svc, req, method, r.planOptions())
	if err != nil {
		return err
	}
	w := target.Writing
	set := target.Set
	r.set = set.Name
	sh := shapes.Shape{Set: set.Name, Method: method, ByKey: len(target.Key) > 0}.Identified()
	r.shape = &sh
	if err := r.mayWrite(set.Name); err != nil {
		return err
	}
	r.written = &written{set: set.Name, method: method, key: keyText(target.Key)}
	if err := r.bindMember(set); err != nil {
		return err
	}
	writer, ok := sources.As[sources.Writer](r.src)
	// inside a change set, the batch's open transaction does the writing
	tx, inTx := r.tx, r.tx != nil
	if inTx {
		writer = tx
	}
	if set.ReadOnly || !ok {
		r.w.Header().Set("Allow", plan.Allow(target.Kind, true))
		why := "marked read-only"
		if set.IsView {
			why = "a view"
		}
		e := odata.MethodNotAllowed(method, set.Name)
		e.Code, e.Message = odata.CodeReadOnly, set.Name+" is read-only ("+why+"); it cannot be changed through this service"
		if sum := set.Summary; sum != nil {
			e.Message = set.Name + " is a summary of " + sum.Table + ": each row is a group the database computes from " + sum.Table +
				"'s rows on every read, so it cannot be changed itself; change the rows of " + sum.Table + " instead"
		}
		return e
	}
	var body []byte
	if w.NeedsBody() {
		b, rerr := r.readBody(true)
		if rerr != nil {
			return rerr
		}
		body = b
	}
	if berr := w.Bind(body); berr != nil {
		return berr
	}
	r.timing.mark("plan")
	ctx := r.req.Context()
	if !inTx { // a change set holds its connection already
		if err := r.slots.acquire(ctx, 1); err != nil {
			return err
		}
		defer r.slots.release(1)
	}
	check := r.precondition(w)
	start := time.Now()
	done := func() { // the write's database time, as Server-Timing's db says it
		r.database(set.Name, "write", 0, time.Since(start)) // no cache answers a write
		r.timing.mark("db")
		r.changed(set.Name) // before the answer: no read after it is answered from before
	}
	switch w.Kind {
	case plan.WriteCreate:
		row, err := writer.Insert(ctx, set, w.Assign)
		done()
		if err != nil {
			var oe *odata.Error
			if r.req.Header.Get("If-None-Match") == "*" && errors.As(err, &oe) && oe.Status == http.StatusConflict {
				return &odata.Error{Status: http.StatusPreconditionFailed, Code: odata.CodePrecondition,
					Message: "an entity with this key already exists (If-None-Match: *)", Cause: err}
			}
			return err
		}
		return r.respondWritten(set, row, http.StatusCreated, req.Query.Format)
	case plan.WriteDelete:
		err := writer.Delete(ctx, set, w.Key, check)
		done()
		if err != nil {
			return r.notFound(set, w.Key, err)
		}
		r.w.Header().Set("Server-Timing", r.timing.header())
		r.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	row, uerr := writer.Update(ctx, set, w.Key, w.Assign, check)
	done()
	if uerr != nil {
		return r.notFound(set, w.Key, uerr)
	}
	return r.respondWritten(set, row, http.StatusOK, req.Query.Format)
}

func (r *request) notFound(set *metadata.EntitySet, key []plan.KeyValue, err error) error {
	if !errors.Is(err, sources.ErrNotFound) {
		return err
	}
	return entityNotFound(set, key)
}

// entityNotFound is the 404 for a key no row has.
func entityNotFound(set *metadata.EntitySet, key []plan.KeyValue) error {
	return odata.NotFound(odata.CodeEntityNotFound, "%s has no entity with key %s", set.Name, keyText(key))
}

// precondition builds the check a source runs on the locked current row:
// If-Match against its ETag, and keys or computed values the body repeats
// against their current values.
func (r *request) precondition(w *plan.Write) func([]any) error {
	ifMatch := r.req.Header.Get("If-Match")
	props := w.Set.Type.Properties
	return func(current []any) error {
		if ifMatch != "" && !etagMatches(ifMatch, format.EntityETag(w.Set, current)) {
			return &odata.Error{Status: http.StatusPreconditionFailed, Code: odata.CodePrecondition,
				Message: "the entity changed since it was read (If-Match does not match its ETag); read it again and retry"}
		}
		for _, u := range w.Unchanged {
			for i, p := range props {
				if p == u.Prop && !plan.SameValue(current[i], u.Value) {
					e := odata.BadRequest(odata.CodeInvalidValue, "%s is computed by the database and cannot be changed", p.Name)
					e.Target = p.Name
					return e
				}
			}
		}
		return nil
	}
}

// respondWritten answers a create (201) or update (204, or 200 with the
// entity when the client prefers a representation), in the format the
// request's $format (however spelt) or Accept asks for.
func (r *request) respondWritten(set *metadata.EntitySet, row []any, status int, formatOption string) error {
	j, err := format.Negotiate(formatOption, r.req.Header.Get("Accept"))
	if err != nil {
		j = format.JSON{}
	}
	w := format.NewEntityWriter(set, set.Type.Properties, set.Type.Properties, j, r.inPlace().root)
	id := r.root + format.EntityID(set, row, w.KeyPositions())
	h := r.w.Header()
	var tag format.ETag // for the header and the body alike
	tag.Of(set, row)
	h.Set(headerETag, string(tag[:]))
	h.Set("Server-Timing", r.timing.header())
	if status == http.StatusCreated {
		h.Set("Location", id)
		h.Set("OData-EntityId", id)
	}
	wantBody := (status == http.StatusCreated && !r.prefs.ReturnMinimal) || (status == http.StatusOK && r.prefs.ReturnFull)
	if r.prefs.ReturnMinimal || r.prefs.ReturnFull {
		pref := "return=minimal"
		if r.prefs.ReturnFull {
			pref = "return=representation"
		}
		h.Set("Preference-Applied", pref)
	}
	if !wantBody {
		r.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	b := w.AppendEntity(nil, row, &tag, func(b []byte) []byte {
		if j.Metadata == format.MetadataNone {
			return b
		}
		b = append(b, `"@odata.context":`...)
		return format.AppendString(b, r.root+"$metadata#"+set.Name+"/$entity")
	})
	r.send(status, j.ContentType(), b)
	return nil
}

// keyText spells a key as in the URL: 42, or OrderId=1,ProductId=2.
func keyText(key []plan.KeyValue) string {
	if len(key) == 0 {
		return ""
	}
	names := make([]string, len(key))
	vals := make([]string, len(key))
	for i, kv := range key {
		names[i], vals[i] = kv.Prop.Name, format.Literal(kv.Value, kv.Prop.Type)
	}
	return metadata.KeyString(names, vals)
}
