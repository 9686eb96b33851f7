// Package shapes groups what a source serves by the shape of the request:
// the entity set, the filter with its literals taken out, the order, how
// wide the select is, search, count, the page size band, a first page or a
// nextLink, or which write. Per shape it keeps, for the last hour and the
// last 24, calls, errors, timeouts, cache hits, rows and the spread of
// total and database time, in a table bounded in size: the costliest
// shapes by total time stay, the cheapest go. Nothing about one request is
// kept beyond its shape, and no literal value unless the admin turns on
// sampling for that shape. It follows the runs of pages one caller reads
// of one query, and names a shape whose runs are long a report scan. It
// also counts Salesforce's callouts per hour, per source and per caller,
// against the org's hourly limit.
package shapes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/odatagw/odatagw/odata/plan"
)

// Shape is one kind of request, with no literal value in it.
type Shape struct {
	Set      string   `json:"set"`
	Method   string   `json:"method"`           // GET, or the write's method
	Filter   string   `json:"filter,omitempty"` // the filter's form, literals as ?
	OrderBy  string   `json:"orderby,omitempty"`
	Select   int      `json:"select"` // properties selected (0: every one)
	Search   bool     `json:"search,omitempty"`
	Count    bool     `json:"count,omitempty"`
	Page     string   `json:"page,omitempty"` // the page size band: 1, 2-26, 27-202, 203-2000
	NextLink bool     `json:"next_link,omitempty"`
	ByKey    bool     `json:"by_key,omitempty"`   // Set(key)
	Columns  []string `json:"columns,omitempty"`  // the columns the filter reads, for index advice
	Sorts    []string `json:"sorts,omitempty"`    // the columns the order reads
	Selected []string `json:"selected,omitempty"` // the properties $select names, for the summary a report scan suggests
	Patterns []string `json:"patterns,omitempty"` // columns matched by contains/endswith/$search (trigram) or startswith (prefix:)
	// Refused is a request refused before it was planned (credentials,
	// a malformed option, a feature answered 501): only its set and
	// method are known.
	Refused bool `json:"refused,omitempty"`

	id string // ID, made once by Identified: a cached answer's shape is counted without hashing it again
	// q is query(), made once by Identified: the pages of a scan are
	// matched without formatting it on every request
	q string
}

// Identified is the shape with its ID made, once, so that recording it
// costs no hashing.
func (s Shape) Identified() Shape {
	s.id = s.makeID()
	s.q = s.query()
	return s
}

// query is the text of what a shape asks, whatever its page: the pages of
// one scan share it.
func (s Shape) query() string {
	return fmt.Sprintf("%s %s f=%s o=%s sel=%d s=%v", s.Method, s.Set, s.Filter, s.OrderBy, s.Select, s.Search)
}

// Key is the shape's canonical text.
func (s Shape) Key() string {
	key := fmt.Sprintf("%s %s f=%s o=%s sel=%d s=%v c=%v p=%s n=%v k=%v", s.Method, s.Set, s.Filter, s.OrderBy, s.Select, s.Search, s.Count, s.Page, s.NextLink, s.ByKey)
	if s.Refused {
		key += " refused"
	}
	return key
}

// ID names a shape in URLs: a digest of its key.
func (s Shape) ID() string {
	if s.id != "" {
		return s.id
	}
	return s.makeID()
}

func (s Shape) makeID() string {
	sum := sha256.Sum256([]byte(s.Key()))
	return hex.EncodeToString(sum[:6])
}

// Name is what Salesforce sends such a request for, where the shape says.
func (s Shape) Name() string {
	switch {
	case s.Refused:
		return "refused request"
	case s.Set == "$batch":
		return "batch"
	case s.Method == "POST":
		return "create"
	case s.Method == "PATCH" || s.Method == "PUT" || s.Method == "MERGE":
		return "edit"
	case s.Method == "DELETE":
		return "delete"
	case s.ByKey:
		return "record page"
	case s.NextLink:
		return "SOQL page (nextLink)"
	case s.Search:
		return "search"
	case s.Page == "203-2000":
		return "SOQL page or sync"
	case s.Page == "2-26" && oneEquality.MatchString(s.Filter):
		return "related list" // the child's foreign key equal to the parent's key
	case s.Filter != "" && strings.Contains(s.Filter, "contains("):
		return "search"
	case s.Page == "2-26":
		return "list view"
	case s.Page == "1":
		return "lookup"
	}
	return "query"
}

