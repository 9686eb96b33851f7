package sqlgen

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
)

// Dialect is what differs between databases.
type Dialect interface {
	// QuoteIdent quotes one identifier.
	QuoteIdent(name string) string
	// Table names a table, schema-qualified where the database has schemas.
	Table(schema, name string) string
	// Column is the expression that reads a property, e.g. "col" or "col"::text.
	Column(p *metadata.Property) string
	// Placeholder is the text of parameter n (1-based), typed as t where the
	// database needs to know.
	Placeholder(n int, t metadata.Type) string
	// Param converts a value to what the driver takes for type t.
	Param(v any, t metadata.Type) any
	// Bool is a Boolean literal.
	Bool(b bool) string
	// NullSafeEq is "a IS NOT DISTINCT FROM b" (negate: IS DISTINCT FROM).
	NullSafeEq(a, b string, negate bool) string
	// NullsOrder is the clause that puts nulls first in ascending order and
	// last in descending order, as OData sorts; "" where that is the default.
	NullsOrder(desc bool) string
	// Call renders a function whose arguments are already rendered, or
	// returns ErrStandard to use the standard SQL spelling (StandardCall).
	Call(f plan.Func, args []string, types []metadata.Type) (string, error)
	// DivBy is exact division of a by b.
	DivBy(a, b string) string
	// Mod is the remainder of a by b.
	Mod(a, b string, t metadata.Type) string
	// Pattern is the pattern that matches text which contains s, starts
	// with it or ends with it (f is FnContains, FnStartsWith or
	// FnEndsWith), every character of s standing for itself; Match is "a
	// matches the pattern p", case-sensitive. An index on a can serve it
	// (a trigram index in PostgreSQL, a prefix on SQLite's own indexes).
	Pattern(f plan.Func, s string) string
	Match(a, p string) string
	// Bucket is the first day of the year, quarter, month or day (unit)
	// of the date or date-time x, as a date, in UTC; BucketLabel a bucket
	// as text (2026, 2026 Q1, 2026-03, 2026-03-05).
	Bucket(unit, x string) string
	BucketLabel(unit, x string) string
	// Text is x as text; Concat the texts joined by sep.
	Text(x string) string
	Concat(texts []string, sep string) string
}

// ArrayParams is implemented by dialects that take an in-list as one
// array parameter (PostgreSQL's = ANY($1)): one statement text whatever
// the list's length, so the database plans it once.
type ArrayParams interface {
	ArrayPlaceholder(n int, t metadata.Type) string
}

// PositionalParams is implemented by dialects whose placeholders are bare
// "?", bound in the order they appear (MySQL). Their Placeholder returns
// Marker(n): the builder writes parameters by number, so that text may
// repeat (a sort key in the select list and in ORDER BY and the keyset, an
// operand in two tests), and Bind turns the markers into "?" and the
// arguments into the order the text uses them.
type PositionalParams interface {
	Positional()
}

// Marker is what a positional dialect's Placeholder returns for parameter
// n; Bind replaces it. NUL never occurs in the SQL text otherwise.
func Marker(n int) string { return "\x00" + strconv.Itoa(n) + "\x00" }

// Bind turns a statement written with Markers into "?" placeholders and
// the arguments they take, in the order the text uses them.
func Bind(text string, args []any) (string, []any) {
	if !strings.Contains(text, "\x00") {
		return text, args
	}
	var sb strings.Builder
	out := make([]any, 0, len(args))
	for {
		i := strings.IndexByte(text, 0)
		if i < 0 {
			sb.WriteString(text)
			return sb.String(), out
		}
		j := strings.IndexByte(text[i+1:], 0) + i + 1
		n, _ := strconv.Atoi(text[i+1 : j])
		sb.WriteString(text[:i])
		sb.WriteByte('?')
		out = append(out, args[n-1])
		text = text[j+1:]
	}
}

// done is the statement and its arguments as the dialect binds them.
func (b *Builder) done(text string) (string, []any) {
	if _, ok := b.d.(PositionalParams); ok {
		return Bind(text, b.args)
	}
	return text, b.args
}

// CaseFolding is implemented by dialects whose text comparisons follow a
// collation that may ignore case, accents or trailing spaces (MySQL's and
// MariaDB's defaults), where OData's eq, ne, gt, lt, in and text matches
// compare exactly. Exact is text x as bytes, compared byte for byte (in
// UTF-8, byte order is code point order). An equality keeps the
// collation's comparison beside the exact one, so that an index on the
// column still finds the candidates.
type CaseFolding interface {
	Exact(x string) string
}

