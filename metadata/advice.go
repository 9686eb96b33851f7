package metadata

import "slices"

// IndexAdvice is one index to create, ready to run, with the reason.
type IndexAdvice struct {
	Set    string `json:"entity_set"`
	Table  string `json:"table"`  // schema.table as the database names it
	Column string `json:"column"` // the column(s) it covers, as the database names them
	Reason string `json:"reason"`
	// Rows is the table's size as the planner's statistics estimate it
	// (counted, up to CountRowsUpTo, where the table was never analysed).
	Rows int64 `json:"rows"`
	// SQL creates the index without blocking writes (CONCURRENTLY); Needs
	// is what must run once before it (an extension), or "".
	SQL   string `json:"sql"`
	Needs string `json:"needs,omitempty"`
}

// AdviseFromRows is the smallest table an index is advised for. Below it
// the whole table is a few hundred pages at most, read in about a
// millisecond, and the planner prefers that read to an index anyway: an
// index there costs every write and saves Salesforce nothing.
const AdviseFromRows = 10_000

// CountRowsUpTo bounds the count that stands in for a table's size where
// the database has no statistics yet: a count of a million narrow rows
// takes a fraction of a second, and past it the advice is the same.
const CountRowsUpTo = 1_000_000

// Worthwhile splits advice into the indexes that matter (tables of at
// least AdviseFromRows rows) and those on smaller tables.
func Worthwhile(all []IndexAdvice) (advised, small []IndexAdvice) {
	advised = slices.DeleteFunc(slices.Clone(all), func(a IndexAdvice) bool { return a.Rows < AdviseFromRows })
	small = slices.DeleteFunc(slices.Clone(all), func(a IndexAdvice) bool { return a.Rows >= AdviseFromRows })
	return advised, small
}
