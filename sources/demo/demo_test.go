package demo

import (
	"context"
	"testing"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
)

func TestDemoCoversTheModel(t *testing.T) {
	src, err := Open(context.Background(), sources.Options{Name: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	svc := src.Metadata()
	count := func(name string) int64 {
		t.Helper()
		es, ok := svc.EntitySet(name)
		if !ok {
			t.Fatalf("missing entity set %s", name)
		}
		n, err := src.Count(context.Background(), &plan.Query{Set: es})
		if err != nil {
			t.Fatalf("counting %s: %v", name, err)
		}
		return n
	}
	want := map[string]int64{"Customers": Customers, "Orders": Orders, "Products": Products}
	for name, rows := range want {
		if n := count(name); n != rows {
			t.Errorf("%s: %d rows, want %d", name, n, rows)
		}
	}
	// one to five lines per order
	if n := count("OrderLines"); n < Orders || n > 5*Orders {
		t.Errorf("OrderLines: %d rows for %d orders", n, Orders)
	}
	lines, _ := svc.EntitySet("OrderLines")
	if len(lines.Type.Key) != 2 {
		t.Fatalf("OrderLines must have a two-column key")
	}
	types := map[metadata.Type]bool{}
	for _, es := range svc.Sets {
		for _, p := range es.Type.Properties {
			types[p.Type] = true
		}
	}
	for _, typ := range []metadata.Type{metadata.Boolean, metadata.Int16, metadata.Int32, metadata.Int64,
		metadata.Decimal, metadata.Double, metadata.String, metadata.GUID, metadata.Date,
		metadata.DateTimeOffset, metadata.Binary} {
		if !types[typ] {
			t.Errorf("the demo has no property of type %s", typ)
		}
	}
}
