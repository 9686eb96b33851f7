package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/uri"
)

// binder types one expression against one entity type.
type binder struct {
	option string
	typ    *metadata.EntityType
	nodes  int
	lim    odata.Limits
}

func (b *binder) typeErr(n uri.Node, format string, args ...any) *odata.Error {
	e := odata.BadRequest(odata.CodeTypeMismatch, "%s: %s (at position %d)", b.option, fmt.Sprintf(format, args...), n.Position()+1)
	e.Target = b.option
	return e
}

// bindBool binds an expression that must be Boolean, as $filter must.
func (b *binder) bindBool(n uri.Node) (Expr, *odata.Error) {
	e, err := b.bind(n)
	if err != nil {
		return nil, err
	}
	if e.Type() != metadata.Boolean {
		return nil, b.typeErr(n, "the expression must be true or false, but it is %s", typeName(e.Type()))
	}
	return e, nil
}

func typeName(t metadata.Type) string {
	if t == "" {
		return "null"
	}
	return string(t)
}

func (b *binder) bind(n uri.Node) (Expr, *odata.Error) {
	b.nodes++
	if b.nodes > b.lim.MaxFilterNodes {
		return nil, odata.LimitExceeded(b.option, "%s has more than %d terms; split the query", b.option, b.lim.MaxFilterNodes)
	}
	switch v := n.(type) {
	case *uri.Literal:
		return constFromLiteral(v), nil
	case *uri.Member:
		return b.bindMember(v)
	case *uri.Unary:
		x, err := b.bind(v.Operand)
		if err != nil {
			return nil, err
		}
		if v.Op == "not" {
			if x.Type() != metadata.Boolean && x.Type() != "" {
				return nil, b.typeErr(v, "'not' needs a true/false operand, not %s", typeName(x.Type()))
			}
			return &Not{X: x}, nil
		}
		if c, ok := x.(*Const); ok {
			return negateConst(c, v, b)
		}
		if !x.Type().IsNumeric() && x.Type() != metadata.Duration {
			return nil, b.typeErr(v, "'-' needs a number, not %s", typeName(x.Type()))
		}
		return &Negate{X: x}, nil
	case *uri.Binary:
		return b.bindBinary(v)
	case *uri.In:
		return b.bindIn(v)
	case *uri.Call:
		return b.bindCall(v)
	}
	return nil, odata.Internal(fmt.Errorf("unknown node %T", n))
}

func negateConst(c *Const, n uri.Node, b *binder) (Expr, *odata.Error) {
	switch x := c.Value.(type) {
	case int64:
		return &Const{Value: -x, T: c.T}, nil
	case float64:
		return &Const{Value: -x, T: c.T}, nil
	case string:
		if c.T == metadata.Decimal {
			if strings.HasPrefix(x, "-") {
				return &Const{Value: x[1:], T: c.T}, nil
			}
			return &Const{Value: "-" + x, T: c.T}, nil
		}
	case time.Duration:
		return &Const{Value: -x, T: c.T}, nil
	}
	return nil, b.typeErr(n, "'-' needs a number, not %s", typeName(c.T))
}

func (b *binder) bindMember(m *uri.Member) (Expr, *odata.Error) {
	p, ok := b.typ.Property(m.Path[0])
	if !ok {
		// the resource exists and the query is wrong: 400, not 404
		e := odata.BadRequest(odata.CodeUnknownProperty, "%s has no property %s", b.typ.Name, m.Path[0])
		e.Target = b.option
		return nil, e
	}
	if len(m.Path) > 1 {
		return nil, odata.BadRequest(odata.CodeBadRequest, "%s is a primitive property and has no member %s", m.Path[0], m.Path[1]).WithTarget(b.option)
	}
	return &PropRef{Prop: p}, nil
}

var binaryOps = map[string]Op{"eq": OpEq, "ne": OpNe, "gt": OpGt, "ge": OpGe, "lt": OpLt, "le": OpLe,
	"and": OpAnd, "or": OpOr, "add": OpAdd, "sub": OpSub, "mul": OpMul, "div": OpDiv, "divby": OpDivBy, "mod": OpMod}

