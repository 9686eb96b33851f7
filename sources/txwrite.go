package sources

import (
	"context"
	"errors"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

// Executor runs statements inside one open transaction, for the write
// steps every SQL source kind shares.
type Executor interface {
	// QueryRow runs a statement that returns at most one row of every
	// property of set, converted to Edm values; ErrNotFound when none.
	QueryRow(ctx context.Context, set *metadata.EntitySet, sql string, args []any) ([]any, error)
	// Exec runs a statement that returns no rows.
	Exec(ctx context.Context, sql string, args []any) error
}

// RowTypes lists the Edm type of every property of a set, in order.
func RowTypes(set *metadata.EntitySet) []metadata.Type {
	types := make([]metadata.Type, len(set.Type.Properties))
	for i, p := range set.Type.Properties {
		types[i] = p.Type
	}
	return types
}

// InsertRow inserts a row and reads it back.
func InsertRow(ctx context.Context, ex Executor, d sqlgen.WriteDialect, set *metadata.EntitySet, values []plan.Assignment) ([]any, error) {
	sql, args := sqlgen.Insert(d, set, values)
	return ex.QueryRow(ctx, set, sql, args)
}

// LockAndCheck reads and locks the row with the key, and runs check on it.
func LockAndCheck(ctx context.Context, ex Executor, d sqlgen.WriteDialect, set *metadata.EntitySet, key []plan.KeyValue, check func([]any) error) ([]any, error) {
	sql, args := sqlgen.LockRow(d, set, key)
	current, err := ex.QueryRow(ctx, set, sql, args)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(current); err != nil {
			return nil, err
		}
	}
	return current, nil
}

// UpdateRow locks the row, checks it, applies values and reads it back.
func UpdateRow(ctx context.Context, ex Executor, d sqlgen.WriteDialect, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment, check func([]any) error) ([]any, error) {
	current, err := LockAndCheck(ctx, ex, d, set, key, check)
	if err != nil || len(values) == 0 {
		return current, err
	}
	sql, args := sqlgen.Update(d, set, key, values)
	return ex.QueryRow(ctx, set, sql, args)
}

// DeleteRow locks the row, checks it and removes it.
func DeleteRow(ctx context.Context, ex Executor, d sqlgen.WriteDialect, set *metadata.EntitySet, key []plan.KeyValue, check func([]any) error) error {
	if _, err := LockAndCheck(ctx, ex, d, set, key, check); err != nil {
		return err
	}
	sql, args := sqlgen.Delete(d, set, key)
	return ex.Exec(ctx, sql, args)
}

// TxErrors maps the errors of writes inside one transaction, the same way
// for every kind: errors the write steps raise themselves (*odata.Error,
// ErrNotFound) pass through; a conflict the database resolves by aborting
// (deadlock, serialization failure, busy) dooms the transaction, is
// remembered in Conflict so that the transaction is tried again whole, and
// is reported as 503 meanwhile; anything else goes to the kind's mapping.
type TxErrors struct {
	Conflict error
}

// Map applies the rules; isConflict and mapErr are the kind's.
func (t *TxErrors) Map(err error, isConflict func(error) bool, mapErr func(error) error) error {
	var oe *odata.Error
	switch {
	case err == nil || errors.Is(err, ErrNotFound) || errors.As(err, &oe):
		return err
	case isConflict(err):
		t.Conflict = err
		return &odata.Error{Status: 503, Code: odata.CodeUnavailable, Cause: err,
			Message: "the change collided with other changes; it is tried again"}
	}
	return mapErr(err)
}
