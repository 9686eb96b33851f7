package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
)

// MaxBatchRequests bounds the requests of one $batch.
const MaxBatchRequests = 1000

// batchPart is one request of a batch.
type batchPart struct {
	id        string // Content-ID or JSON id
	method    string
	url       string
	header    http.Header
	body      []byte
	group     string // change set or atomicity group; "" for none
	dependsOn []string
}

// batchResult is the answer to one part.
type batchResult struct {
	id     string
	status int
	header http.Header
	body   []byte
}

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

// serveBatch answers POST $batch: parts run in order, each through the
// OData pipeline; the writes of one change set (multipart) or atomicity
// group (JSON) share one transaction and happen all or not at all.
func (r *request) serveBatch(method string) error {
	if method != http.MethodPost {
		r.w.Header().Set("Allow", "POST")
		return odata.MethodNotAllowed(method, "$batch")
	}
	if r.inBatch {
		return odata.BadRequest(odata.CodeBadRequest, "a $batch cannot contain another $batch")
	}
	ct := r.req.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return &odata.Error{Status: http.StatusUnsupportedMediaType, Code: odata.CodeUnsupportedMedia,
			Message: "$batch needs Content-Type application/json or multipart/mixed with a boundary"}
	}
	body, berr := r.readBody(false)
	if berr != nil {
		return berr
	}
	var parts []batchPart
	switch mt {
	case "application/json":
		parts, err = parseJSONBatch(body)
	case "multipart/mixed":
		parts, err = parseMultipartBatch(body, params["boundary"])
	default:
		return &odata.Error{Status: http.StatusUnsupportedMediaType, Code: odata.CodeUnsupportedMedia,
			Message: "$batch needs Content-Type application/json or multipart/mixed, not " + mt}
	}
	if err != nil {
		return odata.BadRequest(odata.CodeBadRequest, "the $batch body is malformed: %v", err)
	}
	if len(parts) > MaxBatchRequests {
		return odata.BadRequest(odata.CodeBadRequest, "a $batch may hold at most %d requests", MaxBatchRequests)
	}
	results, rerr := r.runBatch(parts)
	if rerr != nil {
		return rerr
	}
	if mt == "application/json" {
		return r.writeJSONBatch(results)
	}
	return r.writeMultipartBatch(parts, results)
}

func (r *request) runBatch(parts []batchPart) ([]batchResult, error) {
	ctx := r.req.Context()
	results := make([]batchResult, 0, len(parts))
	byID := map[string]*batchResult{}
	failed := map[string]bool{}
	for i := 0; i < len(parts); {
		j := i + 1
		if g := parts[i].group; g != "" {
			for j < len(parts) && parts[j].group == g {
				j++
			}
		}
		group := parts[i:j]
		var out []batchResult
		blocked := ""
		for _, p := range group {
			for _, d := range p.dependsOn {
				if failed[d] {
					blocked = d
				}
			}
		}
		switch {
		case blocked != "":
			for _, p := range group {
				out = append(out, r.errorResult(p.id, odata.FailedDependency(blocked)))
			}
		case parts[i].group == "":
			out = []batchResult{r.dispatch(ctx, parts[i], byID, nil)}
		default:
			var err error
			out, err = r.runChangeSet(ctx, group, byID)
			if err != nil {
				return nil, err
			}
		}
		for k := range out {
			results = append(results, out[k])
			byID[out[k].id] = &results[len(results)-1]
			if out[k].status >= 400 {
				failed[out[k].id] = true
			}
		}
		i = j
	}
	return results, nil
}

var errChangeSetFailed = errors.New("change set failed")