func (b *binder) bindBinary(v *uri.Binary) (Expr, *odata.Error) {
	if v.Op == "has" {
		return nil, odata.NotImplemented("the 'has' operator (enumeration flags)").WithTarget(b.option)
	}
	op := binaryOps[v.Op]
	l, err := b.bind(v.Left)
	if err != nil {
		return nil, err
	}
	r, err := b.bind(v.Right)
	if err != nil {
		return nil, err
	}
	switch {
	case op == OpAnd || op == OpOr:
		for _, x := range []Expr{l, r} {
			if x.Type() != metadata.Boolean && x.Type() != "" {
				return nil, b.typeErr(v, "'%s' needs true/false operands, not %s", v.Op, typeName(x.Type()))
			}
		}
		return &Binary{Op: op, Left: l, Right: r, T: metadata.Boolean}, nil
	case op.IsComparison():
		return b.bindComparison(v, op, l, r)
	}
	return b.bindArithmetic(v, op, l, r)
}

// bindComparison checks that the operands can be compared and converts a
// literal to the type of the other side, so that sources compare like with
// like and indexes stay usable.
func (b *binder) bindComparison(v *uri.Binary, op Op, l, r Expr) (Expr, *odata.Error) {
	lt, rt := l.Type(), r.Type()
	if lt == "" && rt == "" {
		return &Const{Value: op == OpEq || op == OpGe || op == OpLe, T: metadata.Boolean}, nil
	}
	// a Date compared with a date-time literal: exact rewrite on the date side
	if e, ok := dateVersusDateTime(op, l, r); ok {
		return e, nil
	}
	if e, ok := dateVersusDateTime(flip(op), r, l); ok {
		return e, nil
	}
	l2, r2, err := unify(l, r)
	if err != nil {
		return nil, b.typeErr(v, "cannot compare %s with %s", typeName(lt), typeName(rt))
	}
	if op != OpEq && op != OpNe {
		if t := l2.Type(); t == metadata.Binary && t != "" {
			return nil, b.typeErr(v, "'%s' does not apply to binary values", v.Op)
		}
	}
	return &Binary{Op: op, Left: l2, Right: r2, T: metadata.Boolean}, nil
}

func flip(op Op) Op {
	switch op {
	case OpGt:
		return OpLt
	case OpGe:
		return OpLe
	case OpLt:
		return OpGt
	case OpLe:
		return OpGe
	}
	return op
}

// dateVersusDateTime rewrites "DateProp op 2024-01-31T10:00:00Z" into an
// exact comparison with a date, treating the date as midnight UTC.
// Salesforce shows Edm.Date as a date-time and filters it with date-time
// literals.
func dateVersusDateTime(op Op, l, r Expr) (Expr, bool) {
	c, ok := r.(*Const)
	if !ok || l.Type() != metadata.Date || c.T != metadata.DateTimeOffset || c.Value == nil {
		return nil, false
	}
	ts := c.Value.(time.Time).UTC()
	day := time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC)
	dc := &Const{Value: day, T: metadata.Date}
	if ts.Equal(day) {
		return &Binary{Op: op, Left: l, Right: dc, T: metadata.Boolean}, true
	}
	switch op {
	case OpGt, OpGe: // midnight of a later day
		return &Binary{Op: OpGt, Left: l, Right: dc, T: metadata.Boolean}, true
	case OpLt, OpLe:
		return &Binary{Op: OpLe, Left: l, Right: dc, T: metadata.Boolean}, true
	case OpEq: // a date is never equal to a time past midnight
		return &Binary{Op: OpAnd, Left: &Binary{Op: OpEq, Left: l, Right: dc, T: metadata.Boolean},
			Right: &Const{Value: false, T: metadata.Boolean}, T: metadata.Boolean}, true
	}
	return &Binary{Op: OpOr, Left: &Binary{Op: OpNe, Left: l, Right: dc, T: metadata.Boolean},
		Right: &Const{Value: true, T: metadata.Boolean}, T: metadata.Boolean}, true
}

// numericRank orders numeric types for promotion.
var numericRank = map[metadata.Type]int{metadata.Byte: 1, metadata.Int16: 2, metadata.Int32: 3,
	metadata.Int64: 4, metadata.Decimal: 5, metadata.Single: 6, metadata.Double: 7}

