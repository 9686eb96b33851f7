package server

import (
	"sync/atomic"
	"time"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/odata/activity"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/shapes"
	"github.com/odatagw/odatagw/sources"
)

// shapeOf is a read's shape; $metadata and the service document are the
// sync's.
func shapeOf(p *plan.Plan, method string) shapes.Shape {
	switch p.Kind {
	case plan.KindMetadata:
		return shapes.Shape{Method: method, Set: "$metadata"}.Identified()
	case plan.KindServiceDocument:
		return shapes.Shape{Method: method, Set: "$service"}.Identified()
	}
	return shapes.Of(p, method)
}

// dbTimes are the database's times for one request, per statement, and
// how long the request waited for them: a page and its count run side
// by side, so the wait is the longer of the two, not their sum.
type dbTimes struct {
	page, count, write atomic.Int64 // nanoseconds, of statements the cache did not answer
	waited             atomic.Int64 // set where statements ran side by side (fetch)
}

// waitedFor is the time the request waited for the database.
func (d *dbTimes) waitedFor() time.Duration {
	if w := d.waited.Load(); w > 0 {
		return time.Duration(w)
	}
	return time.Duration(d.page.Load() + d.count.Load() + d.write.Load())
}

// database records the time the database took for a statement: a
// query, a count or a write.
func (r *request) database(set, kind string, status cache.Status, took time.Duration) {
	r.srv.metrics.database(r.name, set, kind, status, took)
	if status.Answered() {
		return
	}
	switch kind {
	case "query":
		r.db.page.Add(int64(took))
	case "count":
		r.db.count.Add(int64(took))
	default:
		r.db.write.Add(int64(took))
	}
}

// recordShape adds the request to its source's shape table and callout
// counts. The statement's text is made only when the table has none for
// the shape, or the shape is sampled.
func (r *request) recordShape(took time.Duration) {
	if (r.src == nil && r.service == nil) || r.srv.cfg.NoShapes {
		return
	}
	if r.shape == nil {
		// refused before it was planned, or a $batch: counted all the
		// same, under its set (or what named none), so that every refusal
		// is seen
		set := r.set
		if set == "" {
			set = activity.OtherSet
		}
		sh := shapes.Shape{Set: set, Method: r.req.Method, Refused: r.w.Status() >= 400}.Identified()
		r.shape = &sh
	}
	rec := r.srv.recorder(r.name)
	if rec == nil {
		return
	}
	o := shapes.Observation{Shape: *r.shape, Status: r.w.Status(), CacheHit: cache.StatusOf(r.req.Context()).Answered(),
		Total: took, DB: r.db.waitedFor(), PageDB: time.Duration(r.db.page.Load()), CountDB: time.Duration(r.db.count.Load()),
		Rows: r.rowsSent, Bytes: int64(max(r.w.Size(), 0))}
	if r.places != nil {
		o.OnStandby, o.OnPrimary = int(r.places.Standby.Load()), int(r.places.Primary.Load())
	}
	if p := r.plan; p != nil {
		o.Continues = p.SkipToken != nil || p.Query.Skip > 0
	}
	if r.principal != nil {
		o.User = r.principal.User
	}
	if p := r.plan; p != nil && p.Query.Set != nil && len(p.Key) == 0 {
		if ex, ok := sources.As[sources.Explainer](r.src); ok {
			q := p.Query
			statement := func(sql func(*plan.Query) (string, []any, error)) func() (string, []any) {
				return func() (string, []any) {
					text, args, err := sql(&q)
					if err != nil {
						return "", nil
					}
					return text, args
				}
			}
			o.SQL = statement(ex.SQL)
			if p.Count {
				o.CountSQL = statement(ex.CountSQL)
			}
		}
	}
	rec.Record(o)
}

// recorder is a source's shape table, made with the source.
func (s *Server) recorder(name string) *shapes.Recorder {
	s.mu.RLock()
	rec := s.shapes[name]
	s.mu.RUnlock()
	if rec != nil {
		return rec
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, served := s.sources[name]
	if _, service := s.services[name]; !served && !service {
		return nil
	}
	if s.shapes == nil {
		s.shapes = map[string]*shapes.Recorder{}
	}
	if s.shapes[name] == nil {
		s.shapes[name] = shapes.NewRecorder(0)
	}
	return s.shapes[name]
}

// Shapes is a source's shape table, for the admin API.
func (s *Server) Shapes(name string) (*shapes.Recorder, bool) {
	_, service := s.service(name)
	if _, ok := s.Source(name); !ok && !service {
		return nil, false
	}
	return s.recorder(name), true
}
