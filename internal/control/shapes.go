package control

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/odatagw/odatagw/admin"
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/sources"
)

// Shapes lists a served source's request shapes, the costliest first.
func (p *Plane) Shapes(_ context.Context, name string) ([]shapes.Entry, error) {
	rec, ok := p.data.Shapes(name)
	if !ok {
		return nil, registry.ErrNotFound
	}
	top := rec.Top(0)
	if src, served := p.data.Served(name); served {
		for i := range top {
			suggest(src.Metadata(), &top[i])
		}
	}
	return top, nil
}

// suggest writes, on a report scan's entry, the summary set that would
// answer its reports.
func suggest(svc *metadata.Service, e *shapes.Entry) {
	if e.ReportScan == nil {
		return
	}
	if es, ok := svc.EntitySet(e.Shape.Set); ok && es.Summary == nil {
		e.ReportScan.Summary = SuggestSummary(es, e.Shape)
	}
}

// SuggestSummary is the summary set that would answer the reports a scan
// of es serves, as configuration: grouped by what the reports sort by
// (else the text and date columns they read, a date by its month),
// counting the rows and summing the numbers they read. The admin adjusts
// it: the gateway sees the report's queries, not its groupings.
func SuggestSummary(es *metadata.EntitySet, sh shapes.Shape) string {
	var dims, measures []string
	byColumn := func(c string) *metadata.Property {
		for _, p := range es.Type.Properties {
			if p.Column == c {
				return p
			}
		}
		return nil
	}
	dimension := func(p *metadata.Property) {
		if p == nil || es.Type.IsKey(p) || len(dims) == 3 {
			return
		}
		d := p.Name
		if p.Type == metadata.Date || p.Type == metadata.DateTimeOffset {
			d = "{month: " + p.Name + "}"
		} else if p.Type != metadata.String && !p.Type.IsInteger() && p.Type != metadata.Boolean {
			return
		}
		if !slices.Contains(dims, d) {
			dims = append(dims, d)
		}
	}
	for _, c := range sh.Sorts {
		dimension(byColumn(c))
	}
	if len(dims) == 0 {
		for _, name := range sh.Selected {
			if p, ok := es.Type.Property(name); ok && (p.Type == metadata.String && p.MaxLength > 0 && p.MaxLength <= 100 || p.Type == metadata.Date || p.Type == metadata.DateTimeOffset) {
				dimension(p)
			}
		}
	}
	measures = append(measures, "rows: count")
	for _, name := range sh.Selected {
		if p, ok := es.Type.Property(name); ok && !es.Type.IsKey(p) && (p.Type == metadata.Decimal || p.Type == metadata.Double || p.Type == metadata.Single) && len(measures) < 4 {
			measures = append(measures, "sum_"+p.Name+": sum("+p.Name+")")
		}
	}
	name := es.Name + "_summary"
	if !metadata.ValidName(name) {
		name = metadata.Sanitize(name, "S")
	}
	if len(name) > metadata.MaxNameLength {
		name = strings.TrimRight(name[:metadata.MaxNameLength], "_")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "summaries:\n  %s:\n    from: %s\n", name, es.Table)
	if len(dims) == 0 {
		b.WriteString("    dimensions: []   # the columns the report groups by\n")
	} else {
		fmt.Fprintf(&b, "    dimensions: [%s]\n", strings.Join(dims, ", "))
	}
	fmt.Fprintf(&b, "    measures: {%s}\n", strings.Join(measures, ", "))
	if sh.Filter != "" {
		fmt.Fprintf(&b, "    # where: the report's filter, in $filter's syntax; its form is %s\n", sh.Filter)
	}
	return b.String()
}