// unify returns both operands in one comparable type: constants convert to
// the other side's type; two non-constants must be compatible already.
func unify(l, r Expr) (Expr, Expr, error) {
	lt, rt := l.Type(), r.Type()
	if lt == rt || lt == "" || rt == "" {
		if lt == "" {
			return &Const{T: rt}, r, nil
		}
		if rt == "" {
			return l, &Const{T: lt}, nil
		}
		return l, r, nil
	}
	if c, ok := r.(*Const); ok {
		if c2, err := convertConst(c, lt); err == nil {
			return l, c2, nil
		}
	}
	if c, ok := l.(*Const); ok {
		if c2, err := convertConst(c, rt); err == nil {
			return c2, r, nil
		}
	}
	if lt.IsNumeric() && rt.IsNumeric() {
		return l, r, nil // sources compare mixed numerics natively
	}
	if (lt == metadata.GUID && rt == metadata.String) || (lt == metadata.String && rt == metadata.GUID) {
		return l, r, nil
	}
	return nil, nil, fmt.Errorf("incompatible")
}

func (b *binder) bindArithmetic(v *uri.Binary, op Op, l, r Expr) (Expr, *odata.Error) {
	lt, rt := l.Type(), r.Type()
	if lt == "" || rt == "" {
		t := lt
		if t == "" {
			t = rt
		}
		return &Const{T: t}, nil // arithmetic with null is null
	}
	if !lt.IsNumeric() || !rt.IsNumeric() {
		if lt == metadata.DateTimeOffset || lt == metadata.Date || lt == metadata.Duration {
			return nil, odata.NotImplemented("date and duration arithmetic").WithTarget(b.option)
		}
		return nil, b.typeErr(v, "'%s' needs numbers, not %s and %s", v.Op, typeName(lt), typeName(rt))
	}
	t := lt
	if numericRank[rt] > numericRank[lt] {
		t = rt
	}
	if op == OpDivBy && t.IsInteger() {
		t = metadata.Decimal
	}
	if op == OpDiv && t.IsInteger() {
		// integer division stays integral, as OData 4.0 defines div
		op = OpDiv
	}
	return &Binary{Op: op, Left: l, Right: r, T: t}, nil
}

func (b *binder) bindIn(v *uri.In) (Expr, *odata.Error) {
	if len(v.List) > b.lim.MaxInItems {
		return nil, odata.LimitExceeded(b.option, "the list after 'in' has more than %d values", b.lim.MaxInItems)
	}
	x, err := b.bind(v.Left)
	if err != nil {
		return nil, err
	}
	in := &In{X: x}
	for _, item := range v.List {
		e, err := b.bind(item)
		if err != nil {
			return nil, err
		}
		_, e2, uerr := unify(x, e)
		if uerr != nil {
			return nil, b.typeErr(item, "cannot compare %s with %s", typeName(x.Type()), typeName(e.Type()))
		}
		in.List = append(in.List, e2)
	}
	if len(in.List) == 0 {
		return &Const{Value: false, T: metadata.Boolean}, nil
	}
	return in, nil
}

// signature describes a canonical function the gateway executes: the types
// each argument accepts and the result type (nil: same as the first argument).
type signature struct {
	fn     Func
	args   [][]metadata.Type
	result metadata.Type
}

var (
	str      = []metadata.Type{metadata.String}
	integer  = []metadata.Type{metadata.Byte, metadata.Int16, metadata.Int32, metadata.Int64}
	dateish  = []metadata.Type{metadata.Date, metadata.DateTimeOffset}
	timeish  = []metadata.Type{metadata.DateTimeOffset, metadata.TimeOfDay}
	rounding = []metadata.Type{metadata.Decimal, metadata.Double, metadata.Single, metadata.Byte, metadata.Int16, metadata.Int32, metadata.Int64}
)

