package server

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/odata/format"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
)

// page is how one response of a collection is paged, as the plan sized
// it.
type page = plan.Page

// serveCollection answers one page of an entity set: the count (run beside
// the page query), the rows, and a nextLink that continues after the last
// row written. A page the cache keeps is written whole, as an answer;
// any other streams as its rows arrive.
func (r *request) serveCollection() error {
	q := &r.plan.Query // its skiptoken's position and its Limit are set (plan.BuildWith)
	pg := r.plan.Page
	if err := r.startTracking(); err != nil {
		return err
	}
	if r.deltaLink == "" && pg.Limit > 0 && pg.Limit <= cache.MaxCachedRows && r.keeper() != nil {
		text := func() string {
			return "page|" + plan.QueryKey(q) + r.shapeKey() + "|page:" + strconv.Itoa(pg.Size) + "," +
				strconv.FormatInt(pg.Top, 10) + "," + strconv.FormatBool(pg.Applied)
		}
		return r.answer(text, func(ctx context.Context, sp *splice) (*cache.Answer, error) { return r.renderPage(ctx, sp, pg) })
	}

	// take every query slot this request needs at once: the page query and
	// the count run side by side on two connections
	var need int64
	if pg.Limit > 0 {
		need++
	}
	if r.plan.Count && (need == 0 || r.slots.sideBySide()) {
		need++
	}
	held, err := r.querySlots(r.plan.Set.Name, need)
	if err != nil {
		return err
	}
	defer func() { r.slots.release(held) }()
	res, err := r.fetch(r.req.Context(), q, pg.Limit > 0, &held)
	if err != nil {
		return err
	}
	if res.rows != nil {
		defer res.rows.Close()
	}
	r.timing.mark("db")
	r.streamPage(pg, res)
	return nil
}

// renderPage reads a page and writes it whole, as an answer.
func (r *request) renderPage(ctx context.Context, sp *splice, pg page) (*cache.Answer, error) {
	var held int64 // the cache reads answers whole: no query slot is taken
	res, err := r.fetch(ctx, &r.plan.Query, true, &held)
	if err != nil {
		return nil, err
	}
	if res.rows != nil {
		defer res.rows.Close()
	}
	b, written, err := r.pageBody(nil, sp, pg, res, nil)
	if err != nil {
		return nil, err
	}
	return &cache.Answer{ContentType: r.json.ContentType(), Applied: r.preferenceApplied(pg), Rows: written, Body: b, Holes: sp.holes, Shape: r.shape}, nil
}

// fetched is what the database answered for one page: its rows, already
// on the first one when hasRow, and the count when asked.
type fetched struct {
	rows   sources.Rows
	hasRow bool
	count  int64
}

// fetch runs the page query (when rows are wanted) and, when the plan
// asks, the count beside it on a second connection, or before it where the
// source has only one. The first row is read here, so that a failing query
// still gets a proper error status. Once the count is in, its query slot is
// given back (held counts the slots still taken).
func (r *request) fetch(ctx context.Context, q *plan.Query, withRows bool, held *int64) (fetched, error) {
	type countResult struct {
		n   int64
		err error
	}
	// what the request waits for: both statements, side by side or one
	// after the other
	defer func(start time.Time) {
		if r.db.page.Load()+r.db.count.Load() > 0 {
			r.db.waited.Add(int64(time.Since(start)))
		}
	}(time.Now())
	var counted chan countResult
	if r.plan.Count {
		counted = make(chan countResult, 1)
		count := func() {
			start, cctx := time.Now(), cache.WithStatus(ctx)
			n, err := r.count(cctx, q)
			r.database(q.Set.Name, "count", cache.StatusOf(cctx), time.Since(start))
			counted <- countResult{n, err}
		}
		if withRows && !r.slots.sideBySide() {
			count()
		} else {
			go count()
		}
	}
	var res fetched
	var err error
	if withRows {
		start, qctx := time.Now(), cache.WithStatus(ctx)
		if res.rows, err = r.src.Query(qctx, q); err == nil {
			if res.hasRow = res.rows.Next(); !res.hasRow {
				err = res.rows.Err()
			}
		}
		r.database(q.Set.Name, "query", cache.StatusOf(qctx), time.Since(start))
	}
	if counted != nil {
		c := <-counted
		if *held > 1 {
			r.slots.release(1) // the count's connection is back in the pool
			*held--
		}
		if err == nil {
			res.count, err = c.n, c.err
		}
	}
	if err != nil && res.rows != nil {
		res.rows.Close()
	}
	if err != nil {
		return fetched{}, err
	}
	return res, nil
}