// Limits is implemented by dialects that spell "no limit" their own way
// (for an offset without a limit).
type Limits interface {
	NoLimit() string
}

// IntDivision is implemented by dialects whose "/" is not integer
// division for integers (MySQL's DIV is).
type IntDivision interface {
	IntDiv(a, b string) string
}

// Builder accumulates SQL text and its parameters.
type Builder struct {
	d       Dialect
	sb      strings.Builder
	args    []any
	seen    map[argKey]int // argument identity -> its number, so equal values share one placeholder
	negated bool           // under an odd number of NOTs
	// valueDepth counts enclosing places that use a Boolean as a value (an
	// operand of eq, say); there, too, a comparison must not yield null.
	valueDepth int
	// sum is the summary a summary set's read computes (summary.go);
	// having, that what is rendered is a condition on its groups.
	sum    *metadata.Summary
	having bool
}

// column renders what reads a property: its column, or on a summary set
// what the property computes.
func (b *Builder) column(p *metadata.Property) string {
	if b.sum != nil {
		if s, ok := b.summaryColumn(p); ok {
			return s
		}
	}
	return b.d.Column(p)
}

// twoValued reports whether comparisons here must be true or false, never null.
func (b *Builder) twoValued() bool { return b.negated || b.valueDepth > 0 }

// argKey is a parameter's identity: its type and a comparable form of its
// value.
type argKey struct {
	t metadata.Type
	v any
}

// keyOf is v's identity, or false where it has none that compares.
func keyOf(v any, t metadata.Type) (argKey, bool) {
	switch x := v.(type) {
	case []byte:
		return argKey{t, string(x)}, true
	case time.Time:
		return argKey{t, x.UnixNano()}, true
	case nil:
		return argKey{}, false
	}
	if !reflect.TypeOf(v).Comparable() {
		return argKey{}, false
	}
	return argKey{t, v}, true
}

// Arg adds a parameter of type t and returns its placeholder.
func (b *Builder) Arg(v any, t metadata.Type) string {
	key, ok := keyOf(v, t)
	if n, seen := b.seen[key]; ok && seen {
		return b.d.Placeholder(n, t)
	}
	b.args = append(b.args, b.d.Param(v, t))
	if ok {
		if b.seen == nil {
			b.seen = map[argKey]int{}
		}
		b.seen[key] = len(b.args)
	}
	return b.d.Placeholder(len(b.args), t)
}

// LikeContains returns a LIKE pattern that matches s anywhere, with the
// pattern characters of s escaped by backslash.
func LikeContains(s string) string { return LikePattern(plan.FnContains, s) }

// likeEscaper escapes LIKE's pattern characters, and its escape, by
// backslash.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// LikePattern is a LIKE pattern (backslash escapes) that matches text
// containing s, starting with it (FnStartsWith) or ending with it
// (FnEndsWith).
func LikePattern(f plan.Func, s string) string {
	return WildcardPattern(f, likeEscaper.Replace(s), "%")
}

// WildcardPattern puts a pattern language's wildcard for any run of
// characters (anyRun) where f needs it around escaped, a value whose own
// pattern characters are escaped already.
func WildcardPattern(f plan.Func, escaped, anyRun string) string {
	switch f {
	case plan.FnStartsWith:
		return escaped + anyRun
	case plan.FnEndsWith:
		return anyRun + escaped
	}
	return anyRun + escaped + anyRun
}

// isMatch reports a text match whose pattern is a constant: it becomes one
// LIKE (or GLOB) that an index can serve, rather than a function of the
// column that none can.
func isMatch(c *plan.Call) (string, bool) {
	if c.Func != plan.FnContains && c.Func != plan.FnStartsWith && c.Func != plan.FnEndsWith {
		return "", false
	}
	k, ok := c.Args[1].(*plan.Const)
	if !ok {
		return "", false
	}
	s, ok := k.Value.(string)
	return s, ok
}

