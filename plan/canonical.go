package plan

import (
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
		b.WriteString(FormatLiteral(v.Value, v.T))
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
