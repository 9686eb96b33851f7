package uri

import (
	"testing"
)

// FuzzParse: any path and query either parse or fail with a 400 or 501
// OData error; nothing panics.
func FuzzParse(f *testing.F) {
	seeds := [][2]string{
		{"Customers", "$select=CustomerId,Name&$count=true&$top=26"},
		{"Customers(42)", ""},
		{"OrderLines(OrderId=1,ProductId=2)", "$filter=OrderId%20eq%2010248%20and%20ProductId%20eq%2011"},
		{"Customers", "$filter=contains(Name,'Acme')%20eq%20true%20or%20contains(Phone,'Acme')%20eq%20true"},
		{"Customers", "$search=%22big%20deal%22%20OR%20(acme%20AND%20NOT%20corp)"},
		{"Customers", "$filter=CreatedAt%20gt%202024-01-01T00:00:00Z&$orderby=CreatedAt%20desc"},
		{"Tags('O''Neil')", "$filter=Id%20in%20(1,2,3)"},
		{"Customers", "$filter=round(Price%20mul%201.5e3)%20ge%20-INF%20and%20Ref%20eq%2001234567-89ab-cdef-0123-456789abcdef"},
		{"$metadata", "$format=json"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		_, err := Parse(path, query)
		if err != nil && err.Status != 400 && err.Status != 501 {
			t.Fatalf("Parse(%q, %q): status %d: %v", path, query, err.Status, err)
		}
	})
}

// FuzzFilter: any $filter text parses or fails cleanly.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"Name eq 'x'", "not (a eq 1) and b ne null", "x in (1, 2, 'a')", "-(-1) add 2 mul 3",
		"contains(tolower(Name),'a''b')", "a/b eq 1", "year(d) eq 2024 or d lt 2024-01-01",
		"((((((a))))))", "f(g(h(1)))", "duration'P1DT2H' eq t", "binary'AAAA' eq b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParseExpression("$filter", s)
		if err != nil && err.Status != 400 && err.Status != 501 {
			t.Fatalf("ParseExpression(%q): status %d: %v", s, err.Status, err)
		}
	})
}
