package sources

import (
	"context"
	"sort"
	"sync/atomic"

	"github.com/odatagw/odatagw/metadata"
)

// Reloader is implemented by sources that can read their schema again and
// swap in the new model while they serve.
type Reloader interface {
	Reload(ctx context.Context) (Changes, error)
}

// Changes lists what a reload did to names a client may have synced: a
// removed or renamed set or property makes Salesforce create new objects
// or fields at its next sync.
type Changes struct {
	RemovedSets       []string
	AddedSets         []string
	RemovedProperties []string // Set.Property
	AddedProperties   []string
}

// Any reports whether anything changed.
func (c Changes) Any() bool {
	return len(c.RemovedSets)+len(c.AddedSets)+len(c.RemovedProperties)+len(c.AddedProperties) > 0
}

// Compare lists the names in old that new lacks, and the reverse.
func Compare(old, new *metadata.Service) Changes {
	var c Changes
	if old == nil {
		return c
	}
	props := func(svc *metadata.Service) (map[string]bool, map[string]bool) {
		sets, ps := map[string]bool{}, map[string]bool{}
		for _, es := range svc.Sets {
			sets[es.Name] = true
			for _, p := range es.Type.Properties {
				ps[es.Name+"."+p.Name] = true
			}
		}
		return sets, ps
	}
	os, op := props(old)
	ns, np := props(new)
	for s := range os {
		if !ns[s] {
			c.RemovedSets = append(c.RemovedSets, s)
		}
	}
	for s := range ns {
		if !os[s] {
			c.AddedSets = append(c.AddedSets, s)
		}
	}
	for p := range op {
		if !np[p] && ns[setOf(p)] {
			c.RemovedProperties = append(c.RemovedProperties, p)
		}
	}
	for p := range np {
		if !op[p] && os[setOf(p)] {
			c.AddedProperties = append(c.AddedProperties, p)
		}
	}
	for _, l := range [][]string{c.RemovedSets, c.AddedSets, c.RemovedProperties, c.AddedProperties} {
		sort.Strings(l)
	}
	return c
}

func setOf(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '.' {
			return p[:i]
		}
	}
	return p
}

// Model is a source's current service model together with what building it
// decided, swapped as one so that a report always describes the model
// being served.
type Model struct {
	p atomic.Pointer[built]
}

type built struct {
	svc *metadata.Service
	rep metadata.Decisions
}

// Service is the current model (nil before the first build).
func (m *Model) Service() *metadata.Service {
	if b := m.p.Load(); b != nil {
		return b.svc
	}
	return nil
}

// Report is what building the current model left out and renamed.
func (m *Model) Report() metadata.Decisions {
	if b := m.p.Load(); b != nil {
		return b.rep
	}
	return metadata.Decisions{}
}

// Reporter is implemented by sources that keep what building their model
// decided, for compatibility reports.
type Reporter interface {
	Report() metadata.Decisions
}

// Rebuild builds a model from freshly introspected tables, logs what it
// decided, swaps it into current and reports what changed.
func Rebuild(tables []Table, opts Options, defaultSchema string, current *Model) (Changes, error) {
	svc, rep, err := BuildModel(tables, opts, defaultSchema)
	if err != nil {
		return Changes{}, err
	}
	LogReport(opts, svc, rep)
	changes := Compare(current.Service(), svc)
	current.p.Store(&built{svc: svc, rep: rep})
	return changes, nil
}