// Select renders the page query for q: the columns, then the sort keys.
func Select(d Dialect, q *plan.Query) (string, []any, error) {
	b := &Builder{d: d, sum: q.Set.Summary}
	// room for a typical statement at once, rather than growing through
	// every power of two on each request
	b.sb.Grow(64 + 24*len(q.Columns))
	b.sb.WriteString("SELECT ")
	for i, p := range q.Columns {
		if i > 0 {
			b.sb.WriteString(", ")
		}
		b.sb.WriteString(b.column(p))
	}
	// the sort keys follow the columns for the next skiptoken, but for
	// those that are selected columns already (the key, at least)
	orderSQL := make([]string, len(q.OrderBy))
	for i, o := range q.OrderBy {
		s, err := b.expr(o.Expr)
		if err != nil {
			return "", nil, err
		}
		orderSQL[i] = s
	}
	if b.sum != nil {
		b.exactOrder(q, orderSQL)
	}
	for i, c := range q.SortColumns() {
		if c < 0 {
			b.sb.WriteString(", " + orderSQL[i])
		}
	}
	if b.sum != nil {
		if err := b.groupedFrom(q, orderSQL); err != nil {
			return "", nil, err
		}
	} else {
		b.sb.WriteString(" FROM " + d.Table(q.Set.Schema, q.Set.Table))
		where, err := b.where(q, orderSQL)
		if err != nil {
			return "", nil, err
		}
		if where != "" {
			b.sb.WriteString(" WHERE " + where)
		}
	}
	if len(q.OrderBy) > 0 {
		b.sb.WriteString(" ORDER BY ")
		for i, o := range q.OrderBy {
			if i > 0 {
				b.sb.WriteString(", ")
			}
			b.sb.WriteString(orderSQL[i])
			if o.Desc {
				b.sb.WriteString(" DESC")
			}
			if plan.MayBeNull(o.Expr) {
				b.sb.WriteString(d.NullsOrder(o.Desc))
			}
		}
	}
	if q.Limit > 0 {
		b.sb.WriteString(" LIMIT " + strconv.Itoa(q.Limit))
	}
	if q.Skip > 0 {
		if q.Limit <= 0 {
			if l, ok := d.(Limits); ok {
				b.sb.WriteString(" LIMIT " + l.NoLimit())
			} else {
				b.sb.WriteString(" LIMIT -1")
			}
		}
		b.sb.WriteString(" OFFSET " + strconv.FormatInt(q.Skip, 10))
	}
	text, args := b.done(b.sb.String())
	return text, args, nil
}

// Count renders SELECT count(*) over the rows q.Where selects.
func Count(d Dialect, q *plan.Query) (string, []any, error) { return selectWhere(d, q, "count(*)") }

// Matching renders SELECT 1 over the rows q.Where selects, for the
// planner to estimate how many there are.
func Matching(d Dialect, q *plan.Query) (string, []any, error) { return selectWhere(d, q, "1") }

func selectWhere(d Dialect, q *plan.Query, what string) (string, []any, error) {
	if q.Set.Summary != nil {
		return countGroups(d, q, what)
	}
	b := &Builder{d: d}
	b.sb.WriteString("SELECT " + what + " FROM " + d.Table(q.Set.Schema, q.Set.Table))
	if q.Where != nil {
		w, err := b.expr(q.Where)
		if err != nil {
			return "", nil, err
		}
		b.sb.WriteString(" WHERE " + w)
	}
	text, args := b.done(b.sb.String())
	return text, args, nil
}

func (b *Builder) where(q *plan.Query, orderSQL []string) (string, error) {
	var parts []string
	if q.Where != nil {
		w, err := b.expr(q.Where)
		if err != nil {
			return "", err
		}
		parts = append(parts, w)
	}
	if q.After != nil {
		k, err := b.keyset(q, orderSQL)
		if err != nil {
			return "", err
		}
		parts = append(parts, k)
	}
	return strings.Join(parts, " AND "), nil
}