var oneEquality = regexp.MustCompile(`^\(\w+ eq \?\)$`)

// Of is the shape of a read: its plan, and whether it came as a nextLink.
func Of(p *plan.Plan, method string) Shape { return of(p, method).Identified() }

func of(p *plan.Plan, method string) Shape {
	s := Shape{Method: method, Count: p.Count, NextLink: p.SkipToken != nil}
	if p.Set != nil {
		s.Set = p.Set.Name
	}
	if p.SelectExplicit {
		s.Select = len(p.Select)
		for _, prop := range p.Select {
			s.Selected = append(s.Selected, prop.Name)
		}
	}
	if len(p.Key) > 0 {
		s.ByKey = true
		return s
	}
	q := &p.Query
	if q.Set != nil {
		s.Set = q.Set.Name
	}
	if q.Where != nil {
		var b strings.Builder
		w := walker{s: &s}
		w.write(&b, q.Where)
		s.Filter = b.String()
	}
	var order []string
	for _, o := range q.OrderBy {
		d := "asc"
		if o.Desc {
			d = "desc"
		}
		order = append(order, plan.Canonical(o.Expr)+" "+d)
		if r, ok := o.Expr.(*plan.PropRef); ok {
			s.Sorts = append(s.Sorts, r.Prop.Column)
		}
	}
	s.OrderBy = strings.Join(order, ",")
	// the page size as asked ($top), else the server's page
	n := int64(p.Page.Size)
	if p.Top != nil {
		n = *p.Top
	}
	switch {
	case n == 1:
		s.Page = "1"
	case n > 1 && n <= 26:
		s.Page = "2-26"
	case n > 26 && n <= 202:
		s.Page = "27-202"
	case n > 202:
		s.Page = "203-2000"
	}
	return s
}

// walker writes a filter's form with ? for every literal, and notes the
// columns it reads and how.
type walker struct{ s *Shape }

func (w walker) write(b *strings.Builder, e plan.Expr) {
	switch v := e.(type) {
	case *plan.PropRef:
		b.WriteString(v.Prop.Name)
		w.column(v.Prop.Column)
	case *plan.Const:
		if v.Value == nil {
			b.WriteString("null")
		} else {
			b.WriteString("?")
		}
	case *plan.Binary:
		b.WriteString("(")
		w.write(b, v.Left)
		b.WriteString(" " + v.Op.String() + " ")
		w.write(b, v.Right)
		b.WriteString(")")
	case *plan.Not:
		b.WriteString("not(")
		w.write(b, v.X)
		b.WriteString(")")
	case *plan.Negate:
		b.WriteString("-(")
		w.write(b, v.X)
		b.WriteString(")")
	case *plan.Call:
		if v.Func == plan.FnSearchMatch {
			w.s.Search = true
		}
		if len(v.Args) > 0 {
			if r, ok := v.Args[0].(*plan.PropRef); ok {
				switch v.Func {
				case plan.FnContains, plan.FnEndsWith, plan.FnSearchMatch:
					w.pattern(r.Prop.Column)
				case plan.FnStartsWith:
					w.pattern("prefix:" + r.Prop.Column)
				}
			}
		}
		b.WriteString(v.Func.String() + "(")
		for i, a := range v.Args {
			if i > 0 {
				b.WriteString(",")
			}
			w.write(b, a)
		}
		b.WriteString(")")
	case *plan.In:
		w.write(b, v.X)
		b.WriteString(" in (?…)") // a list of any length is one shape
	}
}

func (w walker) column(c string) {
	for _, x := range w.s.Columns {
		if x == c {
			return
		}
	}
	w.s.Columns = append(w.s.Columns, c)
}

func (w walker) pattern(c string) {
	for _, x := range w.s.Patterns {
		if x == c {
			return
		}
	}
	w.s.Patterns = append(w.s.Patterns, c)
}

