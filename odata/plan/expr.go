package plan

import (
	"github.com/odatagw/odatagw/metadata"
)

// Expr is a typed expression. Type is "" only for the null literal.
type Expr interface {
	Type() metadata.Type
}

// Op is an operator of the expression language.
type Op int

const (
	OpEq Op = iota
	OpNe
	OpGt
	OpGe
	OpLt
	OpLe
	OpAnd
	OpOr
	OpAdd
	OpSub
	OpMul
	OpDiv   // integer division on integers, as OData 4.0 defines div
	OpDivBy // always exact division (OData 4.01 divby)
	OpMod
)

var opNames = [...]string{"eq", "ne", "gt", "ge", "lt", "le", "and", "or", "add", "sub", "mul", "div", "divby", "mod"}

func (o Op) String() string { return opNames[o] }

// IsComparison reports eq ne gt ge lt le.
func (o Op) IsComparison() bool { return o <= OpLe }

// Func is a function the gateway can execute.
type Func int

const (
	FnContains Func = iota
	FnStartsWith
	FnEndsWith
	FnLength
	FnIndexOf
	FnSubstring
	FnToLower
	FnToUpper
	FnTrim
	FnConcat
	FnYear
	FnMonth
	FnDay
	FnHour
	FnMinute
	FnSecond
	FnFractionalSeconds
	FnDate
	FnTime
	FnNow
	FnRound
	FnFloor
	FnCeiling
	// FnSearchMatch is case-insensitive substring matching, what $search means here.
	FnSearchMatch
)

var funcNames = [...]string{"contains", "startswith", "endswith", "length", "indexof", "substring",
	"tolower", "toupper", "trim", "concat", "year", "month", "day", "hour", "minute", "second",
	"fractionalseconds", "date", "time", "now", "round", "floor", "ceiling", "$search"}

func (f Func) String() string { return funcNames[f] }

// PropRef reads a property of the current entity.
type PropRef struct{ Prop *metadata.Property }

// Const is a literal value, in the Go representation of its Edm type
// (see package sources); Value is nil for null.
type Const struct {
	Value any
	T     metadata.Type
}

// Binary applies a comparison, logical or arithmetic operator.
type Binary struct {
	Op          Op
	Left, Right Expr
	T           metadata.Type
}

// Not negates a Boolean expression.
type Not struct{ X Expr }

// Negate is arithmetic minus.
type Negate struct{ X Expr }

// Call applies a function.
type Call struct {
	Func Func
	Args []Expr
	T    metadata.Type
}

// In tests membership of X in List.
type In struct {
	X    Expr
	List []Expr
}

func (e *PropRef) Type() metadata.Type { return e.Prop.Type }
func (e *Const) Type() metadata.Type   { return e.T }
func (e *Binary) Type() metadata.Type  { return e.T }
func (e *Not) Type() metadata.Type     { return metadata.Boolean }
func (e *Negate) Type() metadata.Type  { return e.X.Type() }
func (e *Call) Type() metadata.Type    { return e.T }
func (e *In) Type() metadata.Type      { return metadata.Boolean }

// MayBeNull reports whether e can evaluate to null, which decides how a
// source keeps OData's two-valued comparisons in three-valued SQL.
func MayBeNull(e Expr) bool {
	switch v := e.(type) {
	case *PropRef:
		return v.Prop.Nullable
	case *Const:
		return v.Value == nil
	case *Binary:
		if v.Op.IsComparison() {
			return false
		}
		return MayBeNull(v.Left) || MayBeNull(v.Right) || v.Op == OpDiv || v.Op == OpDivBy || v.Op == OpMod
	case *Not:
		return MayBeNull(v.X)
	case *Negate:
		return MayBeNull(v.X)
	case *Call:
		for _, a := range v.Args {
			if MayBeNull(a) {
				return true
			}
		}
		return v.Func == FnIndexOf && false
	case *In:
		return false
	}
	return true
}