// keyset renders "the row comes after q.After in q.OrderBy", with nulls
// first in ascending order and last in descending order.
func (b *Builder) keyset(q *plan.Query, orderSQL []string) (string, error) {
	n := len(q.OrderBy)
	if len(q.After) != n {
		return "", fmt.Errorf("keyset has %d values for %d sort keys", len(q.After), n)
	}
	var alts []string
	for i := 0; i < n; i++ {
		var conj []string
		for j := 0; j < i; j++ {
			if q.After[j] == nil {
				conj = append(conj, orderSQL[j]+" IS NULL")
			} else {
				conj = append(conj, orderSQL[j]+" = "+b.Arg(q.After[j], q.OrderBy[j].Expr.Type()))
			}
		}
		o, v, col := q.OrderBy[i], q.After[i], orderSQL[i]
		nullable := plan.MayBeNull(o.Expr)
		var after string
		switch {
		case v == nil && !o.Desc:
			after = col + " IS NOT NULL"
		case v == nil && o.Desc:
			continue // nothing sorts after null in descending order
		case !o.Desc:
			after = col + " > " + b.Arg(v, o.Expr.Type())
		case nullable:
			after = "(" + col + " < " + b.Arg(v, o.Expr.Type()) + " OR " + col + " IS NULL)"
		default:
			after = col + " < " + b.Arg(v, o.Expr.Type())
		}
		conj = append(conj, after)
		alts = append(alts, strings.Join(conj, " AND "))
	}
	if len(alts) == 0 {
		return b.d.Bool(false), nil
	}
	s := "(" + strings.Join(alts, " OR ") + ")"
	// a leading bound the database can use with an index on the first key
	if first := q.OrderBy[0]; q.After[0] != nil && !plan.MayBeNull(first.Expr) && n > 1 {
		op := " >= "
		if first.Desc {
			op = " <= "
		}
		s = orderSQL[0] + op + b.Arg(q.After[0], first.Expr.Type()) + " AND " + s
	}
	return s, nil
}

func (b *Builder) expr(e plan.Expr) (string, error) {
	switch v := e.(type) {
	case *plan.PropRef:
		return b.column(v.Prop), nil
	case *plan.Const:
		if v.Value == nil {
			return "NULL", nil
		}
		if bv, ok := v.Value.(bool); ok {
			return b.d.Bool(bv), nil
		}
		return b.Arg(v.Value, v.T), nil
	case *plan.Not:
		b.negated = !b.negated
		x, err := b.expr(v.X)
		b.negated = !b.negated
		if err != nil {
			return "", err
		}
		return "NOT (" + x + ")", nil
	case *plan.Negate:
		x, err := b.expr(v.X)
		return "(-" + x + ")", err
	case *plan.Binary:
		return b.binary(v)
	case *plan.In:
		return b.in(v)
	case *plan.Call:
		if s, ok := isMatch(v); ok {
			return b.match(v, s)
		}
		args := make([]string, len(v.Args))
		types := make([]metadata.Type, len(v.Args))
		for i, a := range v.Args {
			if c, ok := a.(*plan.Const); ok && v.Func == plan.FnSearchMatch {
				args[i] = b.Arg(LikeContains(c.Value.(string)), metadata.String)
			} else {
				s, err := b.expr(a)
				if err != nil {
					return "", err
				}
				args[i] = s
			}
			types[i] = a.Type()
		}
		s, err := b.d.Call(v.Func, args, types)
		if errors.Is(err, ErrStandard) {
			s, err = StandardCall(v.Func, args, types)
		}
		if err != nil {
			return "", err
		}
		// a null column matches nothing: in a plain filter, null is as
		// good as false (an index stays usable); under NOT it is not
		if v.Func == plan.FnSearchMatch && plan.MayBeNull(v.Args[0]) && b.twoValued() {
			s = "COALESCE(" + s + ", " + b.d.Bool(false) + ")"
		}
		return s, nil
	}
	return "", fmt.Errorf("sqlgen: unknown expression %T", e)
}

// match renders a text match with a constant pattern.
func (b *Builder) match(v *plan.Call, s string) (string, error) {
	a, err := b.expr(v.Args[0])
	if err != nil {
		return "", err
	}
	p := b.Arg(b.d.Pattern(v.Func, s), metadata.String)
	cf, folding := b.d.(CaseFolding)
	if !folding {
		return b.d.Match(a, p), nil
	}
	exact := "(" + cf.Exact(a) + " LIKE " + p + ")"
	if v.Func != plan.FnStartsWith {
		return exact, nil // no index serves a leading wildcard anyway
	}
	return "(" + b.d.Match(a, p) + " AND " + exact + ")", nil
}

var sqlOps = map[plan.Op]string{plan.OpEq: "=", plan.OpNe: "<>", plan.OpGt: ">", plan.OpGe: ">=",
	plan.OpLt: "<", plan.OpLe: "<=", plan.OpAnd: "AND", plan.OpOr: "OR", plan.OpAdd: "+",
	plan.OpSub: "-", plan.OpMul: "*", plan.OpDiv: "/"}

