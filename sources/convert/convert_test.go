package convert

import (
	"math/big"
	"testing"
	"time"

	"github.com/odatagw/odatagw/metadata"
)

// TestTo: each Edm type from the Go types drivers hand over.
func TestTo(t *testing.T) {
	when := time.Date(2024, 2, 29, 13, 14, 15, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		in   any
		typ  metadata.Type
		want any
	}{
		{"Acme", metadata.String, "Acme"},
		{[]byte("Acme"), metadata.String, "Acme"},
		{int64(42), metadata.String, "42"},
		{int64(42), metadata.Int32, int64(42)},
		{int32(42), metadata.Int64, int64(42)},
		{"42", metadata.Int64, int64(42)},
		{float64(2), metadata.Int64, int64(2)},
		{float64(1.5), metadata.Double, 1.5},
		{float32(1.5), metadata.Single, 1.5},
		{"12.50", metadata.Decimal, "12.50"},
		{[]byte("12.50"), metadata.Decimal, "12.50"},
		{int64(7), metadata.Decimal, "7"},
		{big.NewInt(7), metadata.Decimal, "7"},
		{true, metadata.Boolean, true},
		{int64(0), metadata.Boolean, false},
		{when, metadata.DateTimeOffset, when.UTC()},
		{when, metadata.Date, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"2024-02-29", metadata.Date, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{90 * time.Second, metadata.Duration, 90 * time.Second},
		{"AB", metadata.Binary, []byte("AB")},
		{nil, metadata.String, nil},
	}
	for _, tc := range tests {
		got, err := To(tc.in, tc.typ)
		if err != nil {
			t.Errorf("To(%#v, %s): %v", tc.in, tc.typ, err)
			continue
		}
		if b, ok := tc.want.([]byte); ok {
			if string(got.([]byte)) != string(b) {
				t.Errorf("To(%#v, %s) = %#v, want %#v", tc.in, tc.typ, got, tc.want)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("To(%#v, %s) = %#v, want %#v", tc.in, tc.typ, got, tc.want)
		}
	}
	if _, err := To(struct{}{}, metadata.String); err == nil {
		t.Error("an unknown driver type converted without an error")
	}
}

// TestToKeepsTheValue: a value the driver already gave as the right Go type
// comes back without a new allocation; a list page converts every column
// of every row.
func TestToKeepsTheValue(t *testing.T) {
	for _, tc := range []struct {
		in  any
		typ metadata.Type
	}{
		{"Acme", metadata.String},
		{"12.50", metadata.Decimal},
		{int64(1 << 40), metadata.Int64},
		{float64(1.25), metadata.Double},
		{true, metadata.Boolean},
		{[]byte{1, 2, 3}, metadata.Binary},
		{time.Duration(1 << 40), metadata.Duration},
	} {
		if n := testing.AllocsPerRun(100, func() { To(tc.in, tc.typ) }); n != 0 {
			t.Errorf("To(%T, %s) allocates %v times, want 0", tc.in, tc.typ, n)
		}
	}
}
