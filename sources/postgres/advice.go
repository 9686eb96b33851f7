package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

var _ sources.IndexAdvisor = (*Source)(nil)

// index is one existing index, as the catalogue describes it.
type index struct {
	method    string   // btree, gin, gist, ...
	columns   []string // "" for an expression
	opclasses []string
}

// AdviseIndexes compares what Salesforce's traffic asks of each served
// table with the indexes the table has: a trigram index for each column
// that $search and contains() read, a B-tree with the pattern operator
// class for startswith() on the same columns, a B-tree for each foreign key (related
// lists filter on it), and one for the key the pages are sorted by.
func (s *Source) AdviseIndexes(ctx context.Context) ([]metadata.IndexAdvice, error) {
	// the catalogue answers at once: its own bound, not the statement
	// timeout (which may just have cut the request asking)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	svc := s.Metadata()
	schemas := map[string]bool{}
	for _, es := range svc.Sets {
		schemas[es.Schema] = true
	}
	var names []string
	for n := range schemas {
		names = append(names, n)
	}
	indexes, err := s.indexes(ctx, names)
	if err != nil {
		return nil, err
	}
	fks, err := s.foreignKeys(ctx, names)
	if err != nil {
		return nil, err
	}
	rows, err := s.tableRows(ctx, names)
	if err != nil {
		return nil, err
	}
	var trgm bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')`).Scan(&trgm); err != nil {
		return nil, mapError(ctx, err)
	}
	needs := ""
	if !trgm {
		needs = "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
	}
	// in the C collation any B-tree serves LIKE 'prefix%'; in others only
	// one built with the pattern operator class does
	var collate string
	if err := s.pool.QueryRow(ctx, `SELECT datcollate FROM pg_database WHERE datname = current_database()`).Scan(&collate); err != nil {
		return nil, mapError(ctx, err)
	}
	prefix := pattern
	if collate == "C" || collate == "POSIX" {
		prefix = btree
	}
	var out []metadata.IndexAdvice
	for _, es := range svc.Sets {
		if es.IsView {
			continue // a view's indexes are its tables'
		}
		table := es.Schema + "." + es.Table
		have := indexes[table]
		from := len(out)
		qt := s.dialect.Table(es.Schema, es.Table)
		for _, p := range es.SearchedProperties() {
			if !trigramType(p.DBType) || servedBy(have, []string{p.Column}, trigram) {
				continue
			}
			out = append(out, metadata.IndexAdvice{Set: es.Name, Table: table, Column: p.Column, Needs: needs,
				Reason: "$search and contains(), startswith(), endswith() read " + p.Name + ": Salesforce's search and SOQL LIKE",
				SQL: fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s USING gin (%s gin_trgm_ops);",
					s.dialect.QuoteIdent(indexName(es.Table, p.Column, "trgm")), qt, s.dialect.QuoteIdent(p.Column))})
		}
		for _, p := range es.SearchedProperties() {
			if !trigramType(p.DBType) || servedBy(have, []string{p.Column}, prefix) {
				continue
			}
			out = append(out, metadata.IndexAdvice{Set: es.Name, Table: table, Column: p.Column,
				Reason: "startswith() reads " + p.Name + " (SOQL LIKE 'abc%'): a B-tree finds a prefix's rows as a range, where the trigram index gathers every row holding its trigrams (on ten million rows, 5.5 ms against 71 ms for a prefix of 5,000 rows)",
				SQL: fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s text_pattern_ops);",
					s.dialect.QuoteIdent(indexName(es.Table, p.Column, "prefix")), qt, s.dialect.QuoteIdent(p.Column))})
		}
		for _, fk := range fks[table] {
			if servedBy(have, fk, btree) {
				continue
			}
			out = append(out, metadata.IndexAdvice{Set: es.Name, Table: table, Column: strings.Join(fk, ", "),
				Reason: "a foreign key: Salesforce's related lists filter on it",
				SQL:    btreeSQL(s, es, fk, indexName(es.Table, strings.Join(fk, "_"), "fk"))})
		}
		key := make([]string, len(es.Type.Key))
		for i, k := range es.Type.Key {
			key[i] = k.Column
		}
		if !servedBy(have, key, btree) {
			out = append(out, metadata.IndexAdvice{Set: es.Name, Table: table, Column: strings.Join(key, ", "),
				Reason: "the key: every page is sorted by it, and records are read by it",
				SQL:    btreeSQL(s, es, key, indexName(es.Table, strings.Join(key, "_"), "key"))})
		}
		if len(out) > from {
			n, err := rows(es)
			if err != nil {
				return nil, err
			}
			for i := from; i < len(out); i++ {
				out[i].Rows = n
			}
		}
	}
	return out, nil
}

