// Package compose makes the model of a service that serves several
// sources under one root: every member's entity sets under the service's
// names (the member's own, a prefix, or a name given to one set), the
// names checked for clashes, and the relations declared between members
// checked and added to the sets as references. It reads models and
// builds one; it opens nothing and serves nothing.
package compose

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/odatagw/odatagw/metadata"
)

// Member is one source of a service: its name, the prefix its sets take
// in the service, and its model now.
type Member struct {
	Name   string
	Prefix string
	Model  *metadata.Service
}

// Origin is where a service's set comes from: the member, and the set in
// the member's own model.
type Origin struct {
	Member string
	Set    *metadata.EntitySet
}

// Service is a service's model with where each of its sets comes from.
type Service struct {
	Model   *metadata.Service
	origin  map[string]Origin
	named   map[memberSet]string // the service's name for a member's set
	members []string
}

// memberSet names a member's set (a key that costs no allocation to
// look up, as NameOf does on every cached answer's way out).
type memberSet struct{ member, set string }

// Origin is where the service's set named set comes from.
func (s *Service) Origin(set string) (Origin, bool) {
	o, ok := s.origin[set]
	return o, ok
}

// NameOf is the service's name for a member's set.
func (s *Service) NameOf(member, set string) (string, bool) {
	n, ok := s.named[memberSet{member, set}]
	return n, ok
}

// Members lists the members, sorted. The slice is the service's own: it
// is only read.
func (s *Service) Members() []string { return s.members }

// Settings are what a service's configuration says about its names and
// relations, as compose reads them.
type Settings struct {
	// Service is the service's name, for messages.
	Service string
	// Names renames single sets: "member.set" -> the service's name.
	Names map[string]string
	// Relations relate a column of one set to the unique column of a set
	// of another member: "set.property" (the service's names) ->
	// "member.set.property" (the member's own).
	Relations map[string]string
}

// ClashError is a name two members' sets would both take.
type ClashError struct {
	Service, Name string
	First, Second string // "member.set" of each
}

func (e *ClashError) Error() string {
	member, set, _ := strings.Cut(e.Second, ".")
	return fmt.Sprintf("service %s: the entity set name %s is taken by both %s and %s; give %s a prefix (services.%s.sources.%s.prefix: %s_) "+
		"or give the one set a name of its own (services.%s.names: {%s: %s})",
		e.Service, e.Name, e.First, e.Second, member, e.Service, member, member, e.Service, e.Second, otherName(member, set))
}

// otherName suggests a name for a set that clashes: the member's name
// before it, as an External Object's API name would read it.
func otherName(member, set string) string {
	return strings.ToUpper(member[:1]) + member[1:] + strings.ToUpper(set[:1]) + set[1:]
}

// New makes a service's model from its members' models. A name two sets
// would take, a name given to a set no member has, and a relation that
// cannot be one are errors naming what to change.
func New(members []Member, st Settings) (*Service, error) {
	s := &Service{origin: map[string]Origin{}, named: map[memberSet]string{}}
	used := map[string]bool{}
	for k := range st.Names {
		used[k] = false
	}
	taken := map[string]string{} // service name -> "member.set"
	type pair struct{ orig, copy *metadata.EntitySet }
	var pairs []pair
	byMember := map[string]*metadata.Service{}
	for _, m := range members {
		s.members = append(s.members, m.Name)
		byMember[m.Name] = m.Model
		for _, es := range m.Model.Sets {
			qualified := m.Name + "." + es.Name
			name := m.Prefix + es.Name
			if n, ok := st.Names[qualified]; ok {
				name, used[qualified] = n, true
			}
			if first, clash := taken[name]; clash {
				return nil, &ClashError{Service: st.Service, Name: name, First: first, Second: qualified}
			}
			taken[name] = qualified
			s.named[memberSet{m.Name, es.Name}] = name
			s.origin[name] = Origin{Member: m.Name, Set: es}
			pairs = append(pairs, pair{es, renamed(es, name)})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(used)) {
		if !used[k] {
			return nil, fmt.Errorf("service %s: names: %s names no set of a member (write member.set, as the member names the set)", st.Service, k)
		}
	}
	sets := make([]*metadata.EntitySet, len(pairs))
	for i, p := range pairs {
		member := s.origin[p.copy.Name].Member
		// a foreign key inside a member names its target by the
		// service's name: two members may both have a table so called
		for j := range p.copy.References {
			ref := &p.copy.References[j]
			if target, ok := byMember[member].SetOfTable(ref.TargetSchema, ref.TargetTable); ok {
				ref.TargetSet = s.named[memberSet{member, target.Name}]
			}
		}
		if sum := p.copy.Summary; sum != nil {
			reads := make([]string, len(sum.Reads))
			for k, r := range sum.Reads {
				reads[k] = s.named[memberSet{member, r}]
			}
			sum.Reads = reads
		}
		sets[i] = p.copy
	}
	if err := s.relate(sets, byMember, st); err != nil {
		return nil, err
	}
	slices.Sort(s.members)
	model, err := metadata.NewService(sets)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", st.Service, err)
	}
	s.Model = model
	return s, nil
}

