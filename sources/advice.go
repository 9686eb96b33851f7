package sources

import (
	"context"

	"github.com/odatagw/odatagw/metadata"
)

// IndexAdvisor is implemented by sources that can tell which indexes
// Salesforce's traffic needs and the database lacks.
type IndexAdvisor interface {
	// AdviseIndexes lists every index missing for Salesforce's traffic,
	// on tables of every size, each with the table's estimated rows.
	AdviseIndexes(ctx context.Context) ([]metadata.IndexAdvice, error)
}

// IndexColumns joins lists of columns in order, each column once: the
// columns of an index that serves a filter and then an order.
func IndexColumns(lists ...[]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, c := range l {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}
