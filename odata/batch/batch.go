// Package batch is OData's $batch: a batch's body read into its parts
// (the JSON format of 4.01, or the multipart one of 4.0, what Salesforce
// sends), the parts run in order with their dependencies, change sets and
// atomicity groups, and the answers written in the batch's own format. A
// part is run by the server, through Runner: the package knows the
// protocol of a batch, not how a request is answered.
package batch

import (
	"context"
	"errors"
	"mime"
	"net/http"

	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/sources"
)

// MaxRequests bounds the requests of one batch.
const MaxRequests = 1000

// Part is one request of a batch.
type Part struct {
	ID        string // Content-ID or JSON id
	Method    string
	URL       string // as written: relative to the service root, absolute, or $id/...
	Header    http.Header
	Body      []byte
	Group     string // change set or atomicity group; "" for none
	DependsOn []string
}

// Result is the answer to one part.
type Result struct {
	ID     string
	Status int
	Header http.Header
	Body   []byte
}

// Runner answers the parts of a batch: the OData server.
type Runner interface {
	// Run answers one part, its URL resolved to a path below the service
	// root; inside a change set, tx is its open transaction's writer.
	Run(ctx context.Context, p Part, target string, tx sources.Writer) Result
	// Refuse is the answer of a part to err, written as any error is.
	Refuse(id string, err error) Result
	// Atomically runs fn in one transaction, its writes all or none;
	// targets are the paths the change set writes to, as far as they
	// resolve before it runs (a service over several databases keeps a
	// change set within one of them, and refuses it before writing).
	Atomically(ctx context.Context, targets []string, fn func(tx sources.Writer) error) error
}

// Batch is a batch read from its body, in its format.
type Batch struct {
	Parts []Part
	json  bool
}

// Read reads a batch's body in the format its Content-Type names.
func Read(contentType string, body []byte) (*Batch, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, &odata.Error{Status: http.StatusUnsupportedMediaType, Code: odata.CodeUnsupportedMedia,
			Message: "$batch needs Content-Type application/json or multipart/mixed with a boundary"}
	}
	b := &Batch{json: mt == "application/json"}
	switch mt {
	case "application/json":
		b.Parts, err = parseJSON(body)
	case "multipart/mixed":
		b.Parts, err = parseMultipart(body, params["boundary"])
	default:
		return nil, &odata.Error{Status: http.StatusUnsupportedMediaType, Code: odata.CodeUnsupportedMedia,
			Message: "$batch needs Content-Type application/json or multipart/mixed, not " + mt}
	}
	if err != nil {
		return nil, odata.BadRequest(odata.CodeBadRequest, "the $batch body is malformed: %v", err)
	}
	if len(b.Parts) > MaxRequests {
		return nil, odata.BadRequest(odata.CodeBadRequest, "a $batch may hold at most %d requests", MaxRequests)
	}
	return b, nil
}

// Answer is the batch's answer, in its format: its content type and body.
func (b *Batch) Answer(results []Result) (contentType string, body []byte) {
	if b.json {
		return "application/json", writeJSON(results)
	}
	return writeMultipart(b.Parts, results)
}

// Run runs the parts in order below serviceRoot: a part that depends on
// one that failed answers 424 without running; the parts of a change set
// or atomicity group share one transaction, and when one fails it rolls
// back, that part keeps its error and the others answer 424.
func (b *Batch) Run(ctx context.Context, serviceRoot string, r Runner) ([]Result, error) {
	parts := b.Parts
	results := make([]Result, 0, len(parts))
	byID := map[string]*Result{}
	failed := map[string]bool{}
	for i := 0; i < len(parts); {
		j := i + 1
		if g := parts[i].Group; g != "" {
			for j < len(parts) && parts[j].Group == g {
				j++
			}
		}
		group := parts[i:j]
		var out []Result
		blocked := ""
		for _, p := range group {
			for _, d := range p.DependsOn {
				if failed[d] {
					blocked = d
				}
			}
		}
		switch {
		case blocked != "":
			for _, p := range group {
				out = append(out, r.Refuse(p.ID, odata.FailedDependency(blocked)))
			}
		case parts[i].Group == "":
			out = []Result{run(ctx, serviceRoot, r, parts[i], byID, nil)}
		default:
			var err error
			if out, err = runChangeSet(ctx, serviceRoot, r, group, byID); err != nil {
				return nil, err
			}
		}
		for k := range out {
			results = append(results, out[k])
			byID[out[k].ID] = &results[len(results)-1]
			if out[k].Status >= 400 {
				failed[out[k].ID] = true
			}
		}
		i = j
	}
	return results, nil
}

// run runs one part, its URL resolved first.
func run(ctx context.Context, serviceRoot string, r Runner, p Part, byID map[string]*Result, tx sources.Writer) Result {
	target, err := resolve(serviceRoot, p.URL, byID)
	if err != nil {
		return r.Refuse(p.ID, odata.BadRequest(odata.CodeBadRequest, "%v", err))
	}
	return r.Run(ctx, p, target, tx)
}

var errChangeSetFailed = errors.New("change set failed")

// runChangeSet runs a group of writes in one transaction. When one fails,
// the transaction rolls back: that request keeps its error, the others
// answer 424.
func runChangeSet(ctx context.Context, serviceRoot string, r Runner, group []Part, byID map[string]*Result) ([]Result, error) {
	for _, p := range group {
		if p.Method == http.MethodGet || p.Method == http.MethodHead {
			return nil, odata.BadRequest(odata.CodeBadRequest, "a change set may hold only changes; %s %s is a read", p.Method, p.URL)
		}
	}
	var targets []string
	for _, p := range group {
		if t, err := resolve(serviceRoot, p.URL, byID); err == nil {
			targets = append(targets, t)
		}
	}
	var out []Result
	failedAt, ran := -1, false
	err := r.Atomically(ctx, targets, func(tx sources.Writer) error {
		out, failedAt, ran = out[:0], -1, true
		local := map[string]*Result{}
		for k, v := range byID {
			local[k] = v
		}
		for k, p := range group {
			res := run(ctx, serviceRoot, r, p, local, tx)
			out = append(out, res)
			local[res.ID] = &out[len(out)-1]
			if res.Status >= 400 {
				failedAt = k
				return errChangeSetFailed
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, errChangeSetFailed):
		all := make([]Result, len(group))
		for k, p := range group {
			if k == failedAt {
				all[k] = out[k]
			} else {
				all[k] = r.Refuse(p.ID, odata.FailedDependency(group[failedAt].ID))
			}
		}
		return all, nil
	}
	if !ran {
		return nil, err // no transaction began (none on this source, or no connection): the whole batch says so
	}
	// the commit itself failed: every request of the group reports it
	all := make([]Result, len(group))
	for k, p := range group {
		all[k] = r.Refuse(p.ID, err)
	}
	return all, nil
}
