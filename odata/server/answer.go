package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/format"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/odata/uri"
)

// splice decides what a body being written does with the parts that
// differ from one request to the next (the service root; a nextLink's own
// query options): a body the cache keeps leaves holes for them, filled in
// as each request is answered; any other body has them written in place.
type splice struct {
	keep  bool
	holes []cache.Hole
	r     *request // in place: the request whose parts they are
}

// part writes a per-request part at the end of b, or leaves its hole
// there. Offsets are into the whole body: a kept body is built in one
// buffer.
func (s *splice) part(b []byte, kind cache.HoleKind) []byte {
	if s.keep {
		s.holes = append(s.holes, cache.Hole{At: len(b), Kind: kind})
		return b
	}
	return append(b, s.r.fillOf(kind)...)
}

// root writes the service root (JSON-escaped), or leaves its hole.
func (s *splice) root(b []byte) []byte { return s.part(b, cache.HoleRoot) }

// inPlace is the splice of a body written for this request alone.
func (r *request) inPlace() *splice { return &splice{r: r} }

// fillOf is the JSON-escaped text of one per-request part, made once.
func (r *request) fillOf(kind cache.HoleKind) string {
	if r.filled&(1<<kind) == 0 {
		r.filled |= 1 << kind
		switch kind {
		case cache.HoleRoot:
			r.fills[kind] = escaped(r.root)
		case cache.HoleOptions:
			r.fills[kind] = escaped(nextOptions(r.req.URL.RawQuery))
		}
	}
	return r.fills[kind]
}

// fill is the text of every part an answer has holes for.
func (r *request) fill(a *cache.Answer) *cache.Fill {
	for _, h := range a.Holes {
		r.fillOf(h.Kind)
	}
	return &r.fills
}

// escaped is s as the inside of a JSON string; s itself when nothing in
// it needs escaping, as in every usual URL.
func escaped(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return string(format.AppendEscaped(nil, s))
		}
	}
	return s
}

// nextOptions are the request's own query options, as the client wrote
// them, that a nextLink repeats, each followed by '&': all but $skip (the
// skiptoken stands past it), $skiptoken and $top (written anew).
func nextOptions(rawQuery string) string {
	var b strings.Builder
	for pair := range uri.Pairs(rawQuery) {
		switch pair.Option() {
		case "$skip", "$skiptoken", "$top":
			continue
		}
		b.WriteString(pair.Raw)
		b.WriteByte('&')
	}
	return b.String()
}

// render writes an answer for the request, its parts spliced as sp says.
// It may run once for several requests asking the same at the same time
// (see cache.Answers.Answer): it reads the request's plan and negotiated
// format, which they share, and uses ctx for the database; it writes
// nothing of the request.
type render func(ctx context.Context, sp *splice) (*cache.Answer, error)

// AnswerCache is a source's answer cache as the server consults and
// fills it (package cache implements it): whole answers and counts kept
// per set, found again by a request's fingerprint, and told of writes.
type AnswerCache interface {
	// Keeps reports whether answers about set are kept.
	Keeps(set string) bool
	// Answer is the answer filed under text, kept, or rendered once for
	// every caller asking the same at the same time, and kept.
	Answer(ctx context.Context, set, text string, render func(context.Context) (*cache.Answer, error)) (*cache.Answer, error)
	// Count is the count filed under text, kept or counted once.
	Count(ctx context.Context, set, text string, count func(context.Context) (int64, error)) (int64, error)
	// Remember files that a request's fingerprint was planned into the
	// answer under text; Recall finds that answer again by it, fresh, for
	// a caller who may read its set.
	Remember(fingerprint, set, text string)
	Recall(ctx context.Context, fingerprint []byte, may cache.Reader) (*cache.Answer, string, bool)
	// Written says that a write changed set: nothing kept before is
	// answered again, here or on another replica.
	Written(set string)
	// Figures are its hits, misses and bytes, for the metrics.
	Figures() cache.Figures
	Close()
}

