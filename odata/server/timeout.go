package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/odatagw/odatagw/cache"
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
func (r *request) adviceFor(es *metadata.EntitySet) *sources.IndexAdvice {
	src := r.src
	if c, ok := src.(*cache.Source); ok {
		src = c.Inner()
	}
	a, ok := src.(sources.IndexAdvisor)
	if !ok {
		return nil
	}
	// its own time: the request's ran out
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	all, err := a.AdviseIndexes(ctx)
	if err != nil {
		return nil
	}
	advice, _ := sources.Worthwhile(all) // on a small table an index is not why it timed out
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
