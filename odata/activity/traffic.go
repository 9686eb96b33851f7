package activity

import (
	"maps"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/odatagw/odatagw/odata/shapes"
)

// Traffic keeps the last hour of each source's and set's traffic in
// ten-second buckets, for the admin page's charts: requests, errors (5xx,
// timeouts among them: what the admin must act on), refusals (4xx, by
// status: requests refused as sent), cache lookups and hits, rows
// returned, and a latency histogram from which p50 and p95 are read. The
// shape table (package shapes) counts errors and refusals the same way.
type Traffic struct {
	mu     sync.Mutex
	series map[trafficKey]*trafficRing
	now    func() time.Time
}

type trafficKey struct{ source, set string }

// Step is a bucket's width; Span how far back the figures go.
const (
	Step = 10 * time.Second
	Span = time.Hour
)

const buckets = int(Span / Step)

// latencyEdges are the upper bounds (ms) of the latency histogram's bins.
var latencyEdges = []float64{0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000, 30000, 60000, 120000}

type trafficBucket struct {
	start                                    int64 // unix seconds of the bucket's start; 0: empty
	requests, errors, lookups, hits, rowsOut int64
	refusals                                 int64
	refused                                  map[int]int64 // refusals by status; nil while none
	latency                                  [26]int64     // one bin per latencyEdges, and one past the last
}

type trafficRing struct{ b [buckets]trafficBucket }

func NewTraffic() *Traffic {
	return &Traffic{series: map[trafficKey]*trafficRing{}, now: time.Now}
}

// OtherSet is the series of a source's requests that name no entity
// set: the service document, $metadata, $batch and unknown sets. (No set
// can be called so: "" is the whole source's.)
const OtherSet = "$other"

// Record adds one answered request. cache is "hit", "stale", "miss" or ""
// (the cache was not asked).
func (t *Traffic) Record(source, set string, status int, took time.Duration, cache string, rows int) {
	if set == "" {
		set = OtherSet
	}
	now := t.now()
	slot := now.Unix() / int64(Step/time.Second)
	start := slot * int64(Step/time.Second)
	ms := float64(took.Microseconds()) / 1000
	bin := sort.SearchFloat64s(latencyEdges, ms)
	t.mu.Lock()
	defer t.mu.Unlock()
	ring := t.series[trafficKey{source, set}]
	if ring == nil {
		ring = &trafficRing{}
		t.series[trafficKey{source, set}] = ring
	}
	b := &ring.b[slot%int64(buckets)]
	if b.start != start {
		*b = trafficBucket{start: start}
	}
	b.requests++
	switch shapes.Failure(status) {
	case "error":
		b.errors++
	case "refusal":
		b.refusals++
		if b.refused == nil {
			b.refused = map[int]int64{}
		}
		b.refused[status]++
	}
	switch cache {
	case "hit", "stale":
		b.lookups++
		b.hits++
	case "miss":
		b.lookups++
	}
	b.rowsOut += int64(rows)
	b.latency[bin]++
}

// Point is one bucket's figures.
type Point struct {
	Time         time.Time `json:"t"`
	RequestsPerS float64   `json:"rps"`
	// Errors are 5xx answers (timeouts among them); Refusals 4xx, by
	// status in the hour's total (RefusedBy).
	Errors        int64            `json:"errors"`
	Refusals      int64            `json:"refusals"`
	RefusedBy     map[string]int64 `json:"refused_by_status,omitempty"`
	CacheHitRatio *float64         `json:"cache_hit_ratio"` // null: nothing asked the cache
	P50           *float64         `json:"p50_ms"`          // null: no request
	P95           *float64         `json:"p95_ms"`
	Rows          int64            `json:"rows"`
	Requests      int64            `json:"requests"`
}

// Series is a set's (or, with Set "", a source's; with
// OtherSet, what named no set) last hour.
type Series struct {
	Source string  `json:"source"`
	Set    string  `json:"set"`
	Points []Point `json:"points"`
	Total  Point   `json:"total"` // the hour as one bucket
}

