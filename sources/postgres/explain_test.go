package postgres

import (
	"strings"
	"testing"
)

// TestCostliest: a plan's nodes by the cost they add themselves.
func TestCostliest(t *testing.T) {
	plan := []string{
		"Limit  (cost=944.01..944.01 rows=1 width=18)",
		"  ->  Sort  (cost=944.01..944.02 rows=1 width=18)",
		"        Sort Key: id",
		"        ->  Seq Scan on items  (cost=0.00..944.00 rows=1 width=18)",
		"              Filter: ((code)::text = 'C-1'::text)",
	}
	got := costliest(plan, 2)
	if len(got) != 2 || !strings.HasPrefix(got[0], "Seq Scan on items: 944") {
		t.Errorf("costliest: %q", got)
	}
}
