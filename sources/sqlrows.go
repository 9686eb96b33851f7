package sources

import (
	"database/sql"
	"fmt"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources/convert"
)

// SQLRows adapts database/sql rows whose columns are the query's columns
// followed by the sort keys that are not among them, converting each
// value to its Edm type.
type SQLRows struct {
	rows  *sql.Rows
	types []metadata.Type // one per result column
	raw   []any
	ptrs  []any
	row   []any
	sort  SortKeys
	err   error
	conv  func(any, metadata.Type) (any, error)
}

// NewSQLRows wraps the rows of q's statement (sqlgen.Select).
func NewSQLRows(rows *sql.Rows, q *plan.Query) *SQLRows {
	return NewSQLRowsConverting(rows, q, convert.To)
}

// NewSQLRowsConverting is NewSQLRows with a kind's own converter, for the
// driver types the shared one does not know.
func NewSQLRowsConverting(rows *sql.Rows, q *plan.Query, conv func(any, metadata.Type) (any, error)) *SQLRows {
	types := ResultTypes(q)
	r := &SQLRows{rows: rows, types: types, raw: make([]any, len(types)), ptrs: make([]any, len(types)), conv: conv,
		sort: NewSortKeys(q)}
	for i := range r.raw {
		r.ptrs[i] = &r.raw[i]
	}
	return r
}

// SortKeys finds a row's sort keys, for the next skiptoken: in its
// columns, or among the values that follow them (plan.Query.SortColumns).
type SortKeys struct {
	from    []int
	nValues int
	buf     []any
}

// NewSortKeys is the layout of q's result rows.
func NewSortKeys(q *plan.Query) SortKeys {
	return SortKeys{from: q.SortColumns(), nValues: len(q.Columns), buf: make([]any, len(q.OrderBy))}
}

// Columns is the values of row's columns, without the extra sort values.
func (k *SortKeys) Columns(row []any) []any {
	if row == nil {
		return nil // no row read yet
	}
	return row[:k.nValues]
}

// Of is the sort keys of row (its columns and then the extra sort
// values). The slice is reused: it holds the last row asked about.
func (k *SortKeys) Of(row []any) []any {
	extra := k.nValues
	for i, c := range k.from {
		if c >= 0 {
			k.buf[i] = row[c]
		} else {
			k.buf[i] = row[extra]
			extra++
		}
	}
	return k.buf
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
	r.row = out
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
// columns, then the sort keys that are not among them.
func ResultTypes(q *plan.Query) []metadata.Type {
	types := make([]metadata.Type, 0, len(q.Columns)+len(q.OrderBy))
	for _, c := range q.Columns {
		types = append(types, c.Type)
	}
	for i, c := range q.SortColumns() {
		if c < 0 {
			types = append(types, q.OrderBy[i].Expr.Type())
		}
	}
	return types
}

func (r *SQLRows) Values() []any { return r.sort.Columns(r.row) }
func (r *SQLRows) Sort() []any   { return r.sort.Of(r.row) }

func (r *SQLRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

func (r *SQLRows) Close() { r.rows.Close() }