// pageWriter is what a page is written through: rows are appended to b
// and go out in 16 KB steps through bw's 32 KB buffer. They are kept for
// the next page: made for every request, they were the largest allocation
// of a small list view (a 32 KB buffer cleared and collected each time).
type pageWriter struct {
	bw *bufio.Writer
	b  []byte
}

var pageWriters = sync.Pool{New: func() any {
	return &pageWriter{bw: bufio.NewWriterSize(nil, 32<<10), b: make([]byte, 0, 4096)}
}}

// maxPooledPage bounds the row buffer kept for the next page (a page of
// wide rows may have grown it).
const maxPooledPage = 64 << 10

// streamPage writes the page as its rows arrive.
func (r *request) streamPage(pg page, res fetched) {
	r.cacheHeader()
	h := r.w.Header()
	h.Set("Content-Type", r.json.ContentType())
	h.Set("Server-Timing", r.timing.header())
	if applied := r.preferenceApplied(pg); applied != "" {
		h.Set("Preference-Applied", applied)
	}
	r.w.WriteHeader(http.StatusOK)
	pw := pageWriters.Get().(*pageWriter)
	bw := pw.bw
	bw.Reset(r.w)
	b := pw.b[:0]
	defer func() {
		bw.Reset(nil)
		if cap(b) <= maxPooledPage {
			pw.b = b[:0]
			pageWriters.Put(pw)
		}
	}()
	var err error
	b, written, err := r.pageBody(b, r.inPlace(), pg, res, func(part []byte) error {
		_, err := bw.Write(part)
		return err
	})
	r.rowsSent += written
	if err == errClientGone {
		return
	}
	if err != nil {
		// the status is sent; cut the connection so the client sees a
		// failed response, not a short one that looks whole
		r.srv.log.Error("query failed while streaming", "source", r.name, "error", err)
		bw.Write(b)
		bw.Flush()
		panic(http.ErrAbortHandler)
	}
	bw.Write(b)
	bw.Flush()
}

// errClientGone is a streamed page's write failing: the client went away.
var errClientGone = errors.New("the client went away")

// pageBody writes a page's body after b: the context, the count, the rows
// until the page size or the response budget is reached, and the nextLink.
// out, when given, takes the body in 16 KB steps as it grows (a streamed
// page; it returns what is left to write); without it the body is built
// whole. An error reading the rows ends it.
func (r *request) pageBody(b []byte, sp *splice, pg page, res fetched, out func([]byte) error) ([]byte, int, error) {
	var count *int64
	if r.plan.Count {
		count = &res.count
	}
	b = format.AppendCollectionStart(b, r.json, sp.root, r.contextPath(""), count)
	w := newEntityWriter(r, sp)
	written, bytes := 0, 0
	more := false
	var lastSort []any
	for hasRow := res.hasRow; hasRow; hasRow = res.rows.Next() {
		if written == pg.Size || (written > 0 && bytes+len(b) > r.srv.cfg.ResponseBudget) {
			more = true
			break
		}
		if written > 0 {
			b = append(b, ',')
		}
		b = w.AppendEntity(b, res.rows.Values(), nil, nil)
		lastSort = res.rows.Sort()
		written++
		if out != nil && len(b) > 16<<10 {
			bytes += len(b)
			if out(b) != nil {
				return b[:0], written, errClientGone
			}
			b = b[:0]
		}
	}
	if res.rows != nil && !more {
		if err := res.rows.Err(); err != nil {
			return b, written, err
		}
	}
	var next func([]byte) []byte
	if more && (pg.Top < 0 || int64(written) < pg.Top) {
		next = func(b []byte) []byte {
			b = format.AppendEscaped(sp.root(b), r.plan.Set.Name+"?")
			b = sp.part(b, cache.HoleOptions)
			return format.AppendEscaped(b, r.nextTail(pg, written, lastSort))
		}
	}
	return format.AppendCollectionEnd(b, next, r.deltaLink), written, nil
}

// nextTail ends a nextLink, after the request's own options (see
// nextOptions): $top reduced by the rows sent, and a skiptoken after the
// last row sent.
func (r *request) nextTail(pg page, written int, lastSort []any) string {
	tail := ""
	if pg.Top >= 0 {
		tail = "$top=" + strconv.FormatInt(pg.Top-int64(written), 10) + "&"
	}
	return tail + "$skiptoken=" + url.QueryEscape(r.srv.signer.Encode(r.svc.Version(), &r.plan.Query, lastSort))
}
