package server

import (
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/sources"
)

// Metrics are the gateway's figures in Prometheus' registry. Labels are
// bounded: a source (only one that exists), an entity set (only one the
// model has), a method, a status class; never a URL, key or user.
type Metrics struct {
	series   sync.Map // seriesKey -> series
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	dbTime   *prometheus.HistogramVec
	rows     *prometheus.CounterVec
	authFail *prometheus.CounterVec
	refused  *prometheus.CounterVec
}

// latencyBuckets span a cache hit (a fraction of a millisecond) to
// Salesforce's 120 s limit.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

func newMetrics(s *Server) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "odatagw_requests_total",
			Help: "OData requests answered, by source, entity set, method and status class."}, []string{"source", "set", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "odatagw_request_duration_seconds",
			Help: "Time from a request's arrival to its last byte, by source, entity set and method.", Buckets: latencyBuckets},
			[]string{"source", "set", "method"}),
		dbTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "odatagw_database_duration_seconds",
			Help: "Time the database took to start answering a query or count the cache did not answer.", Buckets: latencyBuckets},
			[]string{"source", "set", "kind"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "odatagw_rows_returned_total",
			Help: "Entities returned in answers, by source and entity set."}, []string{"source", "set"}),
		authFail: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "odatagw_auth_failures_total",
			Help: "Requests refused for missing or wrong credentials, by source."}, []string{"source"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "odatagw_limit_refusals_total",
			Help: "Requests refused by a limit: rate (429), busy (no query slot within the queue timeout, 503)."}, []string{"limit"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.dbTime, m.rows, m.authFail, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&sourceCollector{s: s})
	return m
}

// Handler serves the figures in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// methodLabel keeps the method label to the methods OData uses.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete, "MERGE":
		return method
	}
	return "other"
}

// statusClasses are the status label's values, made once.
var statusClasses = [...]string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"}

// seriesKey names one request series: its labels.
type seriesKey struct {
	source, set, method string
	class               int
}

// series are a request series' counter and latency histogram, and the
// rows counter of its set.
type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
	rows     prometheus.Counter
}

// observe records one answered request and the rows it sent. A series'
// counter and histogram are looked up by its labels once and kept:
// hashing its labels on every request was a tenth of a cache hit's work.
func (m *Metrics) observe(source, set, method string, status int, took time.Duration, rows int) {
	method = methodLabel(method)
	class := min(max(status/100, 0), len(statusClasses)-1)
	k := seriesKey{source, set, method, class}
	s, ok := m.series.Load(k)
	if !ok {
		s, _ = m.series.LoadOrStore(k, series{m.requests.WithLabelValues(source, set, method, statusClasses[class]),
			m.latency.WithLabelValues(source, set, method), m.rows.WithLabelValues(source, set)})
	}
	se := s.(series)
	se.requests.Inc()
	se.latency.Observe(took.Seconds())
	if rows > 0 {
		se.rows.Add(float64(rows))
	}
}

// database records the time the database took, unless the cache answered.
func (m *Metrics) database(source, set, kind string, status cache.Status, took time.Duration) {
	if status.Answered() {
		return
	}
	m.dbTime.WithLabelValues(source, set, kind).Observe(took.Seconds())
}

var (
	cacheRequestsDesc = prometheus.NewDesc("odatagw_cache_requests_total", "Answers the query cache gave, by result.", []string{"source", "set", "result"}, nil)
	cacheEvictsDesc   = prometheus.NewDesc("odatagw_cache_evictions_total", "Entries dropped to keep the cache within its bound.", []string{"source", "set"}, nil)
	cacheBytesDesc    = prometheus.NewDesc("odatagw_cache_bytes", "Bytes held by a source's query cache.", []string{"source"}, nil)
	storeBytesDesc    = prometheus.NewDesc("odatagw_cache_store_bytes", "Bytes held by the query cache of every source together.", nil, nil)
	storeMaxDesc      = prometheus.NewDesc("odatagw_cache_max_bytes", "The bound of the query cache of every source together.", nil, nil)
	poolDesc          = prometheus.NewDesc("odatagw_pool_connections", "Database connections of a source's pool, by state (in_use, idle) and its size (max).", []string{"source", "state"}, nil)
	poolWaitsDesc     = prometheus.NewDesc("odatagw_pool_waits_total", "Times a query waited for a free connection.", []string{"source"}, nil)
	poolWaitDesc      = prometheus.NewDesc("odatagw_pool_wait_seconds_total", "Time queries spent waiting for a free connection.", []string{"source"}, nil)
	standbyReadsDesc  = prometheus.NewDesc("odatagw_standby_reads_total", "Reads a PostgreSQL standby served.", []string{"source", "standby"}, nil)
	standbyLagDesc    = prometheus.NewDesc("odatagw_standby_lag_seconds", "How old the newest write a standby has not replayed is (0: caught up).", []string{"source", "standby"}, nil)
	standbyStateDesc  = prometheus.NewDesc("odatagw_standby_state", "1 for a standby's state now: serving, lagging, down, promoted or starting.", []string{"source", "standby", "state"}, nil)
	primaryReadsDesc  = prometheus.NewDesc("odatagw_primary_reads_total", "Reads of a source with standbys that went to the primary, by why: no_standby, behind, standby_failed, position_unknown.", []string{"source", "reason"}, nil)
)

