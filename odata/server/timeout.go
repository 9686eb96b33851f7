package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
)

// explainTimeout makes a read that ran past the statement timeout say
// which set it read and, where the source can tell, which index would
// have served it (what odatagw check --indexes advises for the columns
// the request filtered, searched or sorted on).
func (r *request) explainTimeout(err error) error {
	var e *odata.Error
	if !errors.As(err, &e) || e.Status != http.StatusGatewayTimeout || r.plan == nil || r.plan.Set == nil {
		return err
	}
	es := r.plan.Set
	msg := "reading " + es.Name + " took longer than the statement timeout and was cancelled; narrow it with $filter or a smaller $top"
	if advice := r.adviceFor(es); advice != nil {
		msg += ", or ask the database's administrator for the index on " + advice.Column + " that Salesforce's traffic needs: " + advice.SQL
	}
	return &odata.Error{Status: e.Status, Code: e.Code, Message: msg, Target: es.Name, Cause: e.Cause}
}

// adviceFor is the first index advised for a column the request used.
func (r *request) adviceFor(es *metadata.EntitySet) *metadata.IndexAdvice {
	a, ok := sources.As[sources.IndexAdvisor](r.src)
	if !ok {
		return nil
	}
	advice := r.srv.advice.of(r.name+"\x00"+r.svc.Version(), a)
	used := columnsOf(r.plan.Query.Where, nil)
	for _, o := range r.plan.Query.OrderBy {
		used = columnsOf(o.Expr, used)
	}
	for i, ix := range advice {
		if ix.Set == es.Name && slices.Contains(used, ix.Column) {
			return &advice[i]
		}
	}
	return nil
}

// columnsOf adds the columns an expression reads to cols.
func columnsOf(e plan.Expr, cols []string) []string {
	switch v := e.(type) {
	case *plan.PropRef:
		return append(cols, v.Prop.Column)
	case *plan.Binary:
		return columnsOf(v.Right, columnsOf(v.Left, cols))
	case *plan.Not:
		return columnsOf(v.X, cols)
	case *plan.Negate:
		return columnsOf(v.X, cols)
	case *plan.Call:
		for _, a := range v.Args {
			cols = columnsOf(a, cols)
		}
	case *plan.In:
		cols = columnsOf(v.X, cols)
		for _, a := range v.List {
			cols = columnsOf(a, cols)
		}
	}
	return cols
}

// adviceTTL is how long a model's index advice is reused by its 504s: a
// database that times out is not asked again for each (the advice reads
// the catalogue four times), and an index a DBA creates is seen soon.
const adviceTTL = 10 * time.Minute

// adviceCache keeps the index advice of each source's model, once made.
type adviceCache struct{ m sync.Map } // source and model version: *adviceEntry

type adviceEntry struct {
	once sync.Once
	made time.Time
	list []metadata.IndexAdvice // the worthwhile advice; nil when it could not be read
}

// of is the advice for key, made by a once per adviceTTL, however many
// requests time out at once.
func (c *adviceCache) of(key string, a sources.IndexAdvisor) []metadata.IndexAdvice {
	v, _ := c.m.LoadOrStore(key, &adviceEntry{})
	e := v.(*adviceEntry)
	e.once.Do(func() {
		e.made = time.Now()
		// its own time: the request's ran out
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if all, err := a.AdviseIndexes(ctx); err == nil {
			e.list, _ = metadata.Worthwhile(all) // on a small table an index is not why it timed out
		}
	})
	if time.Since(e.made) > adviceTTL {
		c.m.CompareAndDelete(key, e) // the next one asks again
	}
	return e.list
}
