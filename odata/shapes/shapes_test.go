package shapes

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
)

func set(t *testing.T) *metadata.EntitySet {
	props := []*metadata.Property{{Name: "Id", Column: "id", Type: metadata.Int32}, {Name: "Name", Column: "name", Type: metadata.String},
		{Name: "City", Column: "city", Type: metadata.String}}
	et, err := metadata.NewEntityType("Customers", props, []string{"Id"})
	if err != nil {
		t.Fatal(err)
	}
	return &metadata.EntitySet{Name: "Customers", Table: "customers", Type: et}
}

func ref(es *metadata.EntitySet, name string) *plan.PropRef {
	p, _ := es.Type.Property(name)
	return &plan.PropRef{Prop: p}
}

// TestShapeHasNoLiterals: two requests that differ only in their values
// are one shape, and its text holds none of them.
func TestShapeHasNoLiterals(t *testing.T) {
	es := set(t)
	mk := func(city string, ids ...int32) *plan.Plan {
		var list []plan.Expr
		for _, id := range ids {
			list = append(list, &plan.Const{Value: id, T: metadata.Int32})
		}
		where := &plan.Binary{Op: plan.OpAnd, T: metadata.Boolean,
			Left:  &plan.Binary{Op: plan.OpEq, Left: ref(es, "City"), Right: &plan.Const{Value: city, T: metadata.String}, T: metadata.Boolean},
			Right: &plan.In{X: ref(es, "Id"), List: list}}
		top := int64(26)
		return &plan.Plan{Kind: plan.KindCollection, Set: es, Count: true, Top: &top,
			Query: plan.Query{Set: es, Where: where, Limit: 27, OrderBy: []plan.Order{{Expr: ref(es, "Name")}}}}
	}
	a, b := Of(mk("Paris", 10001, 10002), "GET"), Of(mk("Lyon", 10003, 10004, 10005), "GET")
	if a.Key() != b.Key() || a.ID() != b.ID() {
		t.Errorf("two values, two shapes:\n%s\n%s", a.Key(), b.Key())
	}
	for _, lit := range []string{"Paris", "Lyon", "10001", "10005"} {
		if strings.Contains(a.Key(), lit) {
			t.Errorf("the shape holds %q: %s", lit, a.Key())
		}
	}
	if a.Filter != "((City eq ?) and Id in (?…))" || a.Page != "2-26" || !a.Count || a.Name() != "list view" {
		t.Errorf("shape %+v, named %s", a, a.Name())
	}
	if strings.Join(a.Columns, ",") != "city,id" || strings.Join(a.Sorts, ",") != "name" {
		t.Errorf("columns %v, sorts %v", a.Columns, a.Sorts)
	}
}

// TestRecorderKeepsNoValuesUnlessSampled: the table holds the
// statement's text, and its values only while the shape is sampled.
func TestRecorderKeepsNoValuesUnlessSampled(t *testing.T) {
	r := NewRecorder(0)
	sh := Shape{Set: "Customers", Method: "GET", Filter: "(Email eq ?)"}
	obs := func(v string) Observation {
		return Observation{Shape: sh, Status: 200, Total: time.Millisecond, DB: time.Millisecond,
			SQL: func() (string, []any) { return "SELECT 1 WHERE email = $1", []any{v} }}
	}
	r.Record(obs("first@secret.example"))
	if dump := fmt.Sprintf("%+v", r.shapes); strings.Contains(dump, "secret") {
		t.Errorf("the table holds a value while nothing is sampled: %s", dump)
	}
	if !r.Sample(sh.ID(), true) {
		t.Fatal("no such shape")
	}
	r.Record(obs("second@sampled.example"))
	d, _ := r.Get(sh.ID())
	if d.SQL != "SELECT 1 WHERE email = $1" || len(d.Args()) != 1 || d.Args()[0] != "second@sampled.example" {
		t.Errorf("sampled: %q %v", d.SQL, d.Args())
	}
	r.Sample(sh.ID(), false)
	if dump := fmt.Sprintf("%+v", r.shapes); strings.Contains(dump, "sampled.example") {
		t.Errorf("sampling off keeps the value: %s", dump)
	}
}