// Observation is what one request did.
type Observation struct {
	Shape    Shape
	User     string // the caller, "" when anonymous
	Status   int
	CacheHit bool
	Total    time.Duration
	// DB is the time the request waited for the database: a page and its
	// count run side by side, so it is the longer of the two there, not
	// their sum. PageDB and CountDB are each statement's own (0: not run).
	DB, PageDB, CountDB time.Duration
	Rows                int   // entities sent
	Bytes               int64 // the answer's body, as sent
	// Continues: the request asks for a later page of a query (a
	// nextLink, or $skip), which a scan is made of.
	Continues bool
	// SQL is the statement the source ran, with placeholders, and its
	// values, kept only while the shape is sampled; CountSQL the count's
	// beside it, where one ran.
	SQL, CountSQL func() (string, []any)
	When          time.Time
	// OnStandby and OnPrimary count the request's statements by where
	// they ran, for a source with standbys.
	OnStandby, OnPrimary int
}

// Failure says what a status means to the admin: an error to act on
// (5xx, a timeout among them), a refusal of the request as sent (4xx), or
// neither.
func Failure(status int) string {
	switch {
	case status >= 500:
		return "error"
	case status >= 400:
		return "refusal"
	}
	return ""
}

// bins of the latency histograms: upper bounds 0.1 ms × 2^i
const bins = 24

func bin(d time.Duration) int {
	b := 0
	for limit := 100 * time.Microsecond; d > limit && b < bins-1; limit *= 2 {
		b++
	}
	return b
}

func binUpper(b int) time.Duration { return 100 * time.Microsecond << b }

type hist [bins]uint32

func (h *hist) add(o hist) {
	for i := range h {
		h[i] += o[i]
	}
}

func (h *hist) quantile(q float64) time.Duration {
	var n uint64
	for _, c := range h {
		n += uint64(c)
	}
	if n == 0 {
		return 0
	}
	want := uint64(q*float64(n) + 0.5)
	var seen uint64
	for i, c := range h {
		seen += uint64(c)
		if seen >= want && c > 0 {
			return binUpper(i)
		}
	}
	return binUpper(bins - 1)
}

type hour struct {
	at                                int64 // unix hour
	calls, errors, timeouts, hits     int64
	refusals                          int64
	refused                           map[int]int64 // refusals by status
	rows                              int64
	totalSum, dbSum, totalMax, dbMx   time.Duration
	total, db                         hist
	pages, counts                     int64 // statements run (not answered by the cache)
	pageSum, pageMax, countSum, cntMx time.Duration
	standby, primary                  int64 // statements of a source with standbys, by where they ran
}

type entry struct {
	shape     Shape
	scans     scanStats // the report scans this shape's first pages began
	hours     [24]hour
	last      time.Time
	sql       string
	countSQL  string
	sampling  bool
	args      []any
	countArgs []any
}

func (e *entry) bucket(now time.Time) *hour {
	h := now.Unix() / 3600
	b := &e.hours[h%24]
	if b.at != h {
		*b = hour{at: h}
	}
	return b
}