// Shape is one shape with the statement the source runs for it, the
// index that would serve it and, when asked (explain "plan" or
// "analyze"), the database's plan.
func (p *Plane) Shape(ctx context.Context, name, id, explain string) (admin.ShapeDetail, error) {
	rec, ok := p.data.Shapes(name)
	if !ok {
		return admin.ShapeDetail{}, registry.ErrNotFound
	}
	d, ok := rec.Get(id)
	if !ok {
		return admin.ShapeDetail{}, admin.ErrNoShape
	}
	out := admin.ShapeDetail{Detail: d, Advice: []metadata.IndexAdvice{}}
	src, model, ok := p.shapeSource(name, d.Shape.Set)
	if !ok {
		return out, nil
	}
	suggest(model, &d.Entry)
	ex, can := sources.As[sources.Explainer](src)
	es, isSet := model.EntitySet(d.Shape.Set)
	if isSet && can && !d.Shape.Refused {
		advice, err := indexFor(ctx, ex, d.Shape, es)
		if err != nil {
			return out, err
		}
		out.Advice = orEmpty(advice)
	}
	if isSet && d.Shape.Count && !d.Shape.ByKey {
		out.CountedBy, out.CountAdvice = countAdvice(d.Shape, es)
	}
	if explain == "" {
		return out, nil
	}
	if !can || d.SQL == "" {
		return out, admin.ErrNoStatement
	}
	// the page's statement, and the count's that runs beside it: a count
	// that reads the whole table is often the slow half of a list view
	for _, st := range []struct {
		sql  string
		args []any
		into **sources.Explanation
	}{{d.SQL, d.Args(), &out.Explanation}, {d.CountSQL, d.CountArgs(), &out.CountExplanation}} {
		if st.sql == "" {
			continue
		}
		e, err := ex.Explain(ctx, st.sql, st.args, explain == "analyze")
		if err != nil {
			return out, err // sources.ErrNeedsSample among them
		}
		*st.into = &e
	}
	return out, nil
}

// shapeSource is the source whose database runs a shape's statements,
// and the model that names its set: a source's own, or for a service's
// shape the member that serves the set, with the service's model (its
// sets are the member's tables under the service's names).
func (p *Plane) shapeSource(name, set string) (sources.Source, *metadata.Service, bool) {
	if src, ok := p.data.Served(name); ok {
		return src, src.Metadata(), true
	}
	c, err := p.data.ServiceModel(name)
	if err != nil {
		return nil, nil, false
	}
	o, ok := c.Origin(set)
	if !ok {
		return nil, nil, false
	}
	src, ok := p.data.Served(o.Member)
	return src, c.Model, ok
}

// countAdvice says how a shape's count is made and, where it reads every
// row of the set, what would spare it: no index makes count(*) over a
// whole table cheap, but change tracking keeps the count, and the
// planner can estimate it.
func countAdvice(sh shapes.Shape, es *metadata.EntitySet) (how, advice string) {
	q := plan.Query{Set: es}
	if len(sh.Columns) > 0 || len(sh.Patterns) > 0 {
		q.Where = &plan.Const{Value: true, T: metadata.Boolean} // a filter of some kind: only its presence matters here
	}
	how = sources.CountedBy(&q, true)
	switch {
	case how != sources.CountedByStatement:
		return how, ""
	case q.Where != nil:
		return how, "the count reads the rows the filter selects: the index below serves it as it serves the page"
	}
	return how, "the count reads every row of " + es.Name + " on every request that asks for it (Salesforce's list views do): " +
		"odatagw track keeps an exact count without a scan (docs/change-tracking.md), or set_count: {" + es.Name + ": auto} takes the planner's estimate past a size"
}

