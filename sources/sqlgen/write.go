package sqlgen

import (
	"strings"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
)

// WriteDialect is what writes need beyond reads.
type WriteDialect interface {
	Dialect
	// AssignValue wraps a placeholder so it can be stored in p's column.
	AssignValue(p *metadata.Property, placeholder string) string
	// DefaultValue is what a column is set to when an update asks for its default.
	DefaultValue(p *metadata.Property) string
	// LockSuffix ends a SELECT that must lock the row it reads.
	LockSuffix() string
}

// returning lists every property of the set, read as for a query.
func returning(d Dialect, set *metadata.EntitySet) string {
	cols := make([]string, len(set.Type.Properties))
	for i, p := range set.Type.Properties {
		cols[i] = d.Column(p)
	}
	return strings.Join(cols, ", ")
}

// Insert renders INSERT ... RETURNING every property.
func Insert(d WriteDialect, set *metadata.EntitySet, values []plan.Assignment) (string, []any) {
	text, args := InsertOnly(d, set, values)
	return text + " RETURNING " + returning(d, set), args
}

// InsertOnly renders the INSERT alone, for databases without RETURNING
// (which read the row back by its key).
func InsertOnly(d WriteDialect, set *metadata.EntitySet, values []plan.Assignment) (string, []any) {
	b := &Builder{d: d}
	table := d.Table(set.Schema, set.Table)
	if len(values) == 0 {
		if _, ok := d.(PositionalParams); ok {
			return "INSERT INTO " + table + " () VALUES ()", nil // MySQL's spelling
		}
		return "INSERT INTO " + table + " DEFAULT VALUES", nil
	}
	cols := make([]string, 0, len(values))
	vals := make([]string, 0, len(values))
	for _, a := range values {
		cols = append(cols, d.QuoteIdent(a.Prop.Column))
		vals = append(vals, b.assigned(a))
	}
	return b.done("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")")
}

func (b *Builder) assigned(a plan.Assignment) string {
	d := b.d.(WriteDialect)
	switch {
	case a.Default:
		return d.DefaultValue(a.Prop)
	case a.Value == nil:
		return "NULL"
	}
	return d.AssignValue(a.Prop, b.Arg(a.Value, a.Prop.Type))
}

func (b *Builder) keyWhere(key []plan.KeyValue) string {
	s, _ := b.expr(plan.KeyExpr(key))
	return s
}

// LockRow renders the SELECT that reads (and locks) the row with the key.
func LockRow(d WriteDialect, set *metadata.EntitySet, key []plan.KeyValue) (string, []any) {
	b := &Builder{d: d}
	w := b.keyWhere(key)
	return b.done("SELECT " + returning(d, set) + " FROM " + d.Table(set.Schema, set.Table) + " WHERE " + w + d.LockSuffix())
}

// Update renders UPDATE ... RETURNING every property.
func Update(d WriteDialect, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment) (string, []any) {
	text, args := UpdateOnly(d, set, key, values)
	return text + " RETURNING " + returning(d, set), args
}

// UpdateOnly renders the UPDATE alone, for databases without RETURNING.
func UpdateOnly(d WriteDialect, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment) (string, []any) {
	b := &Builder{d: d}
	sets := make([]string, len(values))
	for i, a := range values {
		sets[i] = d.QuoteIdent(a.Prop.Column) + " = " + b.assigned(a)
	}
	w := b.keyWhere(key)
	return b.done("UPDATE " + d.Table(set.Schema, set.Table) + " SET " + strings.Join(sets, ", ") + " WHERE " + w)
}

// Delete renders DELETE of the row with the key.
func Delete(d WriteDialect, set *metadata.EntitySet, key []plan.KeyValue) (string, []any) {
	b := &Builder{d: d}
	w := b.keyWhere(key)
	return b.done("DELETE FROM " + d.Table(set.Schema, set.Table) + " WHERE " + w)
}
