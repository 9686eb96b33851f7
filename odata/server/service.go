package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/odatagw/odatagw/cache"
	"github.com/odatagw/odatagw/internal/auth"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/metadata/compose"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/sources"
)

// ServiceDef is a service over several registered sources: its members
// (source name -> the prefix their sets take) and how compose names and
// relates their sets.
type ServiceDef struct {
	Members  map[string]string
	Settings compose.Settings
	// ReadOnly serves every set of the service read-only.
	ReadOnly bool
}

// service is a served service: its definition, its guard, and its model
// as last composed from its members' models. The members stay sources of
// their own: each request on a set runs on its member's entry (its
// connections, slots and answer cache), looked up when the request
// starts, so a member swapped in or out is followed at once.
type service struct {
	name    string
	def     ServiceDef
	members []string // def.Members' names, sorted
	guard   *auth.Guard

	mu       sync.Mutex
	composed *compose.Service
	answers  *serviceAnswers   // the answer cache of the model composed
	versions map[string]string // the members' model versions composed from
}

// AddService serves def under name, with the guard that decides who may
// call it. Every member must be served: the model is composed now, and a
// clash of names or a relation that cannot be one is an error (nothing is
// served then). A service it replaces stops at once; its requests run on
// the members, which stay.
func (s *Server) AddService(name string, def ServiceDef, guard *auth.Guard) error {
	svc := &service{name: name, def: def, members: slices.Sorted(maps.Keys(def.Members)), guard: guard}
	if _, _, err := s.composeService(svc); err != nil {
		return err
	}
	s.mu.Lock()
	if s.services == nil {
		s.services = map[string]*service{}
	}
	old := s.services[name]
	s.services[name] = svc
	s.mu.Unlock()
	if old != nil && old.guard != nil && old.guard != guard {
		old.guard.Close()
	}
	return nil
}

// RemoveService stops serving a service; its members stay.
func (s *Server) RemoveService(name string) bool {
	s.mu.Lock()
	old, ok := s.services[name]
	delete(s.services, name)
	delete(s.shapes, name)
	s.mu.Unlock()
	if ok && old.guard != nil {
		old.guard.Close()
	}
	return ok
}

// ServiceNames lists the services served, sorted.
func (s *Server) ServiceNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.services))
}

// ServiceModel is a service's model as composed now, with where each of
// its sets comes from.
func (s *Server) ServiceModel(name string) (*compose.Service, error) {
	s.mu.RLock()
	svc, ok := s.services[name]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("no service is named %s", name)
	}
	c, _, err := s.composeService(svc)
	return c, err
}

// TryServiceWith composes a service as it would be were member's model
// the one given (a changed source, before it is swapped in): the error
// says what would clash. Nothing changes.
func (s *Server) TryServiceWith(name, member string, model *metadata.Service) error {
	svc, ok := s.service(name)
	if !ok {
		return fmt.Errorf("no service is named %s", name)
	}
	var members []compose.Member
	for _, m := range svc.members {
		mm := model
		if m != member {
			e, ok := s.entry(m)
			if !ok {
				continue
			}
			mm = e.src.Metadata()
		}
		members = append(members, compose.Member{Name: m, Prefix: svc.def.Members[m], Model: mm})
	}
	st := svc.def.Settings
	st.Service = name
	_, err := compose.New(members, st)
	return err
}

func (s *Server) service(name string) (*service, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	svc, ok := s.services[name]
	return svc, ok
}