var _ AnswerCache = (*cache.Answers)(nil)

// keeper is the source's answer cache when it keeps answers about the
// planned set (not inside a change set, whose reads see its own writes).
func (r *request) keeper() AnswerCache {
	if r.answers == nil || r.tx != nil || r.plan.Set == nil || !r.answers.Keeps(r.plan.Set.Name) {
		return nil
	}
	return r.answers
}

// count counts q's rows: from the answer cache where it keeps the set,
// else from the source.
func (r *request) count(ctx context.Context, q *plan.Query) (int64, error) {
	if r.answers == nil || r.tx != nil {
		return r.src.Count(ctx, q)
	}
	return r.answers.Count(ctx, q.Set.Name, plan.CountKey(q), func(ctx context.Context) (int64, error) { return r.src.Count(ctx, q) })
}

// changed tells the answer cache that a write changed set; inside a
// change set, the batch tells it once the transaction has ended.
func (r *request) changed(set string) {
	if r.answers != nil && r.tx == nil {
		r.answers.Written(set)
	}
}

// answer serves the request from the source's cache when it keeps answers
// about the set: a kept answer, or one rendered now and kept for this
// request and every one like it. key gives the canonical form of
// everything the answer depends on (built only where the answer is kept).
// Otherwise the answer is rendered for this request alone.
func (r *request) answer(key func() string, write render) error {
	c := r.keeper()
	if c == nil {
		a, err := write(r.req.Context(), r.inPlace())
		if err != nil {
			return err
		}
		r.timing.mark("db")
		return r.sendAnswer(a)
	}
	text := key()
	a, err := c.Answer(r.req.Context(), r.plan.Set.Name, text, func(ctx context.Context) (*cache.Answer, error) {
		a, err := write(ctx, &splice{keep: true})
		if err != nil {
			return nil, err
		}
		a.Body = bytes.Clone(a.Body) // exactly its length: it is kept
		a.Holes = append([]cache.Hole(nil), a.Holes...)
		a.Seal()
		return a, nil
	})
	if err != nil {
		return err
	}
	r.timing.mark("db")
	if r.fingerprint != nil {
		c.Remember(string(r.fingerprint), r.plan.Set.Name, text)
	}
	return r.sendAnswer(a)
}

// shapeKey is what, besides the query, decides how an answer is written:
// the properties shown, the count, the JSON format and the version.
func (r *request) shapeKey() string {
	var b strings.Builder
	b.WriteString("|sel:")
	if r.plan.SelectExplicit {
		b.WriteByte('!')
	}
	for i, p := range r.plan.Select {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.Name)
	}
	b.WriteString("|count:" + strconv.FormatBool(r.plan.Count))
	b.WriteString("|json:" + r.json.ContentType())
	b.WriteString("|v:" + string(r.version))
	return b.String()
}

// fingerprint is a read request as sent, less what is filled in per
// request: its path and options as written, and the headers that shape
// its answer. Two requests with one fingerprint get one answer. It is
// written at the end of b (the request's own buffer: a hit allocates no
// fingerprint).
func (r *request) fingerprintOf(b []byte) []byte {
	b = append(b, r.version...)
	b = append(append(b, 0), r.escapedSubPath()...)
	b = append(append(b, 0), r.req.URL.RawQuery...)
	b = append(append(b, 0), r.req.Header.Get("Accept")...)
	for _, p := range r.req.Header.Values("Prefer") {
		b = append(append(b, 0), p...)
	}
	return b
}

// MayReadSet says whether the request's caller may read set (for Recall).
func (r *request) MayReadSet(set string) bool { return r.guard.MayRead(r.principal, set) }

