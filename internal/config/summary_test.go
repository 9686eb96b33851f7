package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSummaries: the YAML of a summary reads into its dimensions (a
// column, a parent's column, a bucket, a name) and its measures in the
// order written; the admin API's JSON reads and writes the same.
func TestSummaries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(`
sources:
  acc:
    dsn: postgres://db/acc
    summaries:
      industry_activity:
        from: events
        dimensions: [account_id.industry, {year: at}, {month: shipped_at, as: shipped}]
        measures: {events: count, accounts: count_distinct(account_id), amount: sum(amount)}
        where: "kind ne 'view'"
`), 0o600)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Sources["acc"].Summaries["industry_activity"]
	want := Summary{From: "events", Where: "kind ne 'view'",
		Dimensions: []Dimension{{Column: "account_id.industry"}, {Column: "at", Bucket: "year"}, {Column: "shipped_at", Bucket: "month", As: "shipped"}},
		Measures:   Measures{{"events", "count"}, {"accounts", "count_distinct(account_id)"}, {"amount", "sum(amount)"}}}
	if got, _ := json.Marshal(s); string(got) != mustJSON(want) {
		t.Errorf("read as %s\nwant     %s", got, mustJSON(want))
	}
	raw := `{"from":"events","dimensions":["account_id.industry",{"year":"at"},{"as":"shipped","month":"shipped_at"}],"measures":{"events":"count","accounts":"count_distinct(account_id)","amount":"sum(amount)"},"where":"kind ne 'view'"}`
	var back Summary
	if err := json.Unmarshal([]byte(raw), &back); err != nil {
		t.Fatal(err)
	}
	if mustJSON(back) != raw {
		t.Errorf("JSON round trip:\n%s\n%s", mustJSON(back), raw)
	}
	for _, bad := range []struct{ yaml, want string }{
		{`dimensions: [{week: at}]`, `a dimension has no "week"`},
		{`dimensions: [{month: at, year: at}]`, "a dimension groups by one column"},
		{`measures: [count]`, "measures are a mapping of names to aggregates"},
	} {
		os.WriteFile(path, []byte("sources:\n  acc:\n    dsn: postgres://db/acc\n    summaries:\n      s:\n        from: events\n        "+bad.yaml+"\n"), 0o600)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %q", bad.yaml, err, bad.want)
		}
	}
	for _, bad := range []struct {
		s    Summary
		want string
	}{
		{Summary{Dimensions: []Dimension{{Column: "a"}}}, "summaries: s: from: name the table"},
		{Summary{From: "t"}, "dimensions: name at least one column"},
		{Summary{From: "t", Dimensions: []Dimension{{Column: "a"}}, Measures: Measures{{"x", "median(a)"}}}, `measures: x: "median(a)"`},
	} {
		if err := (Source{Summaries: map[string]Summary{"s": bad.s}}).Check(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: %v, want %q", bad.s, err, bad.want)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