// IndexAdvice is the indexes a source's traffic needs, ranked by the
// database time of the shapes each would serve in the last 24 hours; then
// the advice from the schema for the tables no traffic reached yet.
func (p *Plane) IndexAdvice(ctx context.Context, name string) ([]admin.RankedAdvice, error) {
	rec, ok := p.data.Shapes(name)
	if !ok {
		return nil, registry.ErrNotFound
	}
	src, _ := p.data.Served(name)
	out := []admin.RankedAdvice{}
	byStatement := map[string]int{}
	reached := map[string]bool{}
	if ex, can := sources.As[sources.Explainer](src); can {
		for _, e := range rec.Top(0) {
			es, ok := src.Metadata().EntitySet(e.Shape.Set)
			if !ok || e.Shape.ByKey || e.Shape.Refused || e.Shape.Method != "GET" {
				continue
			}
			reached[es.Name] = true
			advice, err := indexFor(ctx, ex, e.Shape, es)
			if err != nil {
				return out, err
			}
			for _, a := range advice {
				if a.SQL == "" {
					continue
				}
				i, seen := byStatement[a.SQL]
				if !seen {
					i = len(out)
					byStatement[a.SQL] = i
					out = append(out, admin.RankedAdvice{IndexAdvice: a, FromTraffic: true})
				}
				out[i].DBMS += e.Day.DBMS
				out[i].Calls += e.Day.Calls
				out[i].Shapes = append(out[i].Shapes, e.ID)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b admin.RankedAdvice) int {
		switch {
		case a.DBMS > b.DBMS:
			return -1
		case a.DBMS < b.DBMS:
			return 1
		}
		return 0
	})
	if a, ok := sources.As[sources.IndexAdvisor](src); ok {
		static, err := a.AdviseIndexes(ctx)
		if err != nil {
			return out, err
		}
		big, _ := metadata.Worthwhile(static)
		for _, s := range big {
			if !reached[s.Set] {
				out = append(out, admin.RankedAdvice{IndexAdvice: s})
			}
		}
	}
	return out, nil
}

// indexColumns splits a shape's columns by how its filter reads them.
// The sort columns follow the compared ones, the key among them: every
// page is ordered by the key last, so an index on (last_name, id) serves
// last_name eq ? in the order the page is read, where one on last_name
// alone leaves a sort. A shape that only sorts by the key needs nothing:
// the key's own index serves it.
func indexColumns(sh shapes.Shape, es *metadata.EntitySet) (contains, prefix, compared, sorted []string) {
	for _, p := range sh.Patterns {
		if c, isPrefix := strings.CutPrefix(p, "prefix:"); isPrefix {
			prefix = append(prefix, c)
		} else {
			contains = append(contains, p)
		}
	}
	for _, c := range sh.Columns {
		if !slices.Contains(contains, c) && !slices.Contains(prefix, c) {
			compared = append(compared, c)
		}
	}
	onlyKey := true
	for _, c := range sh.Sorts {
		key := false
		for _, k := range es.Type.Key {
			key = key || k.Column == c
		}
		onlyKey = onlyKey && key
	}
	if len(compared) > 0 || len(prefix) > 0 || !onlyKey {
		sorted = sh.Sorts
	}
	return
}

// indexFor is the index that would serve a shape of es.
func indexFor(ctx context.Context, ex sources.Explainer, sh shapes.Shape, es *metadata.EntitySet) ([]metadata.IndexAdvice, error) {
	contains, prefix, compared, sorted := indexColumns(sh, es)
	on, contains, prefix, compared, sorted := onTable(es, contains, prefix, compared, sorted)
	return ex.IndexFor(ctx, on, contains, prefix, compared, sorted)
}

// onTable turns what a summary set's shape reads into what it reads of
// the summary's table: a term on a dimension is a term on the table's
// column, which an index of the table serves; terms on measures, buckets
// and parents' columns, and the order of groups, no index of it serves.
// Any other set's shape is its own.
func onTable(es *metadata.EntitySet, contains, prefix, compared, sorted []string) (*metadata.EntitySet, []string, []string, []string, []string) {
	sum := es.Summary
	if sum == nil {
		return es, contains, prefix, compared, sorted
	}
	columns := func(names []string) []string {
		var out []string
		for _, name := range names {
			p, ok := es.Type.Property(name)
			if !ok {
				continue
			}
			part, ok := sum.Part(p)
			if !ok || part.Kind != metadata.Dimension || part.Bucket != "" {
				continue
			}
			if own, ok := sum.Set.Type.Property(part.Of.Name); ok && own == part.Of {
				out = append(out, part.Of.Column)
			}
		}
		return out
	}
	return sum.Set, columns(contains), columns(prefix), columns(compared), nil
}

// SampleShape turns on or off keeping a shape's last values, for EXPLAIN.
func (p *Plane) SampleShape(_ context.Context, name, id string, on bool) error {
	rec, ok := p.data.Shapes(name)
	if !ok {
		return registry.ErrNotFound
	}
	if !rec.Sample(id, on) {
		return admin.ErrNoShape
	}
	return nil
}

// Callouts are a source's requests this hour and in the last 24, against
// the org's hourly limit, with what would save some.
func (p *Plane) Callouts(ctx context.Context, name string) (admin.CalloutReport, error) {
	rec, ok := p.data.Shapes(name)
	if !ok {
		return admin.CalloutReport{}, registry.ErrNotFound
	}
	limit := config.DefaultCalloutsPerHour
	if st, err := p.Get(ctx, name); err == nil && st.CalloutsPerHour > 0 {
		limit = st.CalloutsPerHour
	}
	if svc, ok := p.serviceConfig(name); ok && svc.cfg.CalloutsPerHour > 0 {
		limit = svc.cfg.CalloutsPerHour
	}
	c := rec.Callouts()
	r := admin.CalloutReport{Callouts: c, Limit: limit, Percent: 100 * float64(c.ThisHour) / float64(limit),
		ProjectedPercent: 100 * float64(c.Projected) / float64(limit), Savings: []string{}}
	for _, e := range rec.Top(20) {
		day := e.Day
		if day.Calls < 50 {
			continue
		}
		hitRatio := float64(day.Hits) / float64(day.Calls)
		switch {
		case e.Shape.Count && e.Shape.NextLink:
			r.Savings = append(r.Savings, fmt.Sprintf("%s on %s: every page asks for the count again (%d calls in 24 h): turn off Request Row Counts where COUNT() is not needed", e.Name, e.Shape.Set, day.Calls))
		case e.Shape.Method == "GET" && hitRatio < 0.2:
			r.Savings = append(r.Savings, fmt.Sprintf("%s on %s: %.0f%% of %d calls answered from the cache: a longer cache_ttl for %s keeps Salesforce's repeats off the database", e.Name, e.Shape.Set, 100*hitRatio, day.Calls, e.Shape.Set))
		}
	}
	return r, nil
}

// CalloutCollector is each source's callouts this hour and its limit,
// for /metrics and the alert at 80%.
func CalloutCollector(p *Plane) prometheus.Collector { return newCalloutCollector(p) }

// calloutCollector is CalloutCollector's.
type calloutCollector struct {
	p            *Plane
	hour, limit  *prometheus.Desc
	projectedPct *prometheus.Desc
}

func newCalloutCollector(p *Plane) *calloutCollector {
	return &calloutCollector{p: p,
		hour:         prometheus.NewDesc("odatagw_callouts_this_hour", "Requests a source answered in the current clock hour: Salesforce's OData callouts, which its org limits per hour.", []string{"source"}, nil),
		limit:        prometheus.NewDesc("odatagw_callouts_hourly_limit", "The org's hourly callout limit the source is held against (callouts_per_hour).", []string{"source"}, nil),
		projectedPct: prometheus.NewDesc("odatagw_callouts_projected_ratio", "This hour's callouts at the current pace, as a share of the limit.", []string{"source"}, nil),
	}
}

func (c *calloutCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hour
	ch <- c.limit
	ch <- c.projectedPct
}

func (c *calloutCollector) Collect(ch chan<- prometheus.Metric) {
	// a service's callouts are its data source's, as a source's are
	for _, name := range append(c.p.data.SourceNames(), c.p.ServiceNames()...) {
		rec, ok := c.p.data.Shapes(name)
		if !ok {
			continue
		}
		limit := config.DefaultCalloutsPerHour
		c.p.regs.mu.Lock()
		if m := c.p.regs.byName[name]; m != nil && m.reg.CalloutsPerHour > 0 {
			limit = m.reg.CalloutsPerHour
		}
		c.p.regs.mu.Unlock()
		if svc, ok := c.p.serviceConfig(name); ok && svc.cfg.CalloutsPerHour > 0 {
			limit = svc.cfg.CalloutsPerHour
		}
		co := rec.Callouts()
		ch <- prometheus.MustNewConstMetric(c.hour, prometheus.GaugeValue, float64(co.ThisHour), name)
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(limit), name)
		ch <- prometheus.MustNewConstMetric(c.projectedPct, prometheus.GaugeValue, float64(co.Projected)/float64(limit), name)
	}
}
