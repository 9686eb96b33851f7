package server

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/batch"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
)

// recorder is the ResponseWriter a sub-request writes into.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
func (r *recorder) Size() int { return r.body.Len() }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

// serveBatch answers POST $batch (package batch): parts run in order,
// each through the OData pipeline (the request is the batch's Runner);
// the writes of one change set (multipart) or atomicity group (JSON)
// share one transaction and happen all or not at all.
func (r *request) serveBatch(method string) error {
	if method != http.MethodPost {
		r.w.Header().Set("Allow", "POST")
		return odata.MethodNotAllowed(method, "$batch")
	}
	if r.inBatch {
		return odata.BadRequest(odata.CodeBadRequest, "a $batch cannot contain another $batch")
	}
	body, err := r.readBody(false)
	if err != nil {
		return err
	}
	b, err := batch.Read(r.req.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	results, err := b.Run(r.req.Context(), r.root, batchRunner{r})
	if err != nil {
		return err
	}
	ct, answer := b.Answer(results)
	r.send(http.StatusOK, ct, answer)
	return nil
}

// batchRunner runs a batch's parts as parts of the batch's request.
type batchRunner struct{ r *request }

var _ batch.Runner = batchRunner{}

// Refuse is a part's error answer, written as every other error is.
func (b batchRunner) Refuse(id string, err error) batch.Result {
	rec := &recorder{header: http.Header{}}
	writeError(rec, b.r.req, b.r.srv.log, err)
	return batch.Result{ID: id, Status: rec.Status(), Header: rec.header, Body: rec.body.Bytes()}
}

// Atomically runs a change set in one transaction of the source, on one
// connection slot; the answer cache hears of the sets it wrote once it
// ends.
func (b batchRunner) Atomically(ctx context.Context, targets []string, fn func(tx sources.Writer) error) error {
	r := b.r
	src, slots := r.src, r.slots
	if r.service != nil {
		// a service's change set runs on the one member it writes to
		member, err := r.changeSetMember(targets)
		if err != nil {
			return err
		}
		e, ok := r.srv.acquire(member)
		if !ok {
			return &odata.Error{Status: http.StatusServiceUnavailable, Code: odata.CodeUnavailable,
				Message: "the database of source " + member + " is not being served right now; try again in a moment"}
		}
		defer e.release()
		src, slots = e.src, e.slots
	}
	tr, ok := sources.As[sources.Transactor](src)
	if !ok {
		return odata.NotImplemented("change sets on this data source")
	}
	if err := slots.acquire(ctx, 1); err != nil {
		return err
	}
	defer slots.release(1)
	touched := map[string]bool{}
	defer func() {
		if r.answers != nil {
			for set := range touched {
				r.answers.Written(set)
			}
		}
	}()
	return tr.Atomically(ctx, func(inner sources.Writer) error { return fn(touching{inner, touched}) })
}

// touching is a change set's writer: it notes the sets it writes.
type touching struct {
	sources.Writer
	sets map[string]bool
}

func (t touching) Insert(ctx context.Context, set *metadata.EntitySet, values []plan.Assignment) ([]any, error) {
	t.sets[set.Name] = true
	return t.Writer.Insert(ctx, set, values)
}

func (t touching) Update(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment, check func([]any) error) ([]any, error) {
	t.sets[set.Name] = true
	return t.Writer.Update(ctx, set, key, values, check)
}

func (t touching) Delete(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, check func([]any) error) error {
	t.sets[set.Name] = true
	return t.Writer.Delete(ctx, set, key, check)
}

// Run runs one part through the OData pipeline, inside tx when given. A part is not a request of its own: it runs on the $batch's
// source, as its caller, within the rate limit the $batch was charged, so
// neither its headers nor a new client address can change who pays for it.
func (b batchRunner) Run(ctx context.Context, p batch.Part, target string, tx sources.Writer) batch.Result {
	r := b.r
	if lim := r.srv.limiter; lim != nil {
		if ok, wait := lim.Allow(r.client); !ok {
			res := b.Refuse(p.ID, tooManyRequests(wait))
			res.Header.Set("Retry-After", retryAfter(wait))
			return res
		}
	}
	req, err := http.NewRequestWithContext(cache.WithStatus(ctx), p.Method, target, bytes.NewReader(p.Body))
	if err != nil {
		return b.Refuse(p.ID, odata.BadRequest(odata.CodeBadRequest, "request %s: %v", p.ID, err))
	}
	req.Host, req.TLS = r.req.Host, r.req.TLS
	for k, v := range p.Header {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" && len(p.Body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	part := &request{w: rec, req: req, srv: r.srv, name: r.name, src: r.src, answers: r.answers, slots: r.slots, svc: r.svc,
		root: r.root, guard: r.guard, principal: r.principal, client: r.client, inBatch: true, tx: tx, timing: serverTiming{start: time.Now()},
		service: r.service, composed: r.composed, svcAnswers: r.svcAnswers}
	defer func() {
		if part.member != nil {
			part.member.release()
		}
	}()
	func() {
		defer func() {
			if v := recover(); v != nil {
				r.srv.log.Error("panic while serving a batch part", "panic", v, "path", req.URL.Path)
				rec.header = http.Header{}
				rec.body.Reset()
				rec.status = 0
				part.fail(internalPanic(v))
			}
		}()
		if part.negotiateVersion() {
			part.run()
		}
	}()
	return batch.Result{ID: p.ID, Status: rec.Status(), Header: rec.header, Body: rec.body.Bytes()}
}