// renamed is a set under another name: its type takes the name too (a
// type is named as its set), everything else is the member's, shared.
func renamed(es *metadata.EntitySet, name string) *metadata.EntitySet {
	c := *es
	c.Name = name
	t := *es.Type
	t.Name = name
	c.Type = &t
	c.References = slices.Clone(es.References)
	if es.Summary != nil {
		sum := *es.Summary
		c.Summary = &sum
	}
	return &c
}

// relate checks each relation and adds it to its set as a reference to
// the target: Salesforce's package makes an External Lookup of it where
// the target is its set's key.
func (s *Service) relate(sets []*metadata.EntitySet, byMember map[string]*metadata.Service, st Settings) error {
	byName := map[string]*metadata.EntitySet{}
	for _, es := range sets {
		byName[es.Name] = es
	}
	fail := func(from, format string, args ...any) error {
		return fmt.Errorf("service %s: relations: %s: %s", st.Service, from, fmt.Sprintf(format, args...))
	}
	for _, from := range slices.Sorted(maps.Keys(st.Relations)) {
		to := st.Relations[from]
		setName, propName, ok := cut(from)
		if !ok {
			return fail(from, "write the column as set.property, in the service's names")
		}
		es, ok := byName[setName]
		if !ok {
			return fail(from, "the service has no entity set %s", setName)
		}
		p, ok := es.Type.Property(propName)
		if !ok {
			return fail(from, "%s has no property %s", setName, propName)
		}
		member, rest, _ := strings.Cut(to, ".")
		tSetName, tPropName, ok := cut(rest)
		model := byMember[member]
		if !ok || model == nil {
			return fail(from, "%q must name member.set.property, with a member of the service", to)
		}
		target, ok := model.EntitySet(tSetName)
		if !ok {
			return fail(from, "member %s has no entity set %s", member, tSetName)
		}
		tp, ok := target.Type.Property(tPropName)
		if !ok {
			return fail(from, "%s.%s has no property %s", member, tSetName, tPropName)
		}
		if !compatible(p.Type, tp.Type) {
			return fail(from, "%s is %s and %s is %s: a relation joins values of one kind (both text, or both whole numbers)", from, p.Type, to, tp.Type)
		}
		if !unique(target, tp) {
			return fail(from, "%s is not unique in %s.%s (neither its key nor a unique key of one column): a related record must be one", to, member, tSetName)
		}
		// first: a declared relation wins over a foreign key on the
		// same column, as a configured lookup does
		rel := metadata.Reference{Name: "relation " + from, Columns: []string{p.Column},
			Properties: []*metadata.Property{p}, TargetSchema: target.Schema, TargetTable: target.Table,
			TargetColumns: []string{tp.Column}, TargetSet: s.named[memberSet{member, tSetName}]}
		es.References = append([]metadata.Reference{rel}, es.References...)
	}
	return nil
}

// cut splits "a.b" at its last dot.
func cut(s string) (string, string, bool) {
	i := strings.LastIndex(s, ".")
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// compatible says whether values of one type can be looked up among
// another's: the same type, or both whole numbers.
func compatible(a, b metadata.Type) bool {
	return a == b || a.IsInteger() && b.IsInteger()
}

// unique says whether p names at most one entity of es: its key alone, or
// a unique key of that one property.
func unique(es *metadata.EntitySet, p *metadata.Property) bool {
	if len(es.Type.Key) == 1 && es.Type.Key[0] == p {
		return true
	}
	for _, k := range es.UniqueKeys {
		if len(k) == 1 && k[0] == p {
			return true
		}
	}
	return false
}