// composeService is the service's model for its members' models now:
// composed again when one of them changed (a reload), else the one
// composed before. While a member is not served, the model it was
// composed with stays, and its sets answer 503 (bindMember).
func (s *Server) composeService(svc *service) (*compose.Service, *serviceAnswers, error) {
	if c, a, ok := s.composedNow(svc); ok {
		return c, a, nil // every request asks: this way allocates nothing
	}
	members := make([]compose.Member, 0, len(svc.def.Members))
	versions := make(map[string]string, len(svc.def.Members))
	missing := ""
	for _, name := range svc.members {
		e, ok := s.entry(name)
		if !ok {
			missing = name
			continue
		}
		model := e.src.Metadata()
		members = append(members, compose.Member{Name: name, Prefix: svc.def.Members[name], Model: model})
		versions[name] = model.Version()
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if svc.composed != nil && (missing != "" || maps.Equal(svc.versions, versions)) {
		return svc.composed, svc.answers, nil
	}
	if missing != "" {
		return nil, nil, fmt.Errorf("service %s: source %s is not served here; a service's sources must be", svc.name, missing)
	}
	st := svc.def.Settings
	st.Service = svc.name
	c, err := compose.New(members, st)
	if err != nil {
		if svc.composed != nil {
			// a member's reload made a clash: the model before it keeps
			// serving, and the log says why
			s.log.Error("a member's new model cannot join the service; the service keeps the model it had", "service", svc.name, "error", err)
			svc.versions = versions
			return svc.composed, svc.answers, nil
		}
		return nil, nil, err
	}
	if svc.def.ReadOnly {
		for _, es := range c.Model.Sets {
			es.ReadOnly = true
		}
	}
	svc.composed, svc.answers, svc.versions = c, newServiceAnswers(s, svc.name, c), versions
	return c, svc.answers, nil
}

// composedNow is the model composed before, while every member still
// serves the model it was composed from.
func (s *Server) composedNow(svc *service) (*compose.Service, *serviceAnswers, bool) {
	svc.mu.Lock()
	c, a, versions := svc.composed, svc.answers, svc.versions
	svc.mu.Unlock()
	if c == nil {
		return nil, nil, false
	}
	for _, name := range svc.members {
		e, ok := s.entry(name)
		if !ok || e.src.Metadata().Version() != versions[name] {
			return nil, nil, false
		}
	}
	return c, a, true
}

// bindMember makes the request run on the member that serves set: its
// source, its query slots, its standbys. A member not served answers 503
// for its sets alone; the service's other sets keep answering.
func (r *request) bindMember(set *metadata.EntitySet) error {
	if r.service == nil || set == nil || r.member != nil {
		return nil
	}
	o, ok := r.composed.Origin(set.Name)
	if !ok {
		return odata.Internal(fmt.Errorf("service %s has no origin for set %s", r.name, set.Name))
	}
	e, ok := r.srv.acquire(o.Member)
	if !ok {
		msg := "the database that serves " + set.Name + " (source " + o.Member + ") is not being served right now; the service's other sets answer; try again in a moment"
		if why, waiting := r.srv.unavailableMessage(o.Member); waiting {
			msg += " (" + why + ")"
		}
		return &odata.Error{Status: http.StatusServiceUnavailable, Code: odata.CodeUnavailable, Message: msg}
	}
	r.member, r.memberName = e, o.Member
	r.src, r.slots = e.src, e.slots
	if e.standbys && r.places == nil {
		r.places = &sources.ReadPlaces{}
		r.req = r.req.WithContext(sources.WithReadPlaces(r.req.Context(), r.places))
	}
	return nil
}

// memberOfPath is the member whose set a path below the gateway (a
// change set's part) writes to, "" where the path names no set of the
// service.
func (r *request) memberOfPath(target string) (member, set string) {
	p, _, _ := strings.Cut(target, "?")
	prefix := "/odata/" + r.name + "/"
	if i := strings.Index(p, prefix); i >= 0 {
		p = p[i+len(prefix):]
	}
	name, ok := firstSegment(p)
	if !ok {
		return "", ""
	}
	o, ok := r.composed.Origin(name)
	if !ok {
		return "", ""
	}
	return o.Member, name
}

// changeSetMember is the one member a change set of a service writes
// to, or the 400 that refuses it before anything is written: one change
// set is one transaction, and a transaction is one database's.
func (r *request) changeSetMember(targets []string) (string, error) {
	member, first := "", ""
	for _, t := range targets {
		m, set := r.memberOfPath(t)
		switch {
		case m == "":
		case member == "":
			member, first = m, set
		case m != member:
			return "", odata.BadRequest(odata.CodeBadRequest,
				"a change set is one transaction in one database, and this one writes to %s (source %s) and %s (source %s); "+
					"send the changes of each database in a change set of its own", first, member, set, m)
		}
	}
	if member == "" {
		return "", odata.BadRequest(odata.CodeBadRequest, "the change set writes to no entity set of service %s", r.name)
	}
	return member, nil
}

// serviceAnswers is a service's answer cache: each set's answers are
// kept in its member's cache, under the member's name for the set, so
// that they share the member's generations: a write through the service
// or through the member's own root makes both answer anew, on every
// replica. A service's answers are filed apart from the member's own
// (their bodies name the service's sets), under the service's name and
// model version.
type serviceAnswers struct {
	srv *Server
	c   *compose.Service
	tag string // what the service's texts and fingerprints start with
}

func newServiceAnswers(s *Server, name string, c *compose.Service) *serviceAnswers {
	return &serviceAnswers{srv: s, c: c, tag: "service " + name + " " + c.Model.Version() + "\x00"}
}

var _ AnswerCache = (*serviceAnswers)(nil)

// member is the answer cache of the member serving set, and the
// member's name for it; nil where the member keeps nothing or is not
// served.
func (a *serviceAnswers) member(set string) (AnswerCache, string) {
	o, ok := a.c.Origin(set)
	if !ok {
		return nil, ""
	}
	e, ok := a.srv.entry(o.Member)
	if !ok || e.answers == nil {
		return nil, ""
	}
	return e.answers, o.Set.Name
}

func (a *serviceAnswers) Keeps(set string) bool {
	c, ms := a.member(set)
	return c != nil && c.Keeps(ms)
}

func (a *serviceAnswers) Answer(ctx context.Context, set, text string, render func(context.Context) (*cache.Answer, error)) (*cache.Answer, error) {
	c, ms := a.member(set)
	if c == nil {
		return render(ctx)
	}
	return c.Answer(ctx, ms, a.tag+text, render)
}

func (a *serviceAnswers) Count(ctx context.Context, set, text string, count func(context.Context) (int64, error)) (int64, error) {
	c, ms := a.member(set)
	if c == nil || !c.Keeps(ms) {
		return count(ctx)
	}
	return c.Count(ctx, ms, a.tag+text, count)
}

func (a *serviceAnswers) Remember(fingerprint, set, text string) {
	if c, ms := a.member(set); c != nil {
		c.Remember(fingerprint, ms, a.tag+text)
	}
}

// Recall looks for the fingerprint in each member's cache: a service has
// a few members, and a fingerprint is one map lookup in each.
// The fingerprint starts with the service's tag already (the request
// writes it there first: a hit allocates no fingerprint).
func (a *serviceAnswers) Recall(ctx context.Context, fingerprint []byte, may cache.Reader) (*cache.Answer, string, bool) {
	for _, m := range a.c.Members() {
		e, ok := a.srv.entry(m)
		if !ok || e.answers == nil {
			continue
		}
		ans, ms, ok := e.answers.Recall(ctx, fingerprint, &memberReader{may, a.c, m})
		if ok {
			set, _ := a.c.NameOf(m, ms)
			return ans, set, true
		}
	}
	return nil, "", false
}

func (a *serviceAnswers) Written(set string) {
	if c, ms := a.member(set); c != nil {
		c.Written(ms)
	}
}

// Figures are the members' own: a service keeps nothing of its own.
func (a *serviceAnswers) Figures() cache.Figures { return cache.Figures{} }

func (a *serviceAnswers) Close() {}

// memberReader asks the service's guard about a member's set by the
// service's name for it.
type memberReader struct {
	may    cache.Reader
	c      *compose.Service
	member string
}

func (m *memberReader) MayReadSet(set string) bool {
	name, ok := m.c.NameOf(m.member, set)
	return ok && m.may.MayReadSet(name)
}
