package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
)

var _ sources.Writer = (*Source)(nil)

// queryRow runs a statement that returns at most one row of every property.
func queryRow(ctx context.Context, tx pgx.Tx, set *metadata.EntitySet, sql string, args []any) ([]any, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, sources.ErrNotFound
	}
	raw, err := rows.Values()
	if err != nil {
		return nil, err
	}
	if err := sources.ConvertRow(raw, sources.RowTypes(set), toEdm); err != nil {
		return nil, err
	}
	rows.Close()
	return raw, rows.Err()
}

// txRetry retries transactions that met a serialization failure or a
// deadlock.
var txRetry = sources.TxRetry{Conflict: retryable, Map: mapError,
	Exhausted: "the change collided with other changes to the same rows too often; try again"}

// inTx runs fn in one transaction, again when PostgreSQL reports a
// serialization failure or deadlock, a bounded number of times.
func (s *Source) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout)
	defer cancel()
	body := func(tx pgx.Tx) error {
		if c, ok := sources.CallerOf(ctx); ok {
			if err := assume(ctx, tx, c); err != nil {
				return err
			}
		}
		return fn(tx)
	}
	if s.standbys == nil {
		return txRetry.Run(ctx, func() error { return pgx.BeginFunc(ctx, s.pool, body) })
	}
	return txRetry.Run(ctx, func() error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		if err := pgx.BeginFunc(ctx, conn, body); err != nil {
			return err
		}
		// the position after the commit, read on the connection that
		// committed: no standby serves a read until it has replayed it
		var pos int64
		if err := conn.QueryRow(ctx, primaryPosSQL).Scan(&pos); err != nil {
			s.standbys.unsure(err)
			return nil
		}
		s.standbys.wrote(ctx, uint64(pos))
		return nil
	})
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// txWriter writes inside one open transaction. A serialization failure or
// deadlock dooms the transaction: the writer remembers it, reports 503 to
// its caller, and atomically then retries the whole transaction.
type txWriter struct {
	sources.TxErrors
	s  *Source
	tx pgx.Tx
}

var (
	_ sources.Writer     = (*txWriter)(nil)
	_ sources.Executor   = (*txWriter)(nil)
	_ sources.Transactor = (*Source)(nil)
)

// atomically runs fn in one transaction, retried as a whole after a
// conflict any of its writes met.
func (s *Source) atomically(ctx context.Context, fn func(w *txWriter) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		w := &txWriter{s: s, tx: tx}
		err := fn(w)
		if w.Conflict != nil {
			return w.Conflict
		}
		return err
	})
}

// Atomically runs every write of fn in one transaction.
func (s *Source) Atomically(ctx context.Context, fn func(sources.Writer) error) error {
	return s.atomically(ctx, func(w *txWriter) error { return fn(w) })
}

func (w *txWriter) Insert(ctx context.Context, set *metadata.EntitySet, values []plan.Assignment) ([]any, error) {
	row, err := sources.InsertRow(ctx, w, w.s.dialect, set, values)
	return row, w.mapInTx(ctx, err, set)
}

func (w *txWriter) Update(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment, check func([]any) error) ([]any, error) {
	row, err := sources.UpdateRow(ctx, w, w.s.dialect, set, key, values, check)
	return row, w.mapInTx(ctx, err, set)
}

func (w *txWriter) Delete(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, check func([]any) error) error {
	return w.mapInTx(ctx, sources.DeleteRow(ctx, w, w.s.dialect, set, key, check), set)
}

// QueryRow runs a statement that returns at most one row of every property.
func (w *txWriter) QueryRow(ctx context.Context, set *metadata.EntitySet, sql string, args []any) ([]any, error) {
	return queryRow(ctx, w.tx, set, sql, args)
}

// Exec runs a statement that returns no rows.
func (w *txWriter) Exec(ctx context.Context, sql string, args []any) error {
	_, err := w.tx.Exec(ctx, sql, args...)
	return err
}

// mapInTx maps a database error inside a transaction.
func (w *txWriter) mapInTx(ctx context.Context, err error, set *metadata.EntitySet) error {
	return w.Map(err, retryable, func(err error) error { return w.s.mapWriteError(ctx, err, set) })
}

// detailColumns reads the column list of a constraint violation's detail:
// Key (a, b)=(1, 2) already exists.
var detailColumns = regexp.MustCompile(`^Key \((.+?)\)=`)

// propertiesOf maps database column names to the set's property names.
func propertiesOf(set *metadata.EntitySet, cols []string) []string {
	var out []string
	for _, c := range cols {
		c = strings.Trim(strings.TrimSpace(c), `"`)
		name := c
		for _, p := range set.Type.Properties {
			if p.Column == c {
				name = p.Name
			}
		}
		out = append(out, name)
	}
	return out
}

// mapWriteError turns a failed write into a message that says what to
// change: which property, which constraint. SQL stays in the log.
func (s *Source) mapWriteError(ctx context.Context, err error, set *metadata.EntitySet) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return mapError(ctx, err)
	}
	var props []string
	if m := detailColumns.FindStringSubmatch(pgErr.Detail); m != nil {
		props = propertiesOf(set, strings.Split(m[1], ","))
	}
	if pgErr.ColumnName != "" {
		props = propertiesOf(set, []string{pgErr.ColumnName})
	}
	target := ""
	if len(props) > 0 {
		target = props[0]
	}
	e := func(status int, code, format string, args ...any) error {
		return &odata.Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...), Target: target, Cause: err}
	}
	switch pgErr.Code {
	case "23505":
		return e(409, odata.CodeConflict, "%s already has an entity with the same %s (unique constraint %s); choose another value",
			set.Name, strings.Join(props, ", "), pgErr.ConstraintName)
	case "23503":
		if strings.Contains(pgErr.Detail, "still referenced") {
			return e(409, odata.CodeConflict, "this %s entity is still referenced from %s (foreign key %s); remove or change those first",
				set.Name, pgErr.TableName, pgErr.ConstraintName)
		}
		return e(409, odata.CodeConflict, "%s does not name an existing row (foreign key %s); use a value that exists",
			strings.Join(props, ", "), pgErr.ConstraintName)
	case "23502":
		return e(400, odata.CodeInvalidValue, "%s cannot be empty", target)
	case "23514":
		return e(400, odata.CodeInvalidValue, "the values break the rule %s of %s; check them", pgErr.ConstraintName, set.Name)
	case "23P01":
		return e(409, odata.CodeConflict, "the values overlap another %s entity (exclusion constraint %s)", set.Name, pgErr.ConstraintName)
	case "42501":
		return e(403, odata.CodeForbidden, "the gateway's database user may not change %s", set.Name)
	case "25006":
		return e(403, odata.CodeForbidden, "the database is read-only")
	}
	if strings.HasPrefix(pgErr.Code, "22") {
		return e(400, odata.CodeInvalidValue, "a value does not fit the database: %s", pgErr.Message)
	}
	return mapError(ctx, err)
}
