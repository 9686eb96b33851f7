package sqlgen

import (
	"strconv"
	"strings"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
)

// A summary set's read is one grouped statement over its table:
//
//	SELECT dimensions, measures, label FROM table [LEFT JOIN parent ...]
//	WHERE the summary's filter AND what the request asks of dimensions
//	GROUP BY dimensions
//	HAVING what the request asks of measures
//	ORDER BY ... LIMIT ...
//
// so that a filter on a dimension is a filter on the table's rows, which
// an index of the table serves, and one on a measure a filter on the
// groups. A property of the set is rendered as what it computes
// (Builder.column).

// summaryColumn renders what a property of a summary set computes; false
// where p is not one of its properties (a property of its table, in its
// filter).
func (b *Builder) summaryColumn(p *metadata.Property) (string, bool) {
	part, ok := b.sum.Part(p)
	if !ok {
		return "", false
	}
	if _, aggregated := b.d.(HavingReadsAggregates); aggregated && b.having && part.Kind != metadata.Measure {
		// constant within a group: its least value is the value
		b.having = false
		s, _ := b.summaryColumn(p)
		b.having = true
		return "min(" + s + ")", true
	}
	switch part.Kind {
	case metadata.Dimension:
		return b.dimension(part), true
	case metadata.Label:
		return b.label(), true
	}
	if part.Func == "count" {
		return "count(*)", true
	}
	of := b.d.Column(part.Of)
	if part.Func == "count_distinct" {
		return "count(DISTINCT " + of + ")", true
	}
	return part.Func + "(" + of + ")", true
}

func (b *Builder) dimension(part metadata.Part) string {
	x := b.d.Column(part.Of)
	if part.Bucket != "" {
		return b.d.Bucket(part.Bucket, x)
	}
	return x
}

// label is the group's dimensions as text: each value, a bucket as its
// year, quarter, month or day, "(none)" for null.
func (b *Builder) label() string {
	var parts []string
	for _, part := range b.sum.Dimensions() {
		x := b.dimension(part)
		if part.Bucket != "" {
			x = b.d.BucketLabel(part.Bucket, x)
		} else if part.Prop.Type != metadata.String {
			x = b.d.Text(x)
		}
		if part.Prop.Nullable {
			x = "COALESCE(" + x + ", '(none)')"
		}
		parts = append(parts, x)
	}
	text := parts[0]
	if len(parts) > 1 {
		text = b.d.Concat(parts, " · ")
	}
	return "substr(" + text + ", 1, " + strconv.Itoa(metadata.MaxLabelLength) + ")"
}

// exactOrder sorts a summary's texts exactly where the database's
// collation may ignore case: groups that differ in case only (which
// groupBy keeps apart) must not tie, or a page's keyset could skip one.
func (b *Builder) exactOrder(q *plan.Query, orderSQL []string) {
	cf, folding := b.d.(CaseFolding)
	if !folding {
		return
	}
	for i, o := range q.OrderBy {
		if o.Expr.Type() == metadata.String {
			orderSQL[i] = cf.Exact(orderSQL[i])
		}
	}
}

// summaryFrom renders the table and its joins.
func (b *Builder) summaryFrom() string {
	s := b.sum
	from := b.d.Table(s.Schema, s.Table)
	for _, j := range s.Joins {
		cols := []string{b.d.QuoteIdent(j.Key) + " AS " + b.d.QuoteIdent(j.Alias+"_key")}
		for _, c := range j.Columns {
			cols = append(cols, b.d.QuoteIdent(c.Source)+" AS "+b.d.QuoteIdent(c.Prop.Column))
		}
		// the parent's columns renamed, so that none meets a column of
		// the table's in the statement
		from += " LEFT JOIN (SELECT " + strings.Join(cols, ", ") + " FROM " + b.d.Table(j.Schema, j.Table) + ") " +
			b.d.QuoteIdent(j.Alias) + " ON " + b.d.QuoteIdent(j.Alias) + "." + b.d.QuoteIdent(j.Alias+"_key") + " = " + b.d.Column(j.From)
	}
	return from
}

// groupBy renders the dimensions grouped. Where the database compares
// text through a collation that ignores case, a text dimension is grouped
// by its exact form too: OData tells Acme from ACME, and a group read by
// its key must be the group listed.
func (b *Builder) groupBy() string {
	var dims []string
	cf, folding := b.d.(CaseFolding)
	for _, part := range b.sum.Dimensions() {
		x := b.dimension(part)
		dims = append(dims, x)
		if folding && part.Prop.Type == metadata.String {
			dims = append(dims, cf.Exact(x))
		}
	}
	return strings.Join(dims, ", ")
}