var signatures = map[string]signature{
	"contains":          {FnContains, [][]metadata.Type{str, str}, metadata.Boolean},
	"startswith":        {FnStartsWith, [][]metadata.Type{str, str}, metadata.Boolean},
	"endswith":          {FnEndsWith, [][]metadata.Type{str, str}, metadata.Boolean},
	"length":            {FnLength, [][]metadata.Type{str}, metadata.Int32},
	"indexof":           {FnIndexOf, [][]metadata.Type{str, str}, metadata.Int32},
	"substring":         {FnSubstring, [][]metadata.Type{str, integer, integer}, metadata.String},
	"tolower":           {FnToLower, [][]metadata.Type{str}, metadata.String},
	"toupper":           {FnToUpper, [][]metadata.Type{str}, metadata.String},
	"trim":              {FnTrim, [][]metadata.Type{str}, metadata.String},
	"concat":            {FnConcat, [][]metadata.Type{str, str}, metadata.String},
	"year":              {FnYear, [][]metadata.Type{dateish}, metadata.Int32},
	"month":             {FnMonth, [][]metadata.Type{dateish}, metadata.Int32},
	"day":               {FnDay, [][]metadata.Type{dateish}, metadata.Int32},
	"hour":              {FnHour, [][]metadata.Type{timeish}, metadata.Int32},
	"minute":            {FnMinute, [][]metadata.Type{timeish}, metadata.Int32},
	"second":            {FnSecond, [][]metadata.Type{timeish}, metadata.Int32},
	"fractionalseconds": {FnFractionalSeconds, [][]metadata.Type{timeish}, metadata.Decimal},
	"date":              {FnDate, [][]metadata.Type{{metadata.DateTimeOffset}}, metadata.Date},
	"time":              {FnTime, [][]metadata.Type{{metadata.DateTimeOffset}}, metadata.TimeOfDay},
	"now":               {FnNow, nil, metadata.DateTimeOffset},
	"round":             {FnRound, [][]metadata.Type{rounding}, ""},
	"floor":             {FnFloor, [][]metadata.Type{rounding}, ""},
	"ceiling":           {FnCeiling, [][]metadata.Type{rounding}, ""},
}

func (b *binder) bindCall(v *uri.Call) (Expr, *odata.Error) {
	sig, ok := signatures[v.Name]
	if !ok {
		if _, canonical := canonicalButNotRun[v.Name]; canonical {
			return nil, odata.NotImplemented("the function " + v.Name + "()").WithTarget(b.option)
		}
		if _, isProp := b.typ.Property(v.Name); isProp {
			return nil, odata.NotImplemented("a key or call on property " + v.Name).WithTarget(b.option)
		}
		return nil, odata.BadRequest(odata.CodeBadRequest, "%s: %s is not a function of OData (at position %d)", b.option, v.Name, v.Pos+1).WithTarget(b.option)
	}
	call := &Call{Func: sig.fn, T: sig.result}
	for i, a := range v.Args {
		e, err := b.bind(a)
		if err != nil {
			return nil, err
		}
		allowed := sig.args[i]
		if c, isConst := e.(*Const); isConst && c.Value == nil {
			e = &Const{T: allowed[0]}
		} else if !typeIn(e.Type(), allowed) {
			converted := false
			if c, isConst := e.(*Const); isConst {
				for _, t := range allowed {
					if c2, err := convertConst(c, t); err == nil {
						e, converted = c2, true
						break
					}
				}
			}
			if !converted {
				return nil, b.typeErr(a, "argument %d of %s() must be %s, not %s", i+1, v.Name, typeList(allowed), typeName(e.Type()))
			}
		}
		call.Args = append(call.Args, e)
	}
	if call.T == "" {
		call.T = call.Args[0].Type() // round, floor, ceiling keep their argument's type
	}
	return call, nil
}

var canonicalButNotRun = map[string]bool{"matchespattern": true, "totalseconds": true,
	"totaloffsetminutes": true, "mindatetime": true, "maxdatetime": true, "geo.distance": true,
	"geo.length": true, "geo.intersects": true, "hassubset": true, "hassubsequence": true}

func typeIn(t metadata.Type, ts []metadata.Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func typeList(ts []metadata.Type) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	if len(s) > 3 {
		return "a number"
	}
	return strings.Join(s, " or ")
}

// Filter binds a filter written in the configuration (a summary's where,
// in $filter's syntax) to a set's properties, as $filter is bound.
func Filter(es *metadata.EntitySet, option, text string) (Expr, *odata.Error) {
	n, err := uri.ParseExpression(option, text)
	if err != nil {
		return nil, err
	}
	b := &binder{option: option, typ: es.Type, lim: odata.DefaultLimits()}
	return b.bindBool(n)
}
