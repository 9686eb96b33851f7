package sources

import (
	"errors"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/metadata"
)

// summaryTables are a parent, a child with a foreign key to it, and a
// view, as introspection finds them.
func summaryTables() []Table {
	col := func(name string, typ metadata.Type, nullable bool) Column {
		return Column{Name: name, Type: typ, Nullable: nullable, DBType: string(typ)}
	}
	return []Table{
		{Schema: "public", Name: "accounts", PrimaryKey: []string{"id"}, Columns: []Column{
			col("id", metadata.Int32, false), col("name", metadata.String, false), col("industry", metadata.String, true)}},
		{Schema: "public", Name: "events", PrimaryKey: []string{"id"}, Columns: []Column{
			col("id", metadata.Int64, false), col("account_id", metadata.Int32, true), col("kind", metadata.String, false),
			col("at", metadata.DateTimeOffset, false), col("amount", metadata.Decimal, false), col("ok", metadata.Boolean, true),
			{Name: "shape", DBType: "geometry"}, col("ref", metadata.GUID, true)},
			ForeignKeys: []ForeignKey{{Name: "events_account_fk", Columns: []string{"account_id"}, RefTable: "accounts", RefColumns: []string{"id"}}}},
		{Schema: "public", Name: "busy", IsView: true, Columns: []Column{col("day", metadata.Date, false), col("n", metadata.Int64, false)}},
	}
}

// TestSummaryRefusals: every summary that cannot be computed is refused
// when the model is built, with a message that names the summary and
// what to change.
func TestSummaryRefusals(t *testing.T) {
	good := func() Summary {
		return Summary{Name: "activity", From: "events", Dimensions: []Dimension{{Column: "kind"}},
			Measures: []Measure{{Name: "events", Of: "count"}}}
	}
	cases := []struct {
		name string
		edit func(*Summary)
		want string
	}{
		{"unknown table", func(s *Summary) { s.From = "evnts" }, "summaries.activity: from: no table or view is called evnts (the database has accounts, busy, events)"},
		{"unknown column", func(s *Summary) { s.Dimensions[0].Column = "knd" }, "the dimension knd: events has no column knd (its columns: id, account_id, kind, at, amount, ok, shape, ref)"},
		{"column without a type", func(s *Summary) { s.Dimensions[0].Column = "shape" }, "events.shape is geometry, which has no OData type"},
		{"unknown function", func(s *Summary) { s.Measures[0].Of = "median(amount)" }, `the measure events: "median(amount)": write count, count_distinct(column), sum(column), avg(column), min(column) or max(column)`},
		{"text summed", func(s *Summary) { s.Measures[0].Of = "sum(kind)" }, "sum(kind): kind is Edm.String and cannot be summed; count it, or take its min or max"},
		{"text averaged", func(s *Summary) { s.Measures[0].Of = "avg(at)" }, "avg(at): at is Edm.DateTimeOffset and has no average"},
		{"boolean maximum", func(s *Summary) { s.Measures[0].Of = "max(ok)" }, "max(ok): ok is Edm.Boolean, which the databases do not order alike"},
		{"bucket of text", func(s *Summary) { s.Dimensions[0] = Dimension{Column: "kind", Bucket: "month"} }, "kind is Edm.String; a month bucket groups a date or date-time column"},
		{"unknown bucket", func(s *Summary) { s.Dimensions[0] = Dimension{Column: "at", Bucket: "week"} }, "week is not a bucket: use year, quarter, month or day"},
		{"hop without a foreign key", func(s *Summary) { s.Dimensions[0].Column = "kind.name" }, "events.kind is not a foreign key"},
		{"hop to a missing column", func(s *Summary) { s.Dimensions[0].Column = "account_id.sector" }, "accounts (the parent events.account_id refers to) has no column sector (its columns: id, name, industry)"},
		{"no dimension", func(s *Summary) { s.Dimensions = nil }, "name at least one dimension"},
		{"a set's name", func(s *Summary) { s.Name = "accounts" }, "summaries.accounts: the name is taken by the entity set of accounts; give the summary another name"},
		{"invalid name", func(s *Summary) { s.Name = "by__kind" }, `summaries: "by__kind" is not a valid Salesforce API name`},
		{"invalid measure name", func(s *Summary) { s.Measures[0].Name = "2nd" }, `measures: "2nd" is not a valid Salesforce API name`},
		{"two properties, one name", func(s *Summary) { s.Measures[0].Name = "kind" }, "the dimension kind and the measure kind would both be called kind; rename one"},
		{"a where that does not bind", func(s *Summary) { s.Where = "kind eq 3" }, "summaries.activity: where: "},
		{"a where on a missing column", func(s *Summary) { s.Where = "knd eq 'x'" }, "summaries.activity: where: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := good()
			c.edit(&s)
			opts := Options{Summaries: []Summary{s}}
			opts.Normalize()
			_, _, err := BuildModel(summaryTables(), opts, "public")
			var se *SummaryError
			if !errors.As(err, &se) {
				t.Fatalf("not refused as a summary: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("message:\n%s\nwant it to hold:\n%s", err, c.want)
			}
		})
	}
	// and the good one is served
	opts := Options{Summaries: []Summary{good()}}
	opts.Normalize()
	svc, _, err := BuildModel(summaryTables(), opts, "public")
	if err != nil {
		t.Fatal(err)
	}
	es, ok := svc.EntitySet("activity")
	if !ok || es.Summary == nil || !es.ReadOnly {
		t.Fatalf("activity: %+v", es)
	}
	if deps := svc.Dependents("events"); len(deps) != 1 || deps[0] != "activity" {
		t.Errorf("a write to events must reach activity: %v", deps)
	}
}