// tableRows returns how many rows a served table holds: the planner's
// estimate (pg_class.reltuples), or where the table was never analysed
// (-1) a count that stops at metadata.CountRowsUpTo.
func (s *Source) tableRows(ctx context.Context, schemas []string) (func(*metadata.EntitySet) (int64, error), error) {
	estimates := map[string]int64{}
	rows, err := s.pool.Query(ctx, `
		SELECT n.nspname || '.' || c.relname, c.reltuples::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'm', 'f') AND n.nspname = ANY($1)`, schemas)
	if err != nil {
		return nil, mapError(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var n int64
		if err := rows.Scan(&table, &n); err != nil {
			return nil, mapError(ctx, err)
		}
		estimates[table] = n
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(ctx, err)
	}
	return func(es *metadata.EntitySet) (int64, error) {
		if n, ok := estimates[es.Schema+"."+es.Table]; ok && n >= 0 {
			return n, nil
		}
		var n int64
		err := s.pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d) t",
			s.dialect.Table(es.Schema, es.Table), metadata.CountRowsUpTo)).Scan(&n)
		if err != nil {
			return 0, mapError(ctx, err)
		}
		return n, nil
	}, nil
}

func btreeSQL(s *Source, es *metadata.EntitySet, cols []string, name string) string {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = s.dialect.QuoteIdent(c)
	}
	return fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s);",
		s.dialect.QuoteIdent(name), s.dialect.Table(es.Schema, es.Table), strings.Join(quoted, ", "))
}

// indexName is a name for an advised index within PostgreSQL's 63 bytes.
func indexName(table, cols, kind string) string {
	n := table + "_" + cols + "_" + kind
	if len(n) > 63 {
		n = n[:63]
	}
	return n
}

// trigramType reports column types pg_trgm's operator classes take: text
// and varchar (char(n) and types read as text are not).
func trigramType(dbType string) bool {
	t := strings.ToLower(dbType)
	return t == "text" || strings.HasPrefix(t, "character varying") || strings.HasPrefix(t, "varchar")
}

func trigram(ix index) bool {
	return (ix.method == "gin" || ix.method == "gist") && len(ix.opclasses) > 0 && strings.Contains(ix.opclasses[0], "trgm")
}

func btree(ix index) bool { return ix.method == "btree" }

// pattern is a B-tree whose first column uses a pattern operator class
// (text_pattern_ops, varchar_pattern_ops): LIKE 'prefix%' becomes a range
// on it whatever the collation.
func pattern(ix index) bool {
	return ix.method == "btree" && len(ix.opclasses) > 0 && strings.Contains(ix.opclasses[0], "pattern_ops")
}

// servedBy reports whether an index of the kind leads with cols.
func servedBy(have []index, cols []string, kind func(index) bool) bool {
	for _, ix := range have {
		if kind(ix) && len(ix.columns) >= len(cols) && slices.Equal(ix.columns[:len(cols)], cols) {
			return true
		}
		// a trigram index on several columns serves each of them
		if kind(ix) && len(cols) == 1 && ix.method != "btree" && slices.Contains(ix.columns, cols[0]) {
			return true
		}
	}
	return false
}

func (s *Source) indexes(ctx context.Context, schemas []string) (map[string][]index, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT n.nspname || '.' || c.relname, am.amname,
		       array(SELECT coalesce(a.attname, '') FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
		             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord),
		       array(SELECT opc.opcname FROM unnest(ix.indclass::oid[]) WITH ORDINALITY k(oid, ord)
		             JOIN pg_opclass opc ON opc.oid = k.oid ORDER BY k.ord)
		FROM pg_index ix
		JOIN pg_class c ON c.oid = ix.indrelid
		JOIN pg_class i ON i.oid = ix.indexrelid
		JOIN pg_am am ON am.oid = i.relam
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = ANY($1) AND ix.indpred IS NULL`, schemas)
	if err != nil {
		return nil, mapError(ctx, err)
	}
	defer rows.Close()
	out := map[string][]index{}
	for rows.Next() {
		var table string
		var ix index
		if err := rows.Scan(&table, &ix.method, &ix.columns, &ix.opclasses); err != nil {
			return nil, mapError(ctx, err)
		}
		out[table] = append(out[table], ix)
	}
	return out, rows.Err()
}

func (s *Source) foreignKeys(ctx context.Context, schemas []string) (map[string][][]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT n.nspname || '.' || c.relname,
		       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
		             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord)
		FROM pg_constraint con
		JOIN pg_class c ON c.oid = con.conrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE con.contype = 'f' AND n.nspname = ANY($1)
		ORDER BY 1, 2`, schemas)
	if err != nil {
		return nil, mapError(ctx, err)
	}
	defer rows.Close()
	out := map[string][][]string{}
	for rows.Next() {
		var table string
		var cols []string
		if err := rows.Scan(&table, &cols); err != nil {
			return nil, mapError(ctx, err)
		}
		out[table] = append(out[table], cols)
	}
	return out, rows.Err()
}