// Series returns the last hour of a source: one series per set, and the
// source's whole as the first, oldest point first.
func (t *Traffic) Series(source string) []Series {
	now := t.now()
	last := now.Unix() / int64(Step/time.Second)
	t.mu.Lock()
	var sets []string
	rings := map[string]trafficRing{}
	for k, r := range t.series {
		if k.source == source {
			sets = append(sets, k.set)
			ring := *r
			for i := range ring.b { // the maps too: they change under the lock
				ring.b[i].refused = maps.Clone(ring.b[i].refused)
			}
			rings[k.set] = ring
		}
	}
	t.mu.Unlock()
	// the sets by name, then what named none
	sort.Slice(sets, func(i, j int) bool {
		if (sets[i] == OtherSet) != (sets[j] == OtherSet) {
			return sets[j] == OtherSet
		}
		return sets[i] < sets[j]
	})
	whole := Series{Source: source, Set: ""}
	var all [buckets]trafficBucket
	out := []Series{}
	for _, set := range sets {
		ring := rings[set]
		s := Series{Source: source, Set: set}
		var sum trafficBucket
		for i := 0; i < buckets; i++ {
			slot := last - int64(buckets-1-i)
			start := slot * int64(Step/time.Second)
			b := ring.b[slot%int64(buckets)]
			if b.start != start {
				b = trafficBucket{start: start}
			}
			s.Points = append(s.Points, b.point())
			add(&all[i], b)
			all[i].start = start
			add(&sum, b)
		}
		sum.start = ring.b[(last+1)%int64(buckets)].start
		s.Total = sum.point()
		s.Total.RefusedBy = byStatus(sum.refused)
		s.Total.RequestsPerS = float64(sum.requests) / Span.Seconds()
		s.Total.Time = now.Add(-Span)
		out = append(out, s)
	}
	var sum trafficBucket
	for i := range all {
		whole.Points = append(whole.Points, all[i].point())
		add(&sum, all[i])
	}
	whole.Total = sum.point()
	whole.Total.RefusedBy = byStatus(sum.refused)
	whole.Total.RequestsPerS = float64(sum.requests) / Span.Seconds()
	whole.Total.Time = now.Add(-Span)
	return append([]Series{whole}, out...)
}

// byStatus is refusals by status, as JSON keys them.
func byStatus(m map[int]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for status, n := range m {
		out[strconv.Itoa(status)] = n
	}
	return out
}

func add(to *trafficBucket, b trafficBucket) {
	to.requests += b.requests
	to.errors += b.errors
	to.refusals += b.refusals
	for status, n := range b.refused {
		if to.refused == nil {
			to.refused = map[int]int64{}
		}
		to.refused[status] += n
	}
	to.lookups += b.lookups
	to.hits += b.hits
	to.rowsOut += b.rowsOut
	for i := range to.latency {
		to.latency[i] += b.latency[i]
	}
}

func (b trafficBucket) point() Point {
	p := Point{Time: time.Unix(b.start, 0).UTC(), RequestsPerS: float64(b.requests) / Step.Seconds(),
		Errors: b.errors, Refusals: b.refusals, Rows: b.rowsOut, Requests: b.requests}
	if b.lookups > 0 {
		r := float64(b.hits) / float64(b.lookups)
		p.CacheHitRatio = &r
	}
	if b.requests > 0 {
		p50, p95 := b.quantile(0.5), b.quantile(0.95)
		p.P50, p.P95 = &p50, &p95
	}
	return p
}

// quantile reads a quantile from the histogram: the upper edge of the bin
// that holds it (at most one bin's width too high).
func (b trafficBucket) quantile(q float64) float64 {
	want := int64(math.Ceil(q * float64(b.requests)))
	var seen int64
	for i, n := range b.latency {
		seen += n
		if seen >= want {
			if i < len(latencyEdges) {
				return latencyEdges[i]
			}
			return latencyEdges[len(latencyEdges)-1]
		}
	}
	return 0
}
