package sqlgen_test

import (
	"testing"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

// summaryService is a model of three tables, as introspection finds
// them, with the summaries of docs/salesforce.md over them.
func summaryService(t *testing.T) *metadata.Service {
	t.Helper()
	col := func(name string, typ metadata.Type, nullable bool) sources.Column {
		return sources.Column{Name: name, Type: typ, Nullable: nullable, DBType: string(typ)}
	}
	tables := []sources.Table{
		{Schema: "public", Name: "accounts", PrimaryKey: []string{"id"}, Columns: []sources.Column{
			col("id", metadata.Int32, false), col("name", metadata.String, false), col("industry", metadata.String, true)}},
		{Schema: "public", Name: "events", PrimaryKey: []string{"id"}, Columns: []sources.Column{
			col("id", metadata.Int64, false), col("account_id", metadata.Int32, true), col("kind", metadata.String, false),
			col("at", metadata.DateTimeOffset, false), col("amount", metadata.Decimal, false)},
			ForeignKeys: []sources.ForeignKey{{Name: "events_account_fk", Columns: []string{"account_id"}, RefTable: "accounts", RefColumns: []string{"id"}}}},
		{Schema: "public", Name: "order_lines", PrimaryKey: []string{"id"}, Columns: []sources.Column{
			col("id", metadata.Int32, false), col("sku", metadata.String, false), col("qty", metadata.Int32, false),
			col("unit_price", metadata.Decimal, false)}},
	}
	opts := sources.Options{PageSize: 1000, Summaries: []sources.Summary{
		{Name: "sku_totals", From: "order_lines", Dimensions: []sources.Dimension{{Column: "sku"}},
			Measures: []sources.Measure{{Name: "lines", Of: "count"}, {Name: "qty", Of: "sum(qty)"},
				{Name: "avg_price", Of: "avg(unit_price)"}, {Name: "max_price", Of: "max(unit_price)"}}},
		{Name: "account_activity", From: "events", Where: "kind ne 'view'",
			Dimensions: []sources.Dimension{{Column: "account_id"}, {Column: "kind"}, {Column: "at", Bucket: "month"}},
			Measures:   []sources.Measure{{Name: "events", Of: "count"}, {Name: "first_at", Of: "min(at)"}, {Name: "last_at", Of: "max(at)"}}},
		{Name: "industry_activity", From: "events",
			Dimensions: []sources.Dimension{{Column: "account_id.industry"}, {Column: "at", Bucket: "year"}},
			Measures:   []sources.Measure{{Name: "events", Of: "count"}, {Name: "accounts", Of: "count_distinct(account_id)"}}},
	}}
	opts.Normalize()
	svc, _, err := sources.BuildModel(tables, opts, "public")
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