// summaryConditions splits what the request asks into what the rows must
// meet (WHERE: the summary's own filter and every term that reads no
// measure) and what the groups must (HAVING); keyset is the next page's
// condition, placed by what its sort keys read.
func (b *Builder) summaryConditions(q *plan.Query, orderSQL []string) (where, having []string, err error) {
	if b.sum.Where != nil {
		w, err := b.expr(b.sum.Where)
		if err != nil {
			return nil, nil, err
		}
		where = append(where, w)
	}
	for _, term := range conjuncts(q.Where, nil) {
		b.having = b.readsMeasure(term)
		s, err := b.expr(term)
		if err != nil {
			return nil, nil, err
		}
		if b.having {
			having = append(having, s)
		} else {
			where = append(where, s)
		}
	}
	b.having = false
	if q.After != nil {
		for _, o := range q.OrderBy {
			b.having = b.having || b.readsMeasure(o.Expr)
		}
		if b.having {
			// the sort keys as the groups read them
			orderSQL = make([]string, len(q.OrderBy))
			for i, o := range q.OrderBy {
				if orderSQL[i], err = b.expr(o.Expr); err != nil {
					return nil, nil, err
				}
			}
			b.exactOrder(q, orderSQL)
		}
		k, err := b.keyset(q, orderSQL)
		if err != nil {
			return nil, nil, err
		}
		if b.having {
			having = append(having, k)
		} else {
			where = append(where, k)
		}
		b.having = false
	}
	return where, having, nil
}

// HavingReadsAggregates is implemented by dialects whose HAVING reads
// only aggregates, the select list's columns and the grouped columns
// (MySQL, MariaDB): there an expression over a grouped column (a bucket,
// the label) is read through min(), which over one group is its value.
type HavingReadsAggregates interface {
	HavingReadsAggregates()
}

// conjuncts are the terms of e's top-level ANDs.
func conjuncts(e plan.Expr, out []plan.Expr) []plan.Expr {
	if e == nil {
		return out
	}
	if bin, ok := e.(*plan.Binary); ok && bin.Op == plan.OpAnd {
		return conjuncts(bin.Right, conjuncts(bin.Left, out))
	}
	return append(out, e)
}

// readsMeasure reports whether e reads a measure of the summary.
func (b *Builder) readsMeasure(e plan.Expr) bool {
	switch v := e.(type) {
	case *plan.PropRef:
		part, ok := b.sum.Part(v.Prop)
		return ok && part.Kind == metadata.Measure
	case *plan.Binary:
		return b.readsMeasure(v.Left) || b.readsMeasure(v.Right)
	case *plan.Not:
		return b.readsMeasure(v.X)
	case *plan.Negate:
		return b.readsMeasure(v.X)
	case *plan.Call:
		for _, a := range v.Args {
			if b.readsMeasure(a) {
				return true
			}
		}
	case *plan.In:
		if b.readsMeasure(v.X) {
			return true
		}
		for _, x := range v.List {
			if b.readsMeasure(x) {
				return true
			}
		}
	}
	return false
}

// groupedFrom renders FROM ... WHERE ... GROUP BY ... HAVING ... of a
// summary's read.
func (b *Builder) groupedFrom(q *plan.Query, orderSQL []string) error {
	where, having, err := b.summaryConditions(q, orderSQL)
	if err != nil {
		return err
	}
	b.sb.WriteString(" FROM " + b.summaryFrom())
	if len(where) > 0 {
		b.sb.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.sb.WriteString(" GROUP BY " + b.groupBy())
	if len(having) > 0 {
		b.sb.WriteString(" HAVING " + strings.Join(having, " AND "))
	}
	return nil
}

// countGroups renders the count of a summary's groups that q selects.
func countGroups(d Dialect, q *plan.Query, what string) (string, []any, error) {
	b := &Builder{d: d, sum: q.Set.Summary}
	b.sb.WriteString("SELECT " + what + " FROM (SELECT 1 AS " + d.QuoteIdent("g"))
	if err := b.groupedFrom(&plan.Query{Set: q.Set, Where: q.Where}, nil); err != nil {
		return "", nil, err
	}
	b.sb.WriteString(") " + d.QuoteIdent("summary_groups"))
	text, args := b.done(b.sb.String())
	return text, args, nil
}
