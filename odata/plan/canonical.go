package plan

import (
	"github.com/odatagw/odatagw/odata/format"
	"strconv"
	"strings"
)

// Canonical writes an expression in one fixed textual form: the same
// meaning written with other spacing, parentheses or literal spellings gives
// the same text. Skiptoken fingerprints and cache keys use it.
func Canonical(e Expr) string {
	var b strings.Builder
	writeCanonical(&b, e)
	return b.String()
}

func writeCanonical(b *strings.Builder, e Expr) {
	switch v := e.(type) {
	case *PropRef:
		b.WriteString(v.Prop.Name)
	case *Const:
		b.WriteString(format.Literal(v.Value, v.T))
		b.WriteString(":" + string(v.T))
	case *Binary:
		b.WriteString("(")
		writeCanonical(b, v.Left)
		b.WriteString(" " + v.Op.String() + " ")
		writeCanonical(b, v.Right)
		b.WriteString(")")
	case *Not:
		b.WriteString("not(")
		writeCanonical(b, v.X)
		b.WriteString(")")
	case *Negate:
		b.WriteString("-(")
		writeCanonical(b, v.X)
		b.WriteString(")")
	case *Call:
		b.WriteString(v.Func.String() + "(")
		for i, a := range v.Args {
			if i > 0 {
				b.WriteString(",")
			}
			writeCanonical(b, a)
		}
		b.WriteString(")")
	case *In:
		writeCanonical(b, v.X)
		b.WriteString(" in (")
		for i, a := range v.List {
			if i > 0 {
				b.WriteString(",")
			}
			writeCanonical(b, a)
		}
		b.WriteString(")")
	}
}

// QueryKey is the canonical text of everything a query's answer depends
// on: the same query written with options in another order, other spacing
// or other literal spellings gives the same key; any change to set,
// columns, filter, order, paging position or limits gives another.
func QueryKey(q *Query) string {
	var b strings.Builder
	b.WriteString(q.Set.Name)
	b.WriteString("|cols:")
	for i, c := range q.Columns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.Name)
	}
	b.WriteString("|where:")
	if q.Where != nil {
		writeCanonical(&b, q.Where)
	}
	b.WriteString("|order:")
	for i, o := range q.OrderBy {
		if i > 0 {
			b.WriteByte(',')
		}
		writeCanonical(&b, o.Expr)
		if o.Desc {
			b.WriteString(" desc")
		}
	}
	b.WriteString("|after:")
	for i, v := range q.After {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(format.Literal(v, q.OrderBy[i].Expr.Type()))
	}
	b.WriteString("|skip:" + strconv.FormatInt(q.Skip, 10) + "|limit:" + strconv.Itoa(q.Limit))
	return b.String()
}

// CountKey is the canonical text of what a count depends on: the set and
// the filter, nothing else.
func CountKey(q *Query) string {
	var b strings.Builder
	b.WriteString(q.Set.Name + "|count|where:")
	if q.Where != nil {
		writeCanonical(&b, q.Where)
	}
	return b.String()
}
