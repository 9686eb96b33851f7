package format

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/odatagw/odatagw/metadata"
)

func TestAppendValue(t *testing.T) {
	ts := time.Date(2024, 1, 31, 13, 45, 0, 123000000, time.FixedZone("", 3600))
	cases := []struct {
		v       any
		t       metadata.Type
		ieee754 bool
		want    string
	}{
		{nil, metadata.String, false, `null`},
		{true, metadata.Boolean, false, `true`},
		{int64(42), metadata.Int32, false, `42`},
		{int64(9007199254740993), metadata.Int64, false, `9007199254740993`},
		{int64(9007199254740993), metadata.Int64, true, `"9007199254740993"`},
		{"12.50", metadata.Decimal, false, `12.50`},
		{"12.50", metadata.Decimal, true, `"12.50"`},
		{1.5, metadata.Double, false, `1.5`},
		{math.Inf(-1), metadata.Double, false, `"-INF"`},
		{math.NaN(), metadata.Double, false, `"NaN"`},
		{"O'Brien \"q\" \n ü 中", metadata.String, false, `"O'Brien \"q\" \n ü 中"`},
		{ts, metadata.DateTimeOffset, false, `"2024-01-31T12:45:00.123Z"`},
		{time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC), metadata.Date, false, `"2024-01-31"`},
		{[]byte{0xfb, 0xff}, metadata.Binary, false, `"-_8"`},
		{"0a1b2c3d-0000-4000-8000-000000000001", metadata.GUID, false, `"0a1b2c3d-0000-4000-8000-000000000001"`},
	}
	for _, c := range cases {
		got := string(AppendValue(nil, c.v, c.t, c.ieee754))
		if got != c.want {
			t.Errorf("AppendValue(%v, %s) = %s, want %s", c.v, c.t, got, c.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("AppendValue(%v, %s) = %s is not valid JSON", c.v, c.t, got)
		}
	}
}

func TestNegotiate(t *testing.T) {
	cases := []struct {
		format, accept string
		want           JSON
		status         int
	}{
		{"", "", JSON{}, 0},
		{"", "application/json", JSON{}, 0},
		{"", "application/json;odata.metadata=none", JSON{Metadata: MetadataNone}, 0},
		{"", "application/json;odata.metadata=full;IEEE754Compatible=true", JSON{Metadata: MetadataFull, IEEE754: true}, 0},
		{"", "application/xml", JSON{}, 406},
		{"", "text/html, */*;q=0.8", JSON{}, 0},
		{"json", "application/xml", JSON{}, 0},
		{"application/json;odata.metadata=none", "", JSON{Metadata: MetadataNone}, 0},
		{"atom", "", JSON{}, 406},
		{"xml", "", JSON{}, 406},
	}
	for _, c := range cases {
		got, err := Negotiate(c.format, c.accept)
		switch {
		case c.status != 0 && (err == nil || err.Status != c.status):
			t.Errorf("Negotiate(%q, %q): want status %d, got %v", c.format, c.accept, c.status, err)
		case c.status == 0 && err != nil:
			t.Errorf("Negotiate(%q, %q): unexpected %v", c.format, c.accept, err)
		case c.status == 0 && got != c.want:
			t.Errorf("Negotiate(%q, %q) = %+v, want %+v", c.format, c.accept, got, c.want)
		}
	}
}
