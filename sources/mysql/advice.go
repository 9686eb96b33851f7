package mysql

import (
	"context"
	"fmt"
	"time"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/sources"
)

var _ sources.IndexAdvisor = (*Source)(nil)

// AdviseIndexes lists the columns Salesforce's related lists filter on (a
// foreign key, or a key column of a composite key after the first) that
// begin no index of their table. InnoDB indexes each foreign key it
// enforces itself; tables of other engines, and references the database
// does not declare, may lack one. Neither server has an index that serves
// contains() or $search (see docs/mysql.md), so none is advised for them.
func (s *Source) AdviseIndexes(ctx context.Context) ([]metadata.IndexAdvice, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `
		SELECT DISTINCT k.TABLE_NAME, k.COLUMN_NAME, coalesce(t.TABLE_ROWS, 0) FROM information_schema.KEY_COLUMN_USAGE k
		JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = k.TABLE_SCHEMA AND t.TABLE_NAME = k.TABLE_NAME
		WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS i WHERE i.TABLE_SCHEMA = k.TABLE_SCHEMA
		                  AND i.TABLE_NAME = k.TABLE_NAME AND i.COLUMN_NAME = k.COLUMN_NAME AND i.SEQ_IN_INDEX = 1)
		ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	sets := map[string]string{}
	for _, es := range s.Metadata().Sets {
		if !es.IsView {
			sets[es.Table] = es.Name
		}
	}
	var out []metadata.IndexAdvice
	d := dialect{}
	for rows.Next() {
		var table, column string
		var n int64 // InnoDB's estimate, from its statistics
		if err := rows.Scan(&table, &column, &n); err != nil {
			return nil, err
		}
		set, served := sets[table]
		if !served {
			continue
		}
		name := fmt.Sprintf("%s_%s_idx", table, column)
		out = append(out, metadata.IndexAdvice{Set: set, Table: table, Column: column,
			Reason: "related lists filter on this foreign key", Rows: n,
			SQL: fmt.Sprintf("CREATE INDEX %s ON %s (%s) ALGORITHM=INPLACE LOCK=NONE;", d.QuoteIdent(name), d.QuoteIdent(table), d.QuoteIdent(column))})
	}
	return out, rows.Err()
}
