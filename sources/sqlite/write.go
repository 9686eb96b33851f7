package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/convert"
)

var _ sources.Writer = (*Source)(nil)

// txRetry retries transactions while the database is busy with another
// writer.
var txRetry = sources.TxRetry{Conflict: busy, Map: mapError, Exhausted: "the database is busy with other changes; try again"}

// inTx runs fn in one IMMEDIATE transaction, again while the database is
// busy, a bounded number of times.
func (s *Source) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StatementTimeout)
	defer cancel()
	return sources.RunSQLTx(ctx, s.db, txRetry, fn)
}

func sqliteCode(err error) int {
	var se *sqlitedriver.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func busy(err error) bool {
	c := sqliteCode(err) & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// txWriter writes inside one open transaction. A busy database dooms the
// transaction: the writer remembers it and atomically retries the whole.
type txWriter struct {
	sources.TxErrors
	sources.SQLExecutor
}

var (
	_ sources.Writer     = (*txWriter)(nil)
	_ sources.Executor   = (*txWriter)(nil)
	_ sources.Transactor = (*Source)(nil)
)

func (s *Source) atomically(ctx context.Context, fn func(w *txWriter) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		w := &txWriter{SQLExecutor: sources.SQLExecutor{Tx: tx, Conv: convert.To}}
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
	row, err := sources.InsertRow(ctx, w, dialect{}, set, values)
	return row, w.mapInTx(ctx, err, set)
}

func (w *txWriter) Update(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment, check func([]any) error) ([]any, error) {
	row, err := sources.UpdateRow(ctx, w, dialect{}, set, key, values, check)
	return row, w.mapInTx(ctx, err, set)
}

func (w *txWriter) Delete(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, check func([]any) error) error {
	return w.mapInTx(ctx, sources.DeleteRow(ctx, w, dialect{}, set, key, check), set)
}

// mapInTx maps a database error inside a transaction.
func (w *txWriter) mapInTx(ctx context.Context, err error, set *metadata.EntitySet) error {
	return w.Map(err, busy, func(err error) error { return mapWriteError(ctx, err, set) })
}

// constraintColumns reads "UNIQUE constraint failed: T.a, T.b".
var constraintColumns = regexp.MustCompile(`constraint failed: ([^()]+)`)

func mapWriteError(ctx context.Context, err error, set *metadata.EntitySet) error {
	code := sqliteCode(err)
	var props []string
	if m := constraintColumns.FindStringSubmatch(err.Error()); m != nil {
		for _, part := range strings.Split(m[1], ",") {
			col := strings.TrimSpace(part)
			if i := strings.LastIndex(col, "."); i >= 0 {
				col = col[i+1:]
			}
			name := col
			for _, p := range set.Type.Properties {
				if p.Column == col {
					name = p.Name
				}
			}
			props = append(props, strings.TrimSpace(name))
		}
	}
	target := ""
	if len(props) > 0 {
		target = props[0]
	}
	e := func(status int, c, format string, args ...any) error {
		return &odata.Error{Status: status, Code: c, Message: fmt.Sprintf(format, args...), Target: target, Cause: err}
	}
	switch code {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return e(409, odata.CodeConflict, "%s already has an entity with the same %s; choose another value", set.Name, strings.Join(props, ", "))
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		target = ""
		return e(409, odata.CodeConflict, "the change breaks a reference between %s and another table (foreign key); a referenced row must exist, and a referenced row cannot be removed", set.Name)
	case sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return e(400, odata.CodeInvalidValue, "%s cannot be empty", target)
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		target = ""
		return e(400, odata.CodeInvalidValue, "the values break a rule of %s (%s); check them", set.Name, strings.Join(props, ", "))
	case sqlite3.SQLITE_READONLY:
		return e(403, odata.CodeForbidden, "the database file is read-only")
	}
	return mapError(ctx, err)
}