// Stats are a shape's figures over a window.
type Stats struct {
	Calls int64 `json:"calls"`
	// Errors are the answers the admin must act on: 5xx, timeouts
	// (504) among them. Refusals are the requests refused as sent (4xx),
	// by status in Refused.
	Errors   int64            `json:"errors"`
	Timeouts int64            `json:"timeouts"`
	Refusals int64            `json:"refusals"`
	Refused  map[string]int64 `json:"refused_by_status"`
	Hits     int64            `json:"cache_hits"`
	Rows     int64            `json:"rows_sent"`
	TotalMS  float64          `json:"total_ms"` // the sum: the shape's cost
	P50MS    float64          `json:"p50_ms"`
	P95MS    float64          `json:"p95_ms"`
	MaxMS    float64          `json:"max_ms"`
	// DB* are the time requests waited for the database (never above
	// their total); Page* and Count* each statement's own, where the
	// page's count ran beside it.
	DBMS         float64 `json:"db_ms"`
	DBP50MS      float64 `json:"db_p50_ms"`
	DBP95MS      float64 `json:"db_p95_ms"`
	DBMaxMS      float64 `json:"db_max_ms"`
	Pages        int64   `json:"page_statements"`
	PageMeanMS   float64 `json:"page_db_mean_ms"`
	PageMaxMS    float64 `json:"page_db_max_ms"`
	Counts       int64   `json:"count_statements"`
	CountMeanMS  float64 `json:"count_db_mean_ms"`
	CountDBMaxMS float64 `json:"count_db_max_ms"`
	// StandbyReads and PrimaryReads are where the statements of a source
	// with standbys ran.
	StandbyReads int64 `json:"standby_reads,omitempty"`
	PrimaryReads int64 `json:"primary_reads,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func (e *entry) stats(now time.Time, window int64) Stats {
	s := Stats{Refused: map[string]int64{}}
	var total, db hist
	var tsum, dsum, tmax, dmax, psum, pmax, csum, cmax time.Duration
	cur := now.Unix() / 3600
	for _, h := range e.hours {
		if h.at == 0 || cur-h.at >= window {
			continue
		}
		s.Calls += h.calls
		s.Errors += h.errors
		s.Timeouts += h.timeouts
		s.Refusals += h.refusals
		for status, n := range h.refused {
			s.Refused[strconv.Itoa(status)] += n
		}
		s.Hits += h.hits
		s.Rows += h.rows
		tsum += h.totalSum
		dsum += h.dbSum
		tmax, dmax = max(tmax, h.totalMax), max(dmax, h.dbMx)
		total.add(h.total)
		db.add(h.db)
		s.Pages += h.pages
		s.Counts += h.counts
		s.StandbyReads += h.standby
		s.PrimaryReads += h.primary
		psum, csum = psum+h.pageSum, csum+h.countSum
		pmax, cmax = max(pmax, h.pageMax), max(cmax, h.cntMx)
	}
	s.TotalMS, s.DBMS, s.MaxMS, s.DBMaxMS = ms(tsum), ms(dsum), ms(tmax), ms(dmax)
	if s.Pages > 0 {
		s.PageMeanMS, s.PageMaxMS = ms(psum)/float64(s.Pages), ms(pmax)
	}
	if s.Counts > 0 {
		s.CountMeanMS, s.CountDBMaxMS = ms(csum)/float64(s.Counts), ms(cmax)
	}
	s.P50MS, s.P95MS = ms(min(total.quantile(.5), tmax)), ms(min(total.quantile(.95), tmax))
	s.DBP50MS, s.DBP95MS = ms(min(db.quantile(.5), dmax)), ms(min(db.quantile(.95), dmax))
	return s
}

// Recorder is one source's shape table and callout counts.
type Recorder struct {
	mu       sync.Mutex
	max      int
	shapes   map[string]*entry // by ID
	runs     map[runKey]*run   // the scans under way
	callouts calls
	now      func() time.Time
}

// A report over an external object is a scan: Salesforce reads every
// matching row, page after page ($skip, or our nextLinks), and groups
// them itself, on every run, preview and dashboard refresh. A run is the
// pages of one query one caller reads in a row, none more than RunGap
// after the one before; from ScanPages pages on it is a report scan.
const (
	RunGap    = 2 * time.Minute
	ScanPages = 3
	// Salesforce's limits on what a report over an external object reads:
	// 16 MB of result, and at most 2,000 groupings or rows shown.
	ResultLimit    = 16 << 20
	GroupingsLimit = 2000
	maxRuns        = 1000
	// a run begins with a page of at least this many rows: a report reads
	// large pages, a person paging through a list view small ones
	scanFirstRows = 200
)

// runKey names a run: a caller and a query.
type runKey struct{ user, query string }

// run is one caller's pages of one query.
type run struct {
	first       string // the shape of its first page
	start, last time.Time
	pages, rows int64
	bytes       int64
}

// scanStats are what the report scans begun by a shape read: how many
// ran in the last 24 hours, the last one, and the largest.
type scanStats struct {
	runs              []time.Time // starts within the last 24 hours, oldest first
	last              run
	maxRows, maxBytes int64
	lastSeen          time.Time
}

// Scans are a report scan's figures, as the admin API shows them.
type Scans struct {
	Runs24h   int       `json:"runs_24h"`
	Pages     int64     `json:"pages_per_run"` // the last run's
	Rows      int64     `json:"rows_per_run"`
	Bytes     int64     `json:"bytes_per_run"`
	Seconds   float64   `json:"seconds_per_run"`
	MaxRows   int64     `json:"max_rows_per_run"`
	MaxBytes  int64     `json:"max_bytes_per_run"`
	LastRunAt time.Time `json:"last_run_at"`
	// TooLarge: a run read 16 MB or more, where Salesforce gives up ("The
	// OData query result was too large"); OverGroupings: a run read more
	// rows than a report can show or group (2,000).
	TooLarge      bool `json:"too_large"`
	OverGroupings bool `json:"over_groupings"`
	// Summary is the summary set that would answer such reports from the
	// database in a few rows, as configuration; the control plane writes
	// it, knowing the model.
	Summary string `json:"summary_yaml,omitempty"`
}

// scan follows a read into the run it belongs to; a run that reaches
// ScanPages is counted on its first page's shape.
func (r *Recorder) scan(o Observation, id string, now time.Time) {
	sh := o.Shape
	if sh.Method != "GET" || sh.ByKey || sh.Refused || sh.Set == "" || sh.Set[0] == '$' || o.Status != 200 {
		return
	}
	q := sh.q
	if q == "" {
		q = sh.query()
	}
	key := runKey{o.User, q}
	cur := r.runs[key]
	switch {
	case !o.Continues && o.Rows < scanFirstRows:
		if cur != nil {
			delete(r.runs, key) // a small first page: a list view, not a report
		}
		return
	case !o.Continues:
		if cur == nil && len(r.runs) >= maxRuns {
			for k, old := range r.runs {
				if now.Sub(old.last) > RunGap {
					delete(r.runs, k)
				}
			}
			if len(r.runs) >= maxRuns {
				return // every run is under way: this one goes unseen
			}
		}
		cur = &run{first: id, start: now}
		r.runs[key] = cur
	case cur == nil || now.Sub(cur.last) > RunGap:
		return // a later page whose run was not seen begin
	}
	cur.last = now
	cur.pages++
	cur.rows += int64(o.Rows)
	cur.bytes += o.Bytes
	if cur.pages < ScanPages {
		return
	}
	e := r.shapes[cur.first]
	if e == nil {
		return
	}
	sc := &e.scans
	if cur.pages == ScanPages {
		sc.runs = append(sc.runs, cur.start)
	}
	for len(sc.runs) > 0 && now.Sub(sc.runs[0]) > 24*time.Hour {
		sc.runs = sc.runs[1:]
	}
	sc.last, sc.lastSeen = *cur, now
	sc.maxRows, sc.maxBytes = max(sc.maxRows, cur.rows), max(sc.maxBytes, cur.bytes)
}

// scans are a shape's report scans, nil where it began none in the last
// 24 hours.
func (e *entry) scansOf(now time.Time) *Scans {
	sc := e.scans
	n := 0
	for _, t := range sc.runs {
		if now.Sub(t) <= 24*time.Hour {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return &Scans{Runs24h: n, Pages: sc.last.pages, Rows: sc.last.rows, Bytes: sc.last.bytes,
		Seconds: sc.last.last.Sub(sc.last.start).Seconds(), MaxRows: sc.maxRows, MaxBytes: sc.maxBytes, LastRunAt: sc.last.start,
		TooLarge: sc.maxBytes >= ResultLimit, OverGroupings: sc.maxRows > GroupingsLimit}
}

// MaxShapes bounds a source's table.
const MaxShapes = 500

// maxUsers bounds the callers counted apart; the rest count together.
const maxUsers = 1000

type calls struct {
	total [24][2]int64 // per hour: unix hour, count
	users map[string]*[24][2]int64
}

// NewRecorder makes an empty table of at most max shapes (MaxShapes when
// max is 0).
func NewRecorder(max int) *Recorder {
	if max <= 0 {
		max = MaxShapes
	}
	return &Recorder{max: max, shapes: map[string]*entry{}, runs: map[runKey]*run{}, callouts: calls{users: map[string]*[24][2]int64{}}, now: time.Now}
}

// Record adds one request.
func (r *Recorder) Record(o Observation) {
	now := o.When
	if now.IsZero() {
		now = r.now()
	}
	id := o.Shape.ID()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count(o.User, now)
	e := r.shapes[id]
	if e == nil {
		if len(r.shapes) >= r.max {
			r.evict(now)
		}
		e = &entry{shape: o.Shape}
		r.shapes[id] = e
	}
	r.scan(o, id, now)
	keep := func(f func() (string, []any), text *string, args *[]any) {
		if f == nil || (*text != "" && !e.sampling) {
			return
		}
		t, a := f()
		if t != "" {
			*text = t
		}
		if e.sampling && t != "" {
			*args = a
		}
	}
	keep(o.SQL, &e.sql, &e.args)
	keep(o.CountSQL, &e.countSQL, &e.countArgs)
	e.last = now
	b := e.bucket(now)
	b.calls++
	switch Failure(o.Status) {
	case "error":
		b.errors++
		if o.Status == 504 {
			b.timeouts++
		}
	case "refusal":
		b.refusals++
		if b.refused == nil {
			b.refused = map[int]int64{}
		}
		b.refused[o.Status]++
	}
	if o.CacheHit {
		b.hits++
	}
	b.rows += int64(o.Rows)
	b.standby += int64(o.OnStandby)
	b.primary += int64(o.OnPrimary)
	b.totalSum += o.Total
	b.totalMax = max(b.totalMax, o.Total)
	b.total[bin(o.Total)]++
	if !o.CacheHit {
		db := min(o.DB, o.Total) // waited for within the request, by its clock
		b.dbSum += db
		b.dbMx = max(b.dbMx, db)
		b.db[bin(db)]++
		if o.PageDB > 0 {
			b.pages++
			b.pageSum += o.PageDB
			b.pageMax = max(b.pageMax, o.PageDB)
		}
		if o.CountDB > 0 {
			b.counts++
			b.countSum += o.CountDB
			b.cntMx = max(b.cntMx, o.CountDB)
		}
	}
}

// evict drops the tenth of the table that cost least in the last 24
// hours, so that the costliest stay and a flood of new shapes sorts the
// table once per tenth, not once per shape.
func (r *Recorder) evict(now time.Time) {
	type c struct {
		id   string
		cost time.Duration
	}
	all := make([]c, 0, len(r.shapes))
	for id, e := range r.shapes {
		if !e.sampling { // the admin is looking at those
			all = append(all, c{id, e.cost(now)})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].cost < all[j].cost })
	for _, v := range all[:min(len(all), max(1, r.max/10))] {
		delete(r.shapes, v.id)
	}
}

// cost is the total time of the shape's requests in the last 24 hours.
func (e *entry) cost(now time.Time) time.Duration {
	var sum time.Duration
	cur := now.Unix() / 3600
	for _, h := range e.hours {
		if h.at != 0 && cur-h.at < 24 {
			sum += h.totalSum
		}
	}
	return sum
}

func (r *Recorder) count(user string, now time.Time) {
	h := now.Unix() / 3600
	add := func(a *[24][2]int64) {
		b := &a[h%24]
		if b[0] != h {
			*b = [2]int64{h, 0}
		}
		b[1]++
	}
	add(&r.callouts.total)
	if user == "" {
		user = "(anonymous)"
	}
	u := r.callouts.users[user]
	if u == nil {
		if len(r.callouts.users) >= maxUsers {
			user = "(others)"
			u = r.callouts.users[user]
		}
		if u == nil {
			u = &[24][2]int64{}
			r.callouts.users[user] = u
		}
	}
	add(u)
}

// Entry is a shape with its figures, as the admin API shows it.
type Entry struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Shape    Shape     `json:"shape"`
	LastSeen time.Time `json:"last_seen"`
	Hour     Stats     `json:"last_hour"`
	Day      Stats     `json:"last_24h"`
	Sampling bool      `json:"sampling"`
	// ReportScan, on a shape whose first pages began report scans in the
	// last 24 hours, says what they read.
	ReportScan *Scans `json:"report_scan,omitempty"`
}

func (r *Recorder) entry(id string, e *entry, now time.Time) Entry {
	out := Entry{ID: id, Name: e.shape.Name(), Shape: e.shape, LastSeen: e.last, Hour: e.stats(now, 1), Day: e.stats(now, 24), Sampling: e.sampling,
		ReportScan: e.scansOf(now)}
	if out.ReportScan != nil {
		out.Name = "report scan"
	}
	return out
}

// Top lists the shapes, the costliest (total time in the last 24 hours)
// first.
func (r *Recorder) Top(n int) []Entry {
	now := r.now()
	r.mu.Lock()
	out := make([]Entry, 0, len(r.shapes))
	for id, e := range r.shapes {
		out = append(out, r.entry(id, e, now))
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day.TotalMS != out[j].Day.TotalMS {
			return out[i].Day.TotalMS > out[j].Day.TotalMS
		}
		return out[i].ID < out[j].ID
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// Len is how many shapes the table holds.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.shapes)
}

// Detail is one shape with its SQL (and its count's) and, while sampled,
// the last values.
type Detail struct {
	Entry
	SQL       string `json:"sql,omitempty"`
	CountSQL  string `json:"count_sql,omitempty"`
	args      []any
	countArgs []any
}

// Args are the last sampled values, nil unless sampling is on.
func (d Detail) Args() []any { return d.args }

// CountArgs are the count's last sampled values, nil unless sampling is on.
func (d Detail) CountArgs() []any { return d.countArgs }

// Get returns one shape.
func (r *Recorder) Get(id string) (Detail, bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.shapes[id]
	if !ok {
		return Detail{}, false
	}
	return Detail{Entry: r.entry(id, e, now), SQL: e.sql, CountSQL: e.countSQL, args: e.args, countArgs: e.countArgs}, true
}

// Sample turns on (or off) keeping the last values of a shape's
// statement, for EXPLAIN; off forgets them.
func (r *Recorder) Sample(id string, on bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.shapes[id]
	if !ok {
		return false
	}
	e.sampling = on
	if !on {
		e.args, e.countArgs = nil, nil
	}
	return true
}

// Callouts are a source's requests per hour.
type Callouts struct {
	ThisHour  int64            `json:"this_hour"`
	Last24h   int64            `json:"last_24h"`
	Projected int64            `json:"projected_this_hour"` // this hour's pace over the whole hour
	Hours     []int64          `json:"hours"`               // the last 24, oldest first
	ByUser    map[string]int64 `json:"by_user_this_hour"`
	ByUser24h map[string]int64 `json:"by_user_last_24h"`
}

// Callouts counts the source's calls.
func (r *Recorder) Callouts() Callouts {
	now := r.now()
	cur := now.Unix() / 3600
	r.mu.Lock()
	defer r.mu.Unlock()
	c := Callouts{ByUser: map[string]int64{}, ByUser24h: map[string]int64{}, Hours: make([]int64, 24)}
	sum := func(a *[24][2]int64) (hour, day int64) {
		for _, b := range a {
			if b[0] == 0 || cur-b[0] >= 24 {
				continue
			}
			day += b[1]
			if b[0] == cur {
				hour += b[1]
			}
		}
		return
	}
	c.ThisHour, c.Last24h = sum(&r.callouts.total)
	for _, b := range r.callouts.total {
		if b[0] != 0 && cur-b[0] < 24 {
			c.Hours[23-(cur-b[0])] = b[1]
		}
	}
	for u, a := range r.callouts.users {
		h, d := sum(a)
		if h > 0 {
			c.ByUser[u] = h
		}
		if d > 0 {
			c.ByUser24h[u] = d
		}
	}
	elapsed := now.Sub(time.Unix(cur*3600, 0))
	if elapsed >= time.Minute {
		c.Projected = int64(float64(c.ThisHour) * float64(time.Hour) / float64(elapsed))
	} else {
		c.Projected = c.ThisHour
	}
	return c
}
