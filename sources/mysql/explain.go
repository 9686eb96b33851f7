package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

// explainTimeout bounds an ANALYZE: one run, not a load on the database.
const explainTimeout = 5 * time.Second

var _ sources.Explainer = (*Source)(nil)

// Explain asks MySQL or MariaDB for the statement's plan (EXPLAIN, one
// row per table read); with analyze it runs it (MariaDB's ANALYZE, MySQL
// 8's EXPLAIN ANALYZE) in a read-only transaction that is rolled back.
func (s *Source) Explain(ctx context.Context, text string, args []any, analyze bool) (sources.Explanation, error) {
	if args == nil && strings.Contains(text, "?") {
		return sources.Explanation{}, sources.ErrNeedsSample
	}
	ctx, cancel := context.WithTimeout(ctx, explainTimeout)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return sources.Explanation{}, mapError(ctx, err)
	}
	defer tx.Rollback()
	what := "EXPLAIN "
	if analyze {
		what = "ANALYZE "
		if !s.mariadb {
			what = "EXPLAIN ANALYZE "
		}
	}
	rows, err := tx.QueryContext(ctx, what+text, args...)
	if err != nil {
		return sources.Explanation{}, mapError(ctx, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	ex := sources.Explanation{Analyzed: analyze, Scans: []string{}}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return sources.Explanation{}, mapError(ctx, err)
		}
		if len(cols) == 1 { // EXPLAIN ANALYZE's tree
			ex.Plan = append(ex.Plan, strings.Split(vals[0].String, "\n")...)
			continue
		}
		var parts []string
		row := map[string]string{}
		for i, c := range cols {
			row[strings.ToLower(c)] = vals[i].String
			if vals[i].Valid && vals[i].String != "" {
				parts = append(parts, c+"="+vals[i].String)
			}
		}
		line := strings.Join(parts, " ")
		ex.Plan = append(ex.Plan, line)
		// type ALL is a full scan of the table; type index with a WHERE
		// walks a whole index (the key's, for the order) testing each row,
		// and without one over many rows reads all of it (a count(*))
		rowsRead, _ := strconv.ParseInt(row["rows"], 10, 64)
		switch {
		case row["type"] == "ALL":
			ex.Scans = append(ex.Scans, fmt.Sprintf("full scan of %s (about %s rows)", row["table"], row["rows"]))
		case row["type"] == "index" && strings.Contains(row["extra"], "Using where"):
			ex.Scans = append(ex.Scans, fmt.Sprintf("%s read in the order of %s, every row tested against the filter", row["table"], row["key"]))
		case row["type"] == "index" && rowsRead >= metadata.AdviseFromRows:
			ex.Scans = append(ex.Scans, fmt.Sprintf("every entry of %s's index %s read (about %s rows)", row["table"], row["key"], row["rows"]))
		}
	}
	if err := rows.Err(); err != nil {
		return sources.Explanation{}, mapError(ctx, err)
	}
	return ex, nil
}

// IndexFor is the B-tree a shape's filter needs, on the compared columns
// and then the sorted ones (and prefixes); MySQL has no index for
// substrings, so those are said to scan.
func (s *Source) IndexFor(ctx context.Context, es *metadata.EntitySet, contains, prefix, compared, sorted []string) ([]metadata.IndexAdvice, error) {
	n, err := s.tableRows(ctx, es.Table)
	if err != nil {
		return nil, err
	}
	var out []metadata.IndexAdvice
	d := s.dialect
	cols := sources.IndexColumns(compared, prefix, sorted)
	if len(cols) > 0 {
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = d.QuoteIdent(c)
		}
		name := "odatagw_" + es.Table + "_" + strings.Join(cols, "_")
		if len(name) > 64 {
			name = name[:64]
		}
		out = append(out, metadata.IndexAdvice{Set: es.Name, Table: es.Table, Column: strings.Join(cols, ", "), Rows: n,
			Reason: "the shape compares or sorts by " + strings.Join(cols, ", ") + " (the page, and the filter of its count)",
			SQL:    fmt.Sprintf("CREATE INDEX %s ON %s (%s) ALGORITHM=INPLACE LOCK=NONE;", d.QuoteIdent(name), d.QuoteIdent(es.Table), strings.Join(quoted, ", "))})
	}
	for _, c := range contains {
		out = append(out, metadata.IndexAdvice{Set: es.Name, Table: es.Table, Column: c, Rows: n,
			Reason: "the shape matches substrings of " + c + ", which no MySQL index serves: narrow the search's columns (search: in the source) or add a FULLTEXT index and a view"})
	}
	return out, nil
}

// tableRows is a table's size: InnoDB's estimate from its statistics,
// or, where it has none yet (0), a count up to metadata.CountRowsUpTo.
func (s *Source) tableRows(ctx context.Context, table string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(TABLE_ROWS, 0) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, table).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, mapError(ctx, err)
	}
	if n > 0 {
		return n, nil
	}
	err = s.db.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d) t",
		s.dialect.QuoteIdent(table), metadata.CountRowsUpTo)).Scan(&n)
	if err != nil {
		return 0, mapError(ctx, err)
	}
	return n, nil
}