func isNullConst(e plan.Expr) bool {
	c, ok := e.(*plan.Const)
	return ok && c.Value == nil
}

func (b *Builder) binary(v *plan.Binary) (string, error) {
	// comparisons with the null literal
	if v.Op.IsComparison() && (isNullConst(v.Left) || isNullConst(v.Right)) {
		other := v.Left
		if isNullConst(v.Left) {
			other = v.Right
		}
		x, err := b.expr(other)
		if err != nil {
			return "", err
		}
		switch v.Op {
		case plan.OpEq:
			return "(" + x + " IS NULL)", nil
		case plan.OpNe:
			return "(" + x + " IS NOT NULL)", nil
		case plan.OpGe, plan.OpLe: // null ge null is true; x ge null is false otherwise
			return "(" + x + " IS NULL)", nil
		}
		return b.d.Bool(false), nil
	}
	// "X eq true" is X, "X eq false" is not X, where null may count as
	// false (a plain filter): Salesforce writes contains(f,'x') eq true,
	// and the bare form lets an index serve it
	if x, want, ok := boolTest(v); ok && !b.twoValued() {
		if want {
			return b.expr(x)
		}
		return b.expr(&plan.Not{X: x})
	}
	valueCtx := v.Op.IsComparison() && v.Left.Type() == metadata.Boolean
	if valueCtx {
		b.valueDepth++
	}
	l, r, err := b.operands(v)
	if err != nil {
		return "", err
	}
	if valueCtx {
		b.valueDepth--
	}
	lNull, rNull := plan.MayBeNull(v.Left), plan.MayBeNull(v.Right)
	switch v.Op {
	case plan.OpAnd, plan.OpOr:
		return "(" + l + " " + sqlOps[v.Op] + " " + r + ")", nil
	case plan.OpEq, plan.OpNe, plan.OpGt, plan.OpGe, plan.OpLt, plan.OpLe:
		cf, exact := b.d.(CaseFolding)
		exact = exact && v.Left.Type() == metadata.String && v.Right.Type() == metadata.String
		if (v.Op == plan.OpEq || v.Op == plan.OpNe) && lNull && rNull {
			if exact {
				l, r = cf.Exact(l), cf.Exact(r)
			}
			return b.d.NullSafeEq(l, r, v.Op == plan.OpNe), nil
		}
		cmp := "(" + l + " " + sqlOps[v.Op] + " " + r + ")"
		if exact {
			cmp = exactText(cf, v.Op, l, r)
		}
		switch {
		case !lNull && !rNull:
			return cmp, nil
		case v.Op == plan.OpNe: // null ne value is true
			return "COALESCE(" + cmp + ", " + b.d.Bool(true) + ")", nil
		case b.twoValued():
			return "COALESCE(" + cmp + ", " + b.d.Bool(false) + ")", nil
		}
		return cmp, nil
	case plan.OpDivBy:
		return b.d.DivBy(l, r), nil
	case plan.OpDiv:
		if !v.T.IsInteger() {
			return b.d.DivBy(l, r), nil
		}
		if d, ok := b.d.(IntDivision); ok {
			return d.IntDiv(l, r), nil
		}
		return "(" + l + " / " + r + ")", nil
	case plan.OpMod:
		return b.d.Mod(l, r, v.T), nil
	}
	return "(" + l + " " + sqlOps[v.Op] + " " + r + ")", nil
}

// operands renders both sides of a binary operation.
func (b *Builder) operands(v *plan.Binary) (string, string, error) {
	l, err := b.expr(v.Left)
	if err != nil {
		return "", "", err
	}
	r, err := b.expr(v.Right)
	return l, r, err
}

// exactText renders a comparison of texts for a CaseFolding dialect: byte
// for byte, and for eq the collation's comparison first, which an index on
// the column can serve.
func exactText(cf CaseFolding, op plan.Op, l, r string) string {
	if op != plan.OpEq {
		return "(" + cf.Exact(l) + " " + sqlOps[op] + " " + cf.Exact(r) + ")"
	}
	return "(" + l + " = " + r + " AND " + cf.Exact(l) + " = " + cf.Exact(r) + ")"
}

