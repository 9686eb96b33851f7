package sources

import (
	"context"
	"database/sql"

	"github.com/odatagw/odatagw/metadata"
)

// The pieces database/sql kinds (SQLite, MySQL) share: a transaction run
// and retried as TxRetry says, the write steps' Executor over it, and a
// query's rows with their own deadline.

// RunSQLTx runs fn in one transaction of db, again after a conflict
// retry recognises, a bounded number of times.
func RunSQLTx(ctx context.Context, db *sql.DB, retry TxRetry, fn func(*sql.Tx) error) error {
	return retry.Run(ctx, func() error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// SQLExecutor is the write steps' Executor over one open transaction,
// reading rows with the kind's converter.
type SQLExecutor struct {
	Tx   *sql.Tx
	Conv func(any, metadata.Type) (any, error)
}

// QueryRow runs a statement that returns at most one row of every property.
func (e SQLExecutor) QueryRow(ctx context.Context, set *metadata.EntitySet, text string, args []any) ([]any, error) {
	rows, err := e.Tx.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, ErrNotFound
	}
	raw := make([]any, len(set.Type.Properties))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	if err := ConvertRow(raw, RowTypes(set), e.Conv); err != nil {
		return nil, err
	}
	return raw, rows.Close()
}

// Exec runs a statement that returns no rows.
func (e SQLExecutor) Exec(ctx context.Context, text string, args []any) error {
	_, err := e.Tx.ExecContext(ctx, text, args...)
	return err
}

// DeadlineRows are a query's rows under a deadline of its own, ended by
// Close; their error is mapped by the kind, in the query's context.
type DeadlineRows struct {
	*SQLRows
	Ctx    context.Context
	Cancel context.CancelFunc
	MapErr func(context.Context, error) error
}

func (r *DeadlineRows) Err() error {
	if err := r.SQLRows.Err(); err != nil {
		return r.MapErr(r.Ctx, err)
	}
	return nil
}

func (r *DeadlineRows) Close() {
	r.SQLRows.Close()
	r.Cancel()
}