// TestRecorderIsBounded: 10,000 distinct filters leave at most MaxShapes
// shapes, and the costliest stay.
func TestRecorderIsBounded(t *testing.T) {
	r := NewRecorder(0)
	now := time.Now()
	costly := Shape{Set: "Orders", Method: "GET", Filter: "costly"}
	for i := 0; i < 20; i++ {
		r.Record(Observation{Shape: costly, Status: 200, Total: time.Second, When: now})
	}
	for i := 0; i < 10_000; i++ {
		r.Record(Observation{Shape: Shape{Set: "Orders", Method: "GET", Filter: fmt.Sprintf("(f%d eq ?)", i)}, Status: 200, Total: time.Millisecond, When: now})
	}
	if n := r.Len(); n > MaxShapes {
		t.Errorf("%d shapes kept", n)
	}
	if top := r.Top(1); len(top) != 1 || top[0].Shape.Filter != "costly" || top[0].Day.Calls != 20 {
		t.Errorf("the costliest shape was evicted: %+v", top)
	}
}

// TestStatsAndCallouts: calls, errors, timeouts, refusals, hits and the
// spread of times per window; callouts per hour and per caller.
func TestStatsAndCallouts(t *testing.T) {
	r := NewRecorder(0)
	base := time.Date(2026, 12, 3, 10, 30, 0, 0, time.UTC)
	r.now = func() time.Time { return base }
	sh := Shape{Set: "Customers", Method: "GET"}
	for i, c := range []struct {
		status int
		hit    bool
		took   time.Duration
		user   string
		at     time.Duration
	}{
		{200, false, 10 * time.Millisecond, "sf", 0},
		{200, true, time.Millisecond, "sf", 0},
		{504, false, 60 * time.Second, "sf", 0},
		{400, false, 2 * time.Millisecond, "etl", 0},
		{200, false, 5 * time.Millisecond, "sf", -2 * time.Hour},  // in the day, not the hour
		{200, false, 5 * time.Millisecond, "sf", -30 * time.Hour}, // gone
	} {
		r.Record(Observation{Shape: sh, Status: c.status, CacheHit: c.hit, Total: c.took, DB: c.took, User: c.user, When: base.Add(c.at), Rows: i})
	}
	e := r.Top(0)[0]
	// one meaning each: the timeout is an error to act on, the 400 a
	// refusal of the request as sent, counted by its status
	if h := e.Hour; h.Calls != 4 || h.Errors != 1 || h.Timeouts != 1 || h.Refusals != 1 || h.Refused["400"] != 1 || h.Hits != 1 || h.MaxMS != 60000 {
		t.Errorf("last hour: %+v", h)
	}
	if d := e.Day; d.Calls != 5 {
		t.Errorf("last 24 hours: %+v", d)
	}
	c := r.Callouts()
	if c.ThisHour != 4 || c.Last24h != 5 || c.ByUser["sf"] != 3 || c.ByUser["etl"] != 1 || c.Hours[23] != 4 || c.Hours[21] != 1 {
		t.Errorf("callouts: %+v", c)
	}
	if c.Projected != 8 { // 4 in the first half hour
		t.Errorf("projected %d, want 8", c.Projected)
	}
}

// TestDatabaseTimeOfAPageWithItsCount: a page and its count run side by
// side; the database time of the request is what it waited for, never
// above its total, and each statement's own time is kept beside it.
func TestDatabaseTimeOfAPageWithItsCount(t *testing.T) {
	r := NewRecorder(0)
	sh := Shape{Set: "Contacts", Method: "GET", Count: true}
	for _, o := range []Observation{
		{Total: 15 * time.Millisecond, DB: 14 * time.Millisecond, PageDB: 2 * time.Millisecond, CountDB: 14 * time.Millisecond},
		{Total: 26 * time.Millisecond, DB: 24 * time.Millisecond, PageDB: 3 * time.Millisecond, CountDB: 24 * time.Millisecond},
		{Total: 5 * time.Millisecond, DB: 9 * time.Millisecond}, // a clock that disagrees is held to the total
	} {
		o.Shape, o.Status = sh, 200
		r.Record(o)
	}
	h := r.Top(0)[0].Hour
	if h.DBMaxMS > h.MaxMS || h.DBP95MS > h.P95MS || h.DBMS > h.TotalMS {
		t.Errorf("database time above the total: %+v", h)
	}
	if h.Pages != 2 || h.PageMaxMS != 3 || h.PageMeanMS != 2.5 || h.Counts != 2 || h.CountDBMaxMS != 24 || h.CountMeanMS != 19 {
		t.Errorf("the statements' own times: %+v", h)
	}
}