// recall finds the kept answer of a read that was planned before, by its
// fingerprint, without parsing or planning it again; the caller's right
// to read the set is still decided now, and per-user sources still key
// answers by the caller.
func (r *request) recall() *cache.Answer {
	c := r.answers
	if c == nil || r.tx != nil || (r.req.Method != http.MethodGet && r.req.Method != http.MethodHead) || r.req.Header.Get(headerMethodTunnel) != "" {
		return nil
	}
	fp := r.fpBuf[:0]
	if r.svcAnswers != nil {
		// a service's answers are filed apart from its members' own
		fp = append(fp, r.svcAnswers.tag...)
	}
	r.fingerprint = r.fingerprintOf(fp)
	a, set, ok := c.Recall(r.req.Context(), r.fingerprint, r)
	if !ok {
		return nil
	}
	r.set = set
	if a.Shape != nil {
		r.shape = a.Shape.(*shapes.Shape)
	}
	r.timing.mark("cache")
	return a
}

// sendAnswer writes an answer: its headers, its ETag (304 when the client
// holds it, 412 when If-Match names another), and its body with this
// request's parts filled in, compressed when the client accepts gzip.
func (r *request) sendAnswer(a *cache.Answer) error {
	r.rowsSent += a.Rows
	r.cacheHeader()
	h := r.w.Header()
	if a.Status == http.StatusNoContent {
		h.Set("Server-Timing", r.timing.header())
		r.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	f := r.fill(a)
	if etag := a.ETag; etag != "" || a.BodyETag {
		if a.BodyETag {
			sum := sha256.Sum256(a.AppendTo(nil, f))
			etag = `W/"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		}
		h.Set(headerETag, etag)
		h.Set("Server-Timing", r.timing.header())
		if inm := r.req.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
			r.w.WriteHeader(http.StatusNotModified)
			return nil
		}
		if im := r.req.Header.Get("If-Match"); im != "" && !etagMatches(im, etag) {
			return errPrecondition
		}
	} else {
		h.Set("Server-Timing", r.timing.header())
	}
	h["Content-Type"] = a.ContentTypeHeader()
	if a.Applied != "" {
		h.Set("Preference-Applied", a.Applied)
	}
	n := a.Len(f)
	if r.inBatch {
		// a part's headers are written into the batch's body, which the
		// batch compresses, or not, as a whole
		r.w.WriteHeader(http.StatusOK)
		a.WriteTo(r.w, f)
		return nil
	}
	if n >= cache.MinGzip {
		h["Vary"] = varyHeader
		if acceptsGzip(r.req.Header.Values("Accept-Encoding")) {
			gz := a.Gzipped(f)
			h.Set("Content-Encoding", "gzip")
			h.Set("Content-Length", strconv.Itoa(len(gz)))
			r.w.WriteHeader(http.StatusOK)
			r.w.Write(gz)
			return nil
		}
	}
	h.Set("Content-Length", strconv.Itoa(n))
	r.w.WriteHeader(http.StatusOK)
	if n > smallAnswer {
		a.WriteTo(r.w, f) // an error here is a client gone away
		return nil
	}
	// a small answer goes out in one write, as a bare server sends it
	buf := smallBuffers.Get().(*[]byte)
	*buf = a.AppendTo((*buf)[:0], f)
	r.w.Write(*buf)
	smallBuffers.Put(buf)
	return nil
}

// smallAnswer is the largest answer copied into one buffer before it is
// written; larger ones are written in their parts.
const smallAnswer = 16 << 10

var smallBuffers = sync.Pool{New: func() any { b := make([]byte, 0, smallAnswer); return &b }}

var varyHeader = []string{"Accept-Encoding"}

var errPrecondition = &odata.Error{Status: http.StatusPreconditionFailed, Code: odata.CodePrecondition, Message: "the resource has changed since the ETag in If-Match was issued"}

// acceptsGzip reads Accept-Encoding: gzip (or *) with a weight above 0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, coding := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(coding, ";")
			name = strings.TrimSpace(name)
			if !strings.EqualFold(name, "gzip") && name != "*" {
				continue
			}
			q := strings.TrimSpace(params)
			if w, ok := strings.CutPrefix(strings.ReplaceAll(q, " ", ""), "q="); ok {
				if f, err := strconv.ParseFloat(w, 64); err == nil && f == 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}
