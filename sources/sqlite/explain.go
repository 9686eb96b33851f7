package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

// SQL is the statement the source runs for q.
func (s *Source) SQL(q *plan.Query) (string, []any, error) { return sqlgen.Select(dialect{}, q) }

// CountSQL is the statement Count runs for q, "" where it reads no rows.
func (s *Source) CountSQL(q *plan.Query) (string, []any, error) {
	if sources.CountedBy(q, false) == sources.CountedByTracking {
		return "", nil, nil
	}
	return sqlgen.Count(dialect{}, q)
}

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
func (s *Source) IndexFor(ctx context.Context, es *metadata.EntitySet, contains, prefix, compared, sorted []string) ([]metadata.IndexAdvice, error) {
	cols := sources.IndexColumns(compared, prefix, sorted)
	if len(cols) == 0 {
		return nil, nil
	}
	d := dialect{}
	// SQLite keeps no row count: count, up to a bound
	var n int64
	if err := s.db.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d)",
		d.QuoteIdent(es.Table), metadata.CountRowsUpTo)).Scan(&n); err != nil {
		return nil, mapError(ctx, err)
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = d.QuoteIdent(c)
	}
	return []metadata.IndexAdvice{{Set: es.Name, Table: es.Table, Column: strings.Join(cols, ", "), Rows: n,
		Reason: "the shape compares or sorts by " + strings.Join(cols, ", ") + " (the page, and the filter of its count)",
		SQL:    "CREATE INDEX IF NOT EXISTS " + d.QuoteIdent("odatagw_"+es.Table+"_"+strings.Join(cols, "_")) + " ON " + d.QuoteIdent(es.Table) + " (" + strings.Join(quoted, ", ") + ");"}}, nil
}
