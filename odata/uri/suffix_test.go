package uri

import (
	"testing"
)

// TestTypeSuffixes: OData 2.0 type suffixes on numbers, which some
// clients still send, read as the numbers they spell; anything glued on
// further is still an error.
func TestTypeSuffixes(t *testing.T) {
	cases := []struct {
		text string
		kind LiteralKind
		want string // the literal's text; "" when refused
	}{
		{"42L", LitInt, "42"},
		{"-7l", LitInt, "-7"},
		{"0.5D", LitDecimal, "0.5"},
		{"0.5d", LitDecimal, "0.5"},
		{"1.5M", LitDecimal, "1.5"},
		{"2F", LitInt, "2"},
		{"1e3D", LitDouble, "1e3"},
		{"1.5L", 0, ""},
		{"42LL", 0, ""},
		{"42Lx", 0, ""},
		{"2024-01-31D", 0, ""},
		{"12:30:00M", 0, ""},
	}
	for _, c := range cases {
		n, err := ParseExpression("$filter", c.text)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: accepted as %#v", c.text, n)
			} else if err.Status != 400 {
				t.Errorf("%s: %d %s", c.text, err.Status, err.Message)
			}
			continue
		}
		if u, ok := n.(*Unary); ok {
			n = u.Operand
		}
		lit, ok := n.(*Literal)
		if err != nil || !ok || lit.Kind != c.kind || (lit.Text != c.want && "-"+lit.Text != c.want) {
			t.Errorf("%s: %#v %v; want %s of kind %v", c.text, n, err, c.want, c.kind)
		}
	}
	// in keys and in comparisons, as SAP's Cloud SDK writes them
	segs, err := ParsePath("accounts(id=1L)")
	if err != nil || len(segs) != 1 || segs[0].Key[0].Value.Text != "1" {
		t.Errorf("accounts(id=1L): %+v %v", segs, err)
	}
	if _, err := ParseExpression("$filter", "score lt 0.9D and id eq 42L"); err != nil {
		t.Errorf("score lt 0.9D and id eq 42L: %v", err)
	}
}