// boolTest reads "X eq true" and "X eq false" (either way round).
func boolTest(v *plan.Binary) (x plan.Expr, want, ok bool) {
	if v.Op != plan.OpEq {
		return nil, false, false
	}
	for _, side := range [][2]plan.Expr{{v.Left, v.Right}, {v.Right, v.Left}} {
		if c, isConst := side[1].(*plan.Const); isConst {
			if bv, isBool := c.Value.(bool); isBool && side[0].Type() == metadata.Boolean {
				return side[0], bv, true
			}
		}
	}
	return nil, false, false
}

func (b *Builder) in(v *plan.In) (string, error) {
	x, err := b.expr(v.X)
	if err != nil {
		return "", err
	}
	if s, ok := b.inArray(x, v); ok {
		return s, nil
	}
	items, hasNull, err := b.list(v.List)
	if err != nil {
		return "", err
	}
	var s string
	switch {
	case len(items) == 0:
		s = "(" + x + " IS NULL)"
	default:
		s = x + " IN (" + strings.Join(items, ", ") + ")"
		if cf, ok := b.d.(CaseFolding); ok && v.X.Type() == metadata.String {
			// as eq: the collation's test for an index, then the exact one
			exact := make([]string, len(items))
			for i, it := range items {
				exact[i] = cf.Exact(it)
			}
			s += " AND " + cf.Exact(x) + " IN (" + strings.Join(exact, ", ") + ")"
		}
		if hasNull { // AND binds before OR
			s += " OR " + x + " IS NULL"
		}
		s = "(" + s + ")"
	}
	if b.twoValued() && plan.MayBeNull(v.X) && !hasNull {
		s = "COALESCE(" + s + ", " + b.d.Bool(false) + ")"
	}
	return s, nil
}

// list renders the items of an in-list but its nulls.
func (b *Builder) list(list []plan.Expr) (items []string, hasNull bool, err error) {
	for _, e := range list {
		if isNullConst(e) {
			hasNull = true
			continue
		}
		s, err := b.expr(e)
		if err != nil {
			return nil, false, err
		}
		items = append(items, s)
	}
	return items, hasNull, nil
}

// inArray renders x = ANY(array parameter) where the dialect takes arrays
// and the list is constants without null.
func (b *Builder) inArray(x string, v *plan.In) (string, bool) {
	ap, ok := b.d.(ArrayParams)
	if !ok || len(v.List) < 2 {
		return "", false
	}
	t := v.X.Type()
	values := make([]any, len(v.List))
	for i, e := range v.List {
		c, isConst := e.(*plan.Const)
		if !isConst || c.Value == nil {
			return "", false
		}
		values[i] = b.d.Param(c.Value, t)
	}
	b.args = append(b.args, values)
	s := "(" + x + " = ANY(" + ap.ArrayPlaceholder(len(b.args), t) + "))"
	if b.twoValued() && plan.MayBeNull(v.X) {
		s = "COALESCE(" + s + ", " + b.d.Bool(false) + ")"
	}
	return s, true
}

// ErrStandard tells the builder that a dialect spells a function the
// standard way.
var ErrStandard = errors.New("standard SQL function")

// StandardCall renders the functions that PostgreSQL and SQLite spell the
// same way. OData positions are 0-based, SQL's 1-based.
func StandardCall(f plan.Func, a []string, types []metadata.Type) (string, error) {
	switch f {
	case plan.FnLength:
		return "length(" + a[0] + ")", nil
	case plan.FnSubstring:
		if len(a) == 3 {
			return "substr(" + a[0] + ", (" + a[1] + ") + 1, " + a[2] + ")", nil
		}
		return "substr(" + a[0] + ", (" + a[1] + ") + 1)", nil
	case plan.FnToLower:
		return "lower(" + a[0] + ")", nil
	case plan.FnToUpper:
		return "upper(" + a[0] + ")", nil
	case plan.FnConcat:
		return "(" + a[0] + " || " + a[1] + ")", nil
	case plan.FnRound, plan.FnFloor, plan.FnCeiling:
		if types[0].IsInteger() {
			return a[0], nil // an integer is already whole
		}
		name := map[plan.Func]string{plan.FnRound: "round", plan.FnFloor: "floor", plan.FnCeiling: "ceil"}[f]
		return name + "(" + a[0] + ")", nil
	}
	return "", fmt.Errorf("function %s has no SQL form", f)
}