// standbyStates are the states odatagw_standby_state has a series for.
var standbyStates = []string{sources.StandbyServing, sources.StandbyLagging, sources.StandbyDown, sources.StandbyPromoted, sources.StandbyStarting}

// sourceCollector reads the cache's and the pools' own counters at each
// scrape, for every source served then.
type sourceCollector struct{ s *Server }

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheRequestsDesc, cacheEvictsDesc, cacheBytesDesc, storeBytesDesc, storeMaxDesc, poolDesc, poolWaitsDesc, poolWaitDesc,
		standbyReadsDesc, standbyLagDesc, standbyStateDesc, primaryReadsDesc} {
		ch <- d
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	var store *cache.Figures
	for _, name := range c.s.SourceNames() {
		src, ok := c.s.Source(name)
		if !ok {
			continue
		}
		if f, ok := c.s.CacheFigures(name); ok {
			for _, set := range slices.Sorted(maps.Keys(f.Sets)) {
				st := f.Sets[set]
				ch <- prometheus.MustNewConstMetric(cacheRequestsDesc, prometheus.CounterValue, float64(st.Hits), name, set, "hit")
				ch <- prometheus.MustNewConstMetric(cacheRequestsDesc, prometheus.CounterValue, float64(st.Misses), name, set, "miss")
				ch <- prometheus.MustNewConstMetric(cacheRequestsDesc, prometheus.CounterValue, float64(st.Stale), name, set, "stale")
				ch <- prometheus.MustNewConstMetric(cacheEvictsDesc, prometheus.CounterValue, float64(st.Evictions), name, set)
			}
			ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(f.Bytes), name)
			store = &f
		}
		if p, ok := sources.As[sources.Pooled](src); ok {
			st := p.PoolStats()
			ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(st.InUse), name, "in_use")
			ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(st.Idle), name, "idle")
			ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(st.Max), name, "max")
			ch <- prometheus.MustNewConstMetric(poolWaitsDesc, prometheus.CounterValue, float64(st.Waits), name)
			ch <- prometheus.MustNewConstMetric(poolWaitDesc, prometheus.CounterValue, st.WaitTime.Seconds(), name)
		}
		if sb, ok := sources.As[sources.Standbyed](src); ok {
			collectStandbys(ch, name, sb.Standbys())
		}
	}
	if store != nil {
		ch <- prometheus.MustNewConstMetric(storeBytesDesc, prometheus.GaugeValue, float64(store.StoreBytes))
		ch <- prometheus.MustNewConstMetric(storeMaxDesc, prometheus.GaugeValue, float64(store.StoreMax))
	}
}

// collectStandbys reports where a source's reads go.
func collectStandbys(ch chan<- prometheus.Metric, name string, rep sources.StandbyReport) {
	if len(rep.Standbys) == 0 {
		return
	}
	for _, st := range rep.Standbys {
		ch <- prometheus.MustNewConstMetric(standbyReadsDesc, prometheus.CounterValue, float64(st.Reads), name, st.Address)
		ch <- prometheus.MustNewConstMetric(standbyLagDesc, prometheus.GaugeValue, st.Lag.Seconds(), name, st.Address)
		for _, state := range standbyStates {
			v := 0.0
			if st.State == state {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(standbyStateDesc, prometheus.GaugeValue, v, name, st.Address, state)
		}
	}
	for _, reason := range slices.Sorted(maps.Keys(rep.PrimaryReads)) {
		ch <- prometheus.MustNewConstMetric(primaryReadsDesc, prometheus.CounterValue, float64(rep.PrimaryReads[reason]), name, reason)
	}
}
