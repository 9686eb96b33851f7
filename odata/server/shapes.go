package server

import (
	"time"

	"github.com/odatagw/odatagw/cache"
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

// database records the time the database took for a query or count.
func (r *request) database(set, kind string, status cache.Status, took time.Duration) {
	r.srv.metrics.database(r.name, set, kind, status, took)
	if !status.Answered() {
		r.dbNanos.Add(int64(took))
	}
}

// recordShape adds the request to its source's shape table and callout
// counts. The statement's text is made only when the table has none for
// the shape, or the shape is sampled.
func (r *request) recordShape(took time.Duration) {
	if r.src == nil || r.shape == nil || r.srv.cfg.NoShapes {
		return
	}
	rec := r.srv.recorder(r.name)
	if rec == nil {
		return
	}
	o := shapes.Observation{Shape: *r.shape, Status: r.w.Status(), CacheHit: cache.StatusOf(r.req.Context()).Answered(),
		Total: took, DB: time.Duration(r.dbNanos.Load()), Rows: r.rowsSent}
	if r.principal != nil {
		o.User = r.principal.User
	}
	if p := r.plan; p != nil && p.Query.Set != nil && len(p.Key) == 0 {
		if ex, ok := sources.As[sources.Explainer](r.src); ok {
			q := p.Query
			o.SQL = func() (string, []any) {
				text, args, err := ex.SQL(&q)
				if err != nil {
					return "", nil
				}
				return text, args
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
	if _, served := s.sources[name]; !served {
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
	if _, ok := s.Source(name); !ok {
		return nil, false
	}
	return s.recorder(name), true
}
