package uri

import (
	"strings"
	"testing"
)

// TestPairs: every reader of a query string sees the same pairs and the
// same option names, however the client spelt them.
func TestPairs(t *testing.T) {
	raw := "$top=5&&format=application/json;odata.metadata=none&%24FILTER=a%20eq%201&custom=x&@p=1&$bad%zz=1&$skiptoken"
	var got []string
	for p := range Pairs(raw) {
		got = append(got, p.Raw+" -> "+p.Option())
	}
	want := []string{
		"$top=5 -> $top",
		"format=application/json;odata.metadata=none -> $format",
		"%24FILTER=a%20eq%201 -> $filter",
		"custom=x -> ",
		"@p=1 -> ",
		"$bad%zz=1 -> ",
		"$skiptoken -> $skiptoken",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("pairs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for p := range Pairs("a=1&b=2&c=3") {
		if p.RawName == "b" {
			break // stopping early must not panic
		}
	}
	q, err := ParseQuery("FORMAT=json&%24top=3")
	if err != nil || q.Format != "json" || q.Top == nil || *q.Top != 3 {
		t.Errorf("the parser reads the same spellings: %+v %v", q, err)
	}
}
