package sources

import (
	"database/sql"
	"fmt"

	"github.com/odatagw/odatagw/metadata"
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
}

// NewSQLRows wraps rows; types lists the Edm type of every result column
// and nValues how many of them are values (the rest are sort keys).
func NewSQLRows(rows *sql.Rows, types []metadata.Type, nValues int) *SQLRows {
	r := &SQLRows{rows: rows, types: types, nVals: nValues, raw: make([]any, len(types)), ptrs: make([]any, len(types))}
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
	out := make([]any, len(r.raw))
	for i, v := range r.raw {
		c, err := convert.To(v, r.types[i])
		if err != nil {
			r.err = fmt.Errorf("column %d: %w", i+1, err)
			return false
		}
		out[i] = c
	}
	r.values, r.sort = out[:r.nVals], out[r.nVals:]
	return true
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
