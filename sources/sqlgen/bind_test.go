package sqlgen

import (
	"reflect"
	"testing"
)

// TestBind: markers become "?" and the arguments follow the text, a
// repeated marker passing its argument again.
func TestBind(t *testing.T) {
	for _, c := range []struct {
		text     string
		args     []any
		want     string
		wantArgs []any
	}{
		{"SELECT 1", nil, "SELECT 1", nil},
		{"a = " + Marker(1) + " AND b = " + Marker(2), []any{"x", 2}, "a = ? AND b = ?", []any{"x", 2}},
		{"f(" + Marker(1) + ") ORDER BY f(" + Marker(1) + "), " + Marker(2), []any{7, "y"}, "f(?) ORDER BY f(?), ?", []any{7, 7, "y"}},
		{"c = " + Marker(12), make12(), "c = ?", []any{12}},
	} {
		got, args := Bind(c.text, c.args)
		if got != c.want || (len(args) > 0 || len(c.wantArgs) > 0) && !reflect.DeepEqual(args, c.wantArgs) {
			t.Errorf("Bind(%q) = %q %v, want %q %v", c.text, got, args, c.want, c.wantArgs)
		}
	}
}

func make12() []any {
	out := make([]any, 12)
	for i := range out {
		out[i] = i + 1
	}
	return out
}
