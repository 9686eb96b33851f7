package sources

import (
	"database/sql"
	"fmt"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources/convert"
)

// SQLRows adapts database/sql rows whose columns are the query's columns
// followed by its sort keys, converting each value to its Edm type.
type SQLRows struct {
	rows   *sql.Rows
	types  []metadata.Type // one per result column
	nVals  int
	raw    []any
	ptrs   []any
	values []any
	sort   []any
	err    error
	conv   func(any, metadata.Type) (any, error)
}

// NewSQLRows wraps rows; types lists the Edm type of every result column
// and nValues how many of them are values (the rest are sort keys).
func NewSQLRows(rows *sql.Rows, types []metadata.Type, nValues int) *SQLRows {
	return NewSQLRowsConverting(rows, types, nValues, convert.To)
}

// NewSQLRowsConverting is NewSQLRows with a kind's own converter, for the
// driver types the shared one does not know.
func NewSQLRowsConverting(rows *sql.Rows, types []metadata.Type, nValues int, conv func(any, metadata.Type) (any, error)) *SQLRows {
	r := &SQLRows{rows: rows, types: types, nVals: nValues, raw: make([]any, len(types)), ptrs: make([]any, len(types)), conv: conv}
	for i := range r.raw {
		r.ptrs[i] = &r.raw[i]
	}
	return r
}

func (r *SQLRows) Next() bool {
	if r.err != nil || !r.rows.Next() {
		return false
	}
	if err := r.rows.Scan(r.ptrs...); err != nil {
		r.err = err
		return false
	}
	out := append([]any(nil), r.raw...)
	if err := ConvertRow(out, r.types, r.conv); err != nil {
		r.err = err
		return false
	}
	r.values, r.sort = out[:r.nVals], out[r.nVals:]
	return true
}

// ConvertRow converts, in place, one row of driver values to the Edm types
// of its columns.
func ConvertRow(row []any, types []metadata.Type, conv func(any, metadata.Type) (any, error)) error {
	for i, v := range row {
		c, err := conv(v, types[i])
		if err != nil {
			return fmt.Errorf("column %d: %w", i+1, err)
		}
		row[i] = c
	}
	return nil
}

// ResultTypes lists the Edm type of every column a query returns: its
// columns, then its sort keys.
func ResultTypes(q *plan.Query) []metadata.Type {
	types := make([]metadata.Type, 0, len(q.Columns)+len(q.OrderBy))
	for _, c := range q.Columns {
		types = append(types, c.Type)
	}
	for _, o := range q.OrderBy {
		types = append(types, o.Expr.Type())
	}
	return types
}

func (r *SQLRows) Values() []any { return r.values }
func (r *SQLRows) Sort() []any   { return r.sort }

func (r *SQLRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

func (r *SQLRows) Close() { r.rows.Close() }