// runChangeSet runs a group of writes in one transaction. When one fails,
// the transaction rolls back: that request keeps its error, the others
// answer 424.
func (r *request) runChangeSet(ctx context.Context, group []batchPart, byID map[string]*batchResult) ([]batchResult, error) {
	for _, p := range group {
		if p.method == http.MethodGet || p.method == http.MethodHead {
			return nil, odata.BadRequest(odata.CodeBadRequest, "a change set may hold only changes; %s %s is a read", p.method, p.url)
		}
	}
	tr, ok := sources.As[sources.Transactor](r.src)
	if !ok {
		return nil, odata.NotImplemented("change sets on this data source")
	}
	if err := r.slots.acquire(ctx, 1); err != nil {
		return nil, err
	}
	defer r.slots.release(1)
	var out []batchResult
	failedAt := -1
	// the sets the change set writes: their kept answers go once it ends
	touched := map[string]bool{}
	defer func() {
		if r.answers != nil {
			for set := range touched {
				r.answers.Written(set)
			}
		}
	}()
	err := tr.Atomically(ctx, func(inner sources.Writer) error {
		w := touching{inner, touched}
		out, failedAt = out[:0], -1
		local := map[string]*batchResult{}
		for k, v := range byID {
			local[k] = v
		}
		for k, p := range group {
			res := r.dispatch(ctx, p, local, w)
			out = append(out, res)
			local[res.id] = &out[len(out)-1]
			if res.status >= 400 {
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
		all := make([]batchResult, len(group))
		for k, p := range group {
			if k == failedAt {
				all[k] = out[k]
			} else {
				all[k] = r.errorResult(p.id, odata.FailedDependency(group[failedAt].id))
			}
		}
		return all, nil
	}
	// the commit itself failed: every request of the group reports it
	all := make([]batchResult, len(group))
	for k, p := range group {
		all[k] = r.errorResult(p.id, err)
	}
	return all, nil
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

// resolve turns a part's URL into a path below this service root: relative
// to the root, an absolute path, an absolute URL, or $id/... naming the
// entity an earlier request created.
func (r *request) resolve(raw string, byID map[string]*batchResult) (string, error) {
	// a space cannot stand in a URL; clients that write one mean %20
	raw = strings.ReplaceAll(raw, " ", "%20")
	if strings.HasPrefix(raw, "$") {
		ref, rest, _ := strings.Cut(raw[1:], "/")
		prev, ok := byID[ref]
		if !ok && ref != "" && !strings.HasPrefix(ref, "metadata") && !strings.HasPrefix(ref, "batch") {
			return "", fmt.Errorf("$%s refers to no earlier request of this batch", ref)
		}
		if ok {
			loc := prev.header.Get("Location")
			if loc == "" {
				return "", fmt.Errorf("request %s created no entity to refer to", ref)
			}
			raw = loc
			if rest != "" {
				raw += "/" + rest
			}
		}
	}
	root, _ := url.Parse(r.root)
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("malformed URL %q", raw)
	}
	switch {
	case u.IsAbs() || strings.HasPrefix(raw, "/"):
		if !strings.HasPrefix(u.EscapedPath(), root.EscapedPath()) {
			return "", fmt.Errorf("%q is not below the service root %s", raw, r.root)
		}
		return u.RequestURI(), nil
	}
	return root.EscapedPath() + raw, nil
}

// dispatch runs one part through the OData pipeline, inside tx when
// given. A part is not a request of its own: it runs on the $batch's
// source, as its caller, within the rate limit the $batch was charged, so
// neither its headers nor a new client address can change who pays for it.
func (r *request) dispatch(ctx context.Context, p batchPart, byID map[string]*batchResult, tx sources.Writer) batchResult {
	target, err := r.resolve(p.url, byID)
	if err != nil {
		return r.errorResult(p.id, odata.BadRequest(odata.CodeBadRequest, "%v", err))
	}
	if lim := r.srv.limiter; lim != nil {
		if ok, wait := lim.Allow(r.client); !ok {
			res := r.errorResult(p.id, tooManyRequests(wait))
			res.header.Set("Retry-After", retryAfter(wait))
			return res
		}
	}
	req, err := http.NewRequestWithContext(cache.WithStatus(ctx), p.method, target, bytes.NewReader(p.body))
	if err != nil {
		return r.errorResult(p.id, odata.BadRequest(odata.CodeBadRequest, "request %s: %v", p.id, err))
	}
	req.Host, req.TLS = r.req.Host, r.req.TLS
	for k, v := range p.header {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" && len(p.body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	part := &request{w: rec, req: req, srv: r.srv, name: r.name, src: r.src, answers: r.answers, slots: r.slots, svc: r.svc,
		root: r.root, guard: r.guard, principal: r.principal, client: r.client, inBatch: true, tx: tx, timing: serverTiming{start: time.Now()}}
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
	return batchResult{id: p.id, status: rec.Status(), header: rec.header, body: rec.body.Bytes()}
}

// errorResult is a part's error answer, written as every other error is.
func (r *request) errorResult(id string, err error) batchResult {
	rec := &recorder{header: http.Header{}}
	writeError(rec, r.req, r.srv.log, err)
	return batchResult{id: id, status: rec.Status(), header: rec.header, body: rec.body.Bytes()}
}

// JSON batch format (OData 4.01)

type jsonRequest struct {
	ID             string            `json:"id"`
	Method         string            `json:"method"`
	URL            string            `json:"url"`
	AtomicityGroup string            `json:"atomicityGroup"`
	DependsOn      []string          `json:"dependsOn"`
	Headers        map[string]string `json:"headers"`
	Body           json.RawMessage   `json:"body"`
}

func parseJSONBatch(body []byte) ([]batchPart, error) {
	var doc struct {
		Requests []jsonRequest `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	closed := map[string]bool{}
	var parts []batchPart
	for i, q := range doc.Requests {
		if q.ID == "" {
			return nil, fmt.Errorf("request %d has no id", i+1)
		}
		if seen[q.ID] {
			return nil, fmt.Errorf("id %q is used twice", q.ID)
		}
		seen[q.ID] = true
		if q.Method == "" || q.URL == "" {
			return nil, fmt.Errorf("request %s needs a method and a url", q.ID)
		}
		if g := q.AtomicityGroup; g != "" {
			if closed[g] {
				return nil, fmt.Errorf("the requests of atomicity group %q must be adjacent", g)
			}
			if i > 0 && doc.Requests[i-1].AtomicityGroup != g && doc.Requests[i-1].AtomicityGroup != "" {
				closed[doc.Requests[i-1].AtomicityGroup] = true
			}
		} else if i > 0 && doc.Requests[i-1].AtomicityGroup != "" {
			closed[doc.Requests[i-1].AtomicityGroup] = true
		}
		for _, d := range q.DependsOn {
			if !seen[d] || d == q.ID {
				return nil, fmt.Errorf("request %s depends on %q, which does not come before it", q.ID, d)
			}
		}
		h := http.Header{}
		for k, v := range q.Headers {
			h.Set(k, v)
		}
		var b []byte
		if len(q.Body) > 0 && string(q.Body) != "null" {
			var s string
			if json.Unmarshal(q.Body, &s) == nil {
				b = []byte(s)
			} else {
				b = q.Body
			}
		}
		parts = append(parts, batchPart{id: q.ID, method: strings.ToUpper(q.Method), url: q.URL, header: h,
			body: b, group: q.AtomicityGroup, dependsOn: q.DependsOn})
	}
	return parts, nil
}

func (r *request) writeJSONBatch(results []batchResult) error {
	var b bytes.Buffer
	b.WriteString(`{"responses":[`)
	for i, res := range results {
		if i > 0 {
			b.WriteByte(',')
		}
		headers := map[string]string{}
		for _, k := range []string{"Content-Type", "Location", "OData-EntityId", "ETag", "Preference-Applied", "OData-Version"} {
			if v := res.header.Get(k); v != "" {
				headers[strings.ToLower(k)] = v
			}
		}
		item := map[string]any{"id": res.id, "status": res.status, "headers": headers}
		if len(res.body) > 0 {
			if json.Valid(res.body) {
				item["body"] = json.RawMessage(res.body)
			} else {
				item["body"] = string(res.body)
			}
		}
		enc, _ := json.Marshal(item)
		b.Write(enc)
	}
	b.WriteString("]}")
	r.send(http.StatusOK, "application/json", b.Bytes())
	return nil
}

// multipart batch format (OData 4.0)

func parseMultipartBatch(body []byte, boundary string) ([]batchPart, error) {
	if boundary == "" {
		return nil, errors.New("multipart/mixed needs a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []batchPart
	sets := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		mt, params, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if mt == "multipart/mixed" {
			sets++
			group := "changeset" + strconv.Itoa(sets)
			inner := multipart.NewReader(part, params["boundary"])
			for {
				ip, err := inner.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, err
				}
				bp, err := readHTTPPart(ip, len(parts))
				if err != nil {
					return nil, err
				}
				bp.group = group
				parts = append(parts, bp)
			}
			continue
		}
		bp, err := readHTTPPart(part, len(parts))
		if err != nil {
			return nil, err
		}
		parts = append(parts, bp)
	}
}

// readHTTPPart reads an application/http part: request line, headers, body.
func readHTTPPart(part *multipart.Part, index int) (batchPart, error) {
	id := strings.TrimSpace(part.Header.Get("Content-ID"))
	if id == "" {
		id = "part" + strconv.Itoa(index+1)
	}
	br := bufio.NewReader(part)
	line, err := br.ReadString('\n')
	if err != nil && line == "" {
		return batchPart{}, fmt.Errorf("part %s has no request line", id)
	}
	method, target, err := parseRequestLine(line)
	if err != nil {
		return batchPart{}, fmt.Errorf("part %s: %v", id, err)
	}
	mh, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return batchPart{}, fmt.Errorf("part %s: %v", id, err)
	}
	body, _ := io.ReadAll(br)
	body = bytes.TrimRight(body, "\r\n")
	return batchPart{id: id, method: method, url: target, header: http.Header(mh), body: body}, nil
}

// httpVersion ends a request line: " HTTP/1.1".
var httpVersion = regexp.MustCompile(` +HTTP/[0-9]+(\.[0-9]+)?$`)

// parseRequestLine reads a part's request line, METHOD URL HTTP/x.y. Some
// clients (@odata/client among them) put the URL in it as they would pass
// it to fetch, spaces unescaped ($orderby=id desc): everything between the
// method and the version is the URL (resolve reads its spaces as %20). Cutting at
// the first space instead would answer a different query ($orderby=id).
// A line with spaces in its URL and no version cannot be read for sure,
// so it is refused.
func parseRequestLine(line string) (method, target string, err error) {
	line = strings.TrimRight(line, "\r\n ")
	method, rest, ok := strings.Cut(strings.TrimLeft(line, " "), " ")
	if !ok || method == "" {
		return "", "", fmt.Errorf("malformed request line %q: it needs a method and a URL", line)
	}
	for _, c := range method {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return "", "", fmt.Errorf("malformed request line %q: %q is not a method", line, method)
		}
	}
	rest = " " + strings.TrimLeft(rest, " ")
	if loc := httpVersion.FindStringIndex(rest); loc != nil {
		rest = rest[:loc[0]]
	} else if strings.Contains(rest[1:], " ") {
		return "", "", fmt.Errorf("the request line %q has spaces in its URL and no HTTP version after it: end it with HTTP/1.1, or percent-encode the spaces as %%20", line)
	}
	rest = strings.Trim(rest, " ")
	if rest == "" {
		return "", "", fmt.Errorf("malformed request line %q: it needs a URL", line)
	}
	for _, c := range rest {
		if c < 0x20 || c == 0x7f {
			return "", "", fmt.Errorf("malformed request line %q: the URL holds a control character", line)
		}
	}
	return strings.ToUpper(method), rest, nil
}

func (r *request) writeMultipartBatch(parts []batchPart, results []batchResult) error {
	var b bytes.Buffer
	boundary := "batchresponse_" + randomHex()
	mw := multipart.NewWriter(&b)
	mw.SetBoundary(boundary)
	for i := 0; i < len(results); {
		group := parts[i].group
		j := i + 1
		for group != "" && j < len(results) && parts[j].group == group {
			j++
		}
		if group == "" {
			writeHTTPPart(mw, results[i])
			i = j
			continue
		}
		// a failed change set answers with one response: the failure
		failed := -1
		for k := i; k < j; k++ {
			if results[k].status >= 400 && results[k].status != http.StatusFailedDependency {
				failed = k
			}
		}
		if failed >= 0 {
			writeHTTPPart(mw, results[failed])
			i = j
			continue
		}
		var cs bytes.Buffer
		cw := multipart.NewWriter(&cs)
		cw.SetBoundary("changesetresponse_" + randomHex())
		for k := i; k < j; k++ {
			writeHTTPPart(cw, results[k])
		}
		cw.Close()
		pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + cw.Boundary()}})
		pw.Write(cs.Bytes())
		i = j
	}
	mw.Close()
	r.send(http.StatusOK, "multipart/mixed; boundary="+boundary, b.Bytes())
	return nil
}

func writeHTTPPart(mw *multipart.Writer, res batchResult) {
	h := textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}}
	if !strings.HasPrefix(res.id, "part") {
		h.Set("Content-ID", res.id)
	}
	pw, _ := mw.CreatePart(h)
	fmt.Fprintf(pw, "HTTP/1.1 %d %s\r\n", res.status, http.StatusText(res.status))
	for _, k := range []string{"Content-Type", "Location", "OData-EntityId", "ETag", "Preference-Applied", "OData-Version"} {
		if v := res.header.Get(k); v != "" {
			fmt.Fprintf(pw, "%s: %s\r\n", k, v)
		}
	}
	pw.Write([]byte("\r\n"))
	pw.Write(res.body)
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