// TestSummaryTypes: what each measure's value is, as the databases type
// it, and which dimensions may be null.
func TestSummaryTypes(t *testing.T) {
	opts := Options{Summaries: []Summary{{Name: "activity", From: "events",
		Dimensions: []Dimension{{Column: "account_id"}, {Column: "at", Bucket: "quarter"}, {Column: "account_id.industry", As: "sector"}},
		Measures: []Measure{{Name: "n", Of: "count"}, {Name: "kinds", Of: "COUNT_DISTINCT(kind)"}, {Name: "ids", Of: "sum(id)"},
			{Name: "accounts", Of: "sum(account_id)"}, {Name: "amount", Of: "sum(amount)"}, {Name: "avg_amount", Of: "avg(amount)"},
			{Name: "first_at", Of: "min(at)"}, {Name: "last_kind", Of: "max(kind)"}}}}}
	opts.Normalize()
	svc, _, err := BuildModel(summaryTables(), opts, "public")
	if err != nil {
		t.Fatal(err)
	}
	es, _ := svc.EntitySet("activity")
	want := map[string]struct {
		typ      metadata.Type
		nullable bool
	}{
		"account_id": {metadata.Int32, true}, "quarter": {metadata.Date, false}, "sector": {metadata.String, true},
		"n": {metadata.Int64, false}, "kinds": {metadata.Int64, false}, "ids": {metadata.Decimal, false},
		"accounts": {metadata.Int64, true}, "amount": {metadata.Decimal, false}, "avg_amount": {metadata.Decimal, false},
		"first_at": {metadata.DateTimeOffset, false}, "last_kind": {metadata.String, false}, "label": {metadata.String, false},
	}
	for name, w := range want {
		p, ok := es.Type.Property(name)
		if !ok || p.Type != w.typ || p.Nullable != w.nullable {
			t.Errorf("%s: %+v, want %s nullable=%v", name, p, w.typ, w.nullable)
		}
	}
	if keys := es.Type.Key; len(keys) != 3 || keys[0].Name != "account_id" || keys[2].Name != "sector" {
		t.Errorf("key: %v", keys)
	}
	if len(es.References) != 1 || es.References[0].TargetTable != "accounts" {
		t.Errorf("the dimension over the foreign key keeps its reference: %+v", es.References)
	}
}
