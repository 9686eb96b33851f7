package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/odatagw/odatagw/admin"
	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/sources"
)

// Shapes lists a served source's request shapes, the costliest first.
func (p *Plane) Shapes(_ context.Context, name string) ([]shapes.Entry, error) {
	rec, ok := p.srv.Shapes(name)
	if !ok {
		return nil, registry.ErrNotFound
	}
	return rec.Top(0), nil
}

// Shape is one shape with the statement the source runs for it, the
// index that would serve it and, when asked (explain "plan" or
// "analyze"), the database's plan.
func (p *Plane) Shape(ctx context.Context, name, id, explain string) (admin.ShapeDetail, error) {
	rec, ok := p.srv.Shapes(name)
	if !ok {
		return admin.ShapeDetail{}, registry.ErrNotFound
	}
	d, ok := rec.Get(id)
	if !ok {
		return admin.ShapeDetail{}, admin.ErrNoShape
	}
	src, _ := p.srv.Source(name)
	out := admin.ShapeDetail{Detail: d, Advice: []metadata.IndexAdvice{}}
	ex, can := sources.As[sources.Explainer](src)
	if es, ok := src.Metadata().EntitySet(d.Shape.Set); ok && can {
		contains, prefix, compared, sorted := indexColumns(d.Shape, es)
		out.Advice = orEmpty(ex.IndexFor(es, contains, prefix, compared, sorted))
	}
	if explain == "" {
		return out, nil
	}
	if !can || d.SQL == "" {
		return out, &registry.FieldError{Field: "explain", Message: "the source has no statement to explain for this shape (a record page, a write, or a source without SQL)"}
	}
	e, err := ex.Explain(ctx, d.SQL, d.Args(), explain == "analyze")
	if errors.Is(err, sources.ErrNeedsSample) {
		return out, &registry.FieldError{Field: "explain", Message: err.Error()}
	}
	if err != nil {
		return out, err
	}
	out.Explanation = &e
	return out, nil
}

// IndexAdvice is the indexes a source's traffic needs, ranked by the
// database time of the shapes each would serve in the last 24 hours; then
// the advice from the schema for the tables no traffic reached yet.
func (p *Plane) IndexAdvice(ctx context.Context, name string) ([]admin.RankedAdvice, error) {
	rec, ok := p.srv.Shapes(name)
	if !ok {
		return nil, registry.ErrNotFound
	}
	src, _ := p.srv.Source(name)
	out := []admin.RankedAdvice{}
	byStatement := map[string]int{}
	reached := map[string]bool{}
	if ex, can := sources.As[sources.Explainer](src); can {
		for _, e := range rec.Top(0) {
			es, ok := src.Metadata().EntitySet(e.Shape.Set)
			if !ok || e.Shape.ByKey || e.Shape.Method != "GET" {
				continue
			}
			reached[es.Name] = true
			contains, prefix, compared, sorted := indexColumns(e.Shape, es)
			for _, a := range ex.IndexFor(es, contains, prefix, compared, sorted) {
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
	for _, c := range sh.Sorts {
		key := false
		for _, k := range es.Type.Key {
			key = key || k.Column == c
		}
		if !key {
			sorted = append(sorted, c)
		}
	}
	return
}

// SampleShape turns on or off keeping a shape's last values, for EXPLAIN.
func (p *Plane) SampleShape(_ context.Context, name, id string, on bool) error {
	rec, ok := p.srv.Shapes(name)
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
	rec, ok := p.srv.Shapes(name)
	if !ok {
		return admin.CalloutReport{}, registry.ErrNotFound
	}
	limit := config.DefaultCalloutsPerHour
	if st, err := p.Get(ctx, name); err == nil && st.CalloutsPerHour > 0 {
		limit = st.CalloutsPerHour
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
	for _, name := range c.p.srv.SourceNames() {
		rec, ok := c.p.srv.Shapes(name)
		if !ok {
			continue
		}
		limit := config.DefaultCalloutsPerHour
		c.p.regs.mu.Lock()
		if m := c.p.regs.byName[name]; m != nil && m.reg.CalloutsPerHour > 0 {
			limit = m.reg.CalloutsPerHour
		}
		c.p.regs.mu.Unlock()
		co := rec.Callouts()
		ch <- prometheus.MustNewConstMetric(c.hour, prometheus.GaugeValue, float64(co.ThisHour), name)
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(limit), name)
		ch <- prometheus.MustNewConstMetric(c.projectedPct, prometheus.GaugeValue, float64(co.Projected)/float64(limit), name)
	}
}
