package salesforce

import (
	"strings"
	"testing"

	"github.com/odatagw/odatagw/metadata"
)

func TestSalesforceType(t *testing.T) {
	cases := []struct {
		p    metadata.Property
		want string
	}{
		{metadata.Property{Type: metadata.Boolean}, "Checkbox"},
		{metadata.Property{Type: metadata.Int64}, "Number"},
		{metadata.Property{Type: metadata.Decimal, Precision: 12, Scale: 2, ScaleSet: true}, "Number"},
		{metadata.Property{Type: metadata.Date}, "Date/Time (time 00:00)"},
		{metadata.Property{Type: metadata.DateTimeOffset}, "Date/Time"},
		{metadata.Property{Type: metadata.GUID}, "Text(36)"},
		{metadata.Property{Type: metadata.String}, "Text(128)"},
		{metadata.Property{Type: metadata.String, MaxLength: 80}, "Text(80)"},
		{metadata.Property{Type: metadata.String, MaxLength: 255}, "Text(255)"},
		{metadata.Property{Type: metadata.String, MaxLength: 4000}, "Long Text Area(4000)"},
		{metadata.Property{Type: metadata.Binary}, "Text Area (base64)"},
		{metadata.Property{Type: metadata.TimeOfDay}, ""},
		{metadata.Property{Type: metadata.Duration}, ""},
	}
	for _, c := range cases {
		if got := SalesforceType(&c.p); got != c.want {
			t.Errorf("%s (MaxLength %d): %q, want %q", c.p.Type, c.p.MaxLength, got, c.want)
		}
	}
}

func TestBuild(t *testing.T) {
	props := []*metadata.Property{
		{Name: "Id", Column: "Id", Type: metadata.Int32},
		{Name: "Line_ID", Column: "Line ID", Type: metadata.Int32},
		{Name: "Note", Column: "Note", Type: metadata.String, Nullable: true},
		{Name: "Opens", Column: "Opens", Type: metadata.TimeOfDay, Nullable: true},
		{Name: "Big", Column: "Big", Type: metadata.Decimal, Precision: 30, Nullable: true},
		{Name: "Code", Column: "Code", Type: metadata.String, MaxLength: 10},
	}
	et, err := metadata.NewEntityType("order_lines", props, []string{"Id", "Line_ID"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := metadata.NewService([]*metadata.EntitySet{{Name: "order_lines", Type: et, Schema: "public", Table: "order lines"}})
	if err != nil {
		t.Fatal(err)
	}
	rep := Build(svc, metadata.Decisions{Skipped: []metadata.Skipped{{Object: "audit", Reason: "no primary key and no unique index over NOT NULL columns; name key columns in the configuration (keys: {audit: [column, ...]})"}}}, Choices{})
	if len(rep.Tables) != 1 || rep.Errors != 1 || rep.Warnings != 3 {
		t.Fatalf("tables %d, errors %d, warnings %d", len(rep.Tables), rep.Errors, rep.Warnings)
	}
	tb := rep.Tables[0]
	if tb.Table != "public.order lines" || strings.Join(tb.Key, ",") != "Id,Line_ID" || !tb.Writable {
		t.Fatalf("table %+v", tb)
	}
	want := []struct {
		sev    Severity
		object string
		text   string
	}{
		{Info, "public.order lines", "served as order_lines"},
		{Info, "public.order lines", "composite key (Id, Line_ID)"},
		{Info, "public.order lines.Line ID", "field Line_ID__c"},
		{Warning, "public.order lines.Note", "Text(128)"},
		{Warning, "public.order lines.Opens", "not synced"},
		{Warning, "public.order lines.Big", "18 digits"},
	}
	if len(tb.Problems) != len(want) {
		t.Fatalf("problems: %+v", tb.Problems)
	}
	for i, w := range want {
		p := tb.Problems[i]
		if p.Severity != w.sev || p.Object != w.object || !strings.Contains(p.Message, w.text) {
			t.Errorf("problem %d: %+v, want %s %s %q", i, p, w.sev, w.object, w.text)
		}
	}
	var text strings.Builder
	rep.WriteText(&text)
	for _, s := range []string{"Line ID", "Line_ID", "(not synced)", "Number, External ID", "left out of the service:", "1 entity set, 1 error, 3 warnings"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, text.String())
		}
	}
}
