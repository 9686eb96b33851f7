package metadata

import "testing"

func TestSanitize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"customers", "customers"},
		{"Order Lines", "Order_Lines"},
		{"order__lines_", "order_lines"},
		{"2024_sales", "T2024_sales"},
		{"Café", "Cafe"},
		{"straße", "stra_e"},
		{"顧客", "T" + digest("顧客")},
		{"a-b.c", "a_b_c"},
		{"_private", "private"},
		{"this_is_a_very_long_table_name_that_goes_past_forty_characters", "this_is_a_very_long_table_name_" + digest("this_is_a_very_long_table_name_that_goes_past_forty_characters")},
	}
	for _, c := range cases {
		got := Sanitize(c.in, "T")
		if got != c.want {
			t.Errorf("Sanitize(%q) = %q, want %q", c.in, got, c.want)
		}
		if !ValidName(got) {
			t.Errorf("Sanitize(%q) = %q is not a valid name", c.in, got)
		}
	}
}

func TestAssignNamesIsStableAndUnique(t *testing.T) {
	names, renames, err := AssignNames([]string{"order lines", "order_lines", "Order-Lines", "x"}, nil, "T")
	if err != nil {
		t.Fatal(err)
	}
	if names["order_lines"] != "order_lines" {
		t.Errorf("a valid name must be kept, got %q", names["order_lines"])
	}
	seen := map[string]bool{}
	for orig, n := range names {
		if !ValidName(n) {
			t.Errorf("%q -> %q is invalid", orig, n)
		}
		if seen[n] {
			t.Errorf("duplicate name %q", n)
		}
		seen[n] = true
	}
	if len(renames) != 2 {
		t.Errorf("want 2 renames, got %v", renames)
	}
	// adding another colliding table renames nothing that existed before
	again, _, _ := AssignNames([]string{"order lines", "order_lines", "Order-Lines", "x", "ORDER LINES"}, nil, "T")
	for orig, n := range names {
		if again[orig] != n {
			t.Errorf("%q changed from %q to %q when a table was added", orig, n, again[orig])
		}
	}
}

func TestAssignNamesOverrides(t *testing.T) {
	names, _, err := AssignNames([]string{"tbl_cust"}, map[string]string{"tbl_cust": "Customers"}, "T")
	if err != nil || names["tbl_cust"] != "Customers" {
		t.Fatalf("override not applied: %v %v", names, err)
	}
	if _, _, err := AssignNames([]string{"a"}, map[string]string{"a": "bad__name"}, "T"); err == nil {
		t.Fatal("an invalid override must be refused")
	}
}
