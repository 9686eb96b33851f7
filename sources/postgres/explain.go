package postgres

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

// ErrNeedsSample is a plan asked for before any value was sampled.
var ErrNeedsSample = sources.ErrNeedsSample

// explainTimeout bounds an EXPLAIN ANALYZE: the admin asked for one run,
// not a load on the database.
const explainTimeout = 5 * time.Second

// seqScan finds a sequential scan, its estimated cost and the rows it
// yields: past scanCost (about 50,000 narrow rows read), or yielding
// metadata.AdviseFromRows rows or more (a count(*) reads them all), it is
// worth calling out.
var seqScan = regexp.MustCompile(`Seq Scan on (\S+).*?cost=[\d.]+\.\.([\d.]+) rows=(\d+)`)

const scanCost = 500

var _ sources.Explainer = (*Source)(nil)

// Explain asks PostgreSQL for the statement's plan; with analyze it runs
// it, in a read-only transaction that is rolled back, under a 5 s
// statement timeout.
func (s *Source) Explain(ctx context.Context, sql string, args []any, analyze bool) (sources.Explanation, error) {
	if args == nil && strings.Contains(sql, "$1") {
		// no values sampled: the placeholders would have none, and
		// PostgreSQL 16's GENERIC_PLAN is not to be counted on
		return sources.Explanation{}, ErrNeedsSample
	}
	ctx, cancel := context.WithTimeout(ctx, explainTimeout+time.Second)
	defer cancel()
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return sources.Explanation{}, mapError(ctx, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = "+strconv.FormatInt(explainTimeout.Milliseconds(), 10)); err != nil {
		return sources.Explanation{}, mapError(ctx, err)
	}
	what := "EXPLAIN "
	if analyze {
		what = "EXPLAIN (ANALYZE, BUFFERS) "
	}
	rows, err := tx.Query(ctx, what+sql, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
	if err != nil {
		return sources.Explanation{}, mapError(ctx, err)
	}
	defer rows.Close()
	ex := sources.Explanation{Analyzed: analyze, Scans: []string{}}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return sources.Explanation{}, mapError(ctx, err)
		}
		ex.Plan = append(ex.Plan, line)
		if m := seqScan.FindStringSubmatch(line); m != nil {
			cost, _ := strconv.ParseFloat(m[2], 64)
			if rows, _ := strconv.ParseInt(m[3], 10, 64); cost >= scanCost || rows >= metadata.AdviseFromRows {
				ex.Scans = append(ex.Scans, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "->")))
			}
		}
	}
	if err := rows.Err(); err != nil {
		return sources.Explanation{}, mapError(ctx, err)
	}
	ex.Costliest = costliest(ex.Plan, 3)
	return ex, nil
}

var nodeCost = regexp.MustCompile(`^(\s*)(?:->\s+)?(.*?)\s+\(cost=[\d.]+\.\.([\d.]+)`)

// costliest are the plan's nodes by the cost they add themselves (their
// total less their children's), the dearest first.
func costliest(plan []string, n int) []string {
	type node struct {
		text   string
		depth  int
		total  float64
		own    float64
		parent int
	}
	var nodes []node
	var stack []int // open nodes by depth
	for _, line := range plan {
		m := nodeCost.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		total, _ := strconv.ParseFloat(m[3], 64)
		depth := len(m[1])
		for len(stack) > 0 && nodes[stack[len(stack)-1]].depth >= depth {
			stack = stack[:len(stack)-1]
		}
		parent := -1
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
			nodes[parent].own -= total
		}
		nodes = append(nodes, node{text: strings.TrimSpace(m[2]), depth: depth, total: total, own: total, parent: parent})
		stack = append(stack, len(nodes)-1)
	}
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].own > nodes[j].own })
	var out []string
	for i := 0; i < len(nodes) && i < n; i++ {
		out = append(out, fmt.Sprintf("%s: %.0f of the plan's cost", nodes[i].text, max(nodes[i].own, 0)))
	}
	return out
}

// IndexFor is the index a shape's filter needs: trigram for substrings,
// text_pattern_ops for prefixes, a B-tree on the compared columns and
// then the sorted ones.
func (s *Source) IndexFor(ctx context.Context, es *metadata.EntitySet, contains, prefix, compared, sorted []string) ([]metadata.IndexAdvice, error) {
	rows, err := s.tableRows(ctx, []string{es.Schema})
	if err != nil {
		return nil, err
	}
	n, err := rows(es)
	if err != nil {
		return nil, err
	}
	table := es.Schema + "." + es.Table
	qt := s.dialect.Table(es.Schema, es.Table)
	var out []metadata.IndexAdvice
	for _, c := range contains {
		out = append(out, metadata.IndexAdvice{Set: es.Name, Table: table, Column: c, Rows: n, Needs: "CREATE EXTENSION IF NOT EXISTS pg_trgm;",
			Reason: "the shape matches substrings of " + c,
			SQL: fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s USING gin (%s gin_trgm_ops);",
				s.dialect.QuoteIdent(indexName(es.Table, c, "trgm")), qt, s.dialect.QuoteIdent(c))})
	}
	for _, c := range prefix {
		out = append(out, metadata.IndexAdvice{Set: es.Name, Table: table, Column: c, Rows: n, Reason: "the shape matches prefixes of " + c,
			SQL: fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s text_pattern_ops);",
				s.dialect.QuoteIdent(indexName(es.Table, c, "prefix")), qt, s.dialect.QuoteIdent(c))})
	}
	if cols := sources.IndexColumns(compared, sorted); len(cols) > 0 {
		out = append(out, metadata.IndexAdvice{Set: es.Name, Table: table, Column: strings.Join(cols, ", "), Rows: n,
			Reason: comparedReason(compared) + sortedReason(compared, sorted),
			SQL:    btreeSQL(s, es, cols, indexName(es.Table, strings.Join(cols, "_"), "shape"))})
	}
	return out, nil
}

func comparedReason(compared []string) string {
	if len(compared) == 0 {
		return ""
	}
	return "the shape compares " + strings.Join(compared, ", ") + " (the page and its count)"
}

func sortedReason(compared, sorted []string) string {
	switch {
	case len(sorted) == 0:
		return ""
	case len(compared) == 0:
		return "the shape sorts by " + strings.Join(sorted, ", ")
	}
	return " and sorts by " + strings.Join(sorted, ", ")
}
