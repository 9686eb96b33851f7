package sqlite

import (
	"context"
	"strings"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

// SQL is the statement the source runs for q.
func (s *Source) SQL(q *plan.Query) (string, []any, error) { return sqlgen.Select(dialect{}, q) }

var _ sources.Explainer = (*Source)(nil)

// Explain is SQLite's query plan (EXPLAIN QUERY PLAN): a SCAN of a table
// reads all of it, a SEARCH goes through an index. SQLite has no ANALYZE
// that runs the statement, so analyze gives the same plan.
func (s *Source) Explain(ctx context.Context, text string, args []any, analyze bool) (sources.Explanation, error) {
	if args == nil && strings.Contains(text, "?") {
		return sources.Explanation{}, sources.ErrNeedsSample
	}
	rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+text, args...)
	if err != nil {
		return sources.Explanation{}, mapError(ctx, err)
	}
	defer rows.Close()
	ex := sources.Explanation{Scans: []string{}}
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return sources.Explanation{}, mapError(ctx, err)
		}
		ex.Plan = append(ex.Plan, detail)
		if strings.HasPrefix(detail, "SCAN ") && !strings.Contains(detail, "USING") {
			ex.Scans = append(ex.Scans, detail)
		}
	}
	if err := rows.Err(); err != nil {
		return sources.Explanation{}, mapError(ctx, err)
	}
	return ex, nil
}

// IndexFor is the index a shape's filter needs, on the compared and then
// the sorted columns.
func (s *Source) IndexFor(es *metadata.EntitySet, contains, prefix, compared, sorted []string) []metadata.IndexAdvice {
	cols := sources.IndexColumns(compared, prefix, sorted)
	if len(cols) == 0 {
		return nil
	}
	d := dialect{}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = d.QuoteIdent(c)
	}
	return []metadata.IndexAdvice{{Set: es.Name, Table: es.Table, Column: strings.Join(cols, ", "),
		Reason: "the shape compares or sorts by " + strings.Join(cols, ", "),
		SQL:    "CREATE INDEX IF NOT EXISTS " + d.QuoteIdent("odatagw_"+es.Table+"_"+strings.Join(cols, "_")) + " ON " + d.QuoteIdent(es.Table) + " (" + strings.Join(quoted, ", ") + ");"}}
}
