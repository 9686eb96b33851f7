package sources

import "context"

// IndexAdvisor is implemented by sources that can tell which indexes
// Salesforce's traffic needs and the database lacks.
type IndexAdvisor interface {
	AdviseIndexes(ctx context.Context) ([]IndexAdvice, error)
}

// IndexAdvice is one index to create, ready to run, with the reason.
type IndexAdvice struct {
	Set    string `json:"entity_set"`
	Table  string `json:"table"`  // schema.table as the database names it
	Column string `json:"column"` // the column(s) it covers, as the database names them
	Reason string `json:"reason"`
	// SQL creates the index without blocking writes (CONCURRENTLY); Needs
	// is what must run once before it (an extension), or "".
	SQL   string `json:"sql"`
	Needs string `json:"needs,omitempty"`
}