// TestReportScans: the pages one caller reads of one query, each within
// RunGap of the last, are a run; from ScanPages pages it is a report
// scan, counted on the shape of its first page with its rows and bytes,
// and said to pass Salesforce's limits where it does.
func TestReportScans(t *testing.T) {
	es := set(t)
	top := int64(2000)
	first := Of(&plan.Plan{Kind: plan.KindCollection, Set: es, Top: &top, Query: plan.Query{Set: es, OrderBy: []plan.Order{{Expr: ref(es, "City")}}}}, "GET")
	next := Of(&plan.Plan{Kind: plan.KindCollection, Set: es, SkipToken: &plan.SkipToken{}, Query: plan.Query{Set: es, OrderBy: []plan.Order{{Expr: ref(es, "City")}}}}, "GET")
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	type page struct {
		user      string
		continues bool
		after     time.Duration // since the scenario's start
		rows      int
		bytes     int64
	}
	for _, c := range []struct {
		name            string
		pages           []page
		runs            int
		rows, bytes     int64
		large, grouping bool
	}{
		{name: "two pages are a list view, not a scan", pages: []page{{"ann", false, 0, 2000, 1 << 20}, {"ann", true, time.Second, 2000, 1 << 20}}},
		{name: "three pages in a minute", runs: 1, rows: 5000, bytes: 3 << 20,
			pages:    []page{{"ann", false, 0, 2000, 1 << 20}, {"ann", true, 20 * time.Second, 2000, 1 << 20}, {"ann", true, 40 * time.Second, 1000, 1 << 20}},
			grouping: true},
		{name: "a person paging through a list view", pages: []page{{"ann", false, 0, 26, 4 << 10}, {"ann", true, 5 * time.Second, 26, 4 << 10},
			{"ann", true, 9 * time.Second, 26, 4 << 10}, {"ann", true, 15 * time.Second, 26, 4 << 10}}},
		{name: "a pause past the gap ends the run", pages: []page{{"ann", false, 0, 2000, 1 << 20}, {"ann", true, 10 * time.Second, 2000, 1 << 20},
			{"ann", true, 10*time.Second + RunGap + time.Second, 2000, 1 << 20}}},
		{name: "another caller's pages are theirs", pages: []page{{"ann", false, 0, 2000, 1 << 20}, {"bob", true, time.Second, 2000, 1 << 20},
			{"bob", true, 2 * time.Second, 2000, 1 << 20}}},
		{name: "two runs, the second too large for Salesforce", runs: 2, rows: 18000, bytes: 18 << 20, large: true, grouping: true,
			pages: []page{{"ann", false, 0, 500, 1 << 19}, {"ann", true, time.Second, 500, 1 << 19}, {"ann", true, 2 * time.Second, 500, 1 << 19},
				{"ann", false, time.Hour, 6000, 6 << 20}, {"ann", true, time.Hour + time.Second, 6000, 6 << 20}, {"ann", true, time.Hour + 2*time.Second, 6000, 6 << 20}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := NewRecorder(0)
			for _, p := range c.pages {
				sh := first
				if p.continues {
					sh = next
				}
				r.Record(Observation{Shape: sh, User: p.user, Status: 200, Rows: p.rows, Bytes: p.bytes, Continues: p.continues, When: start.Add(p.after)})
			}
			r.now = func() time.Time { return start.Add(2 * time.Hour) }
			d, _ := r.Get(first.ID())
			sc := d.ReportScan
			if c.runs == 0 {
				if sc != nil || d.Name == "report scan" {
					t.Errorf("counted as a report scan: %+v", sc)
				}
				return
			}
			if sc == nil || d.Name != "report scan" || sc.Runs24h != c.runs || sc.Rows != c.rows || sc.Bytes != c.bytes || sc.Pages != 3 ||
				sc.TooLarge != c.large || sc.OverGroupings != c.grouping {
				t.Errorf("%s: %+v", d.Name, sc)
			}
			if nd, _ := r.Get(next.ID()); nd.ReportScan != nil {
				t.Errorf("the later pages' shape counts the scans too")
			}
		})
	}
}
