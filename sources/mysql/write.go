package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

var _ sources.Writer = (*Source)(nil)

// txRetry retries transactions that met a deadlock or waited too long for
// a lock.
var txRetry = sources.TxRetry{Conflict: retryable, Map: mapError,
	Exhausted: "the change collided with other changes to the same rows too often; try again"}

func retryable(err error) bool {
	me, ok := serverError(err)
	return ok && (me.Number == erLockDeadlock || me.Number == erLockWaitTimeout)
}

// inTx runs fn in one transaction, again after a deadlock or lock wait
// timeout, a bounded number of times.
func (s *Source) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	return sources.RunSQLTx(ctx, s.db, txRetry, fn)
}

// txWriter writes inside one open transaction. A deadlock dooms the
// transaction: the writer remembers it and atomically retries the whole.
type txWriter struct {
	sources.TxErrors
	sources.SQLExecutor
	s *Source
}

var (
	_ sources.Writer     = (*txWriter)(nil)
	_ sources.Executor   = (*txWriter)(nil)
	_ sources.Transactor = (*Source)(nil)
)

func (s *Source) atomically(ctx context.Context, fn func(w *txWriter) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		w := &txWriter{s: s, SQLExecutor: sources.SQLExecutor{Tx: tx, Conv: toEdm}}
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
	row, err := w.insert(ctx, set, values)
	return row, w.mapInTx(ctx, err, set)
}

// insert uses RETURNING where the server has it (MariaDB); MySQL's row is
// read back, in the same transaction, by its key: the values given, or
// LAST_INSERT_ID() for an AUTO_INCREMENT column.
func (w *txWriter) insert(ctx context.Context, set *metadata.EntitySet, values []plan.Assignment) ([]any, error) {
	d := w.s.dialect
	if d.returning {
		return sources.InsertRow(ctx, w, d, set, values)
	}
	text, args := sqlgen.InsertOnly(d, set, values)
	res, err := w.Tx.ExecContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	key, err := insertedKey(set, values, res)
	if err != nil {
		return nil, err
	}
	text, args = sqlgen.LockRow(d, set, key)
	return w.QueryRow(ctx, set, text, args)
}

// insertedKey is the key of the row an INSERT added.
func insertedKey(set *metadata.EntitySet, values []plan.Assignment, res sql.Result) ([]plan.KeyValue, error) {
	key := make([]plan.KeyValue, len(set.Type.Key))
	for i, p := range set.Type.Key {
		key[i].Prop = p
		found := false
		for _, a := range values {
			if a.Prop == p && !a.Default && a.Value != nil {
				key[i].Value, found = a.Value, true
			}
		}
		if found {
			continue
		}
		if !p.Type.IsInteger() {
			return nil, odata.BadRequest(odata.CodeInvalidValue, "%s needs a value: the database assigns it, and MySQL cannot tell the gateway which", p.Name)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		key[i].Value = id
	}
	return key, nil
}

func (w *txWriter) Update(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment, check func([]any) error) ([]any, error) {
	row, err := w.update(ctx, set, key, values, check)
	return row, w.mapInTx(ctx, err, set)
}

// update locks and checks the row, changes it, and reads it back (neither
// server returns rows from UPDATE).
func (w *txWriter) update(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment, check func([]any) error) ([]any, error) {
	d := w.s.dialect
	current, err := sources.LockAndCheck(ctx, w, d, set, key, check)
	if err != nil || len(values) == 0 {
		return current, err
	}
	text, args := sqlgen.UpdateOnly(d, set, key, values)
	if err := w.Exec(ctx, text, args); err != nil {
		return nil, err
	}
	after := make([]plan.KeyValue, len(key))
	copy(after, key)
	for i := range after {
		for _, a := range values {
			if a.Prop == after[i].Prop && !a.Default {
				after[i].Value = a.Value
			}
		}
	}
	text, args = sqlgen.LockRow(d, set, after)
	return w.QueryRow(ctx, set, text, args)
}

func (w *txWriter) Delete(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, check func([]any) error) error {
	return w.mapInTx(ctx, sources.DeleteRow(ctx, w, w.s.dialect, set, key, check), set)
}

// mapInTx maps a database error inside a transaction.
func (w *txWriter) mapInTx(ctx context.Context, err error, set *metadata.EntitySet) error {
	return w.Map(err, retryable, func(err error) error { return w.mapWriteError(ctx, err, set) })
}

var (
	// quotedColumn reads the column of "Column 'x' cannot be null", "Data
	// too long for column 'x' at row 1", "Field 'x' doesn't have a default
	// value" and the like.
	quotedColumn = regexp.MustCompile(`(?:[Cc]olumn|Field) '([^']+)'`)
	// duplicateKey reads the index of "Duplicate entry '1' for key 'PRIMARY'"
	// (MySQL 8 writes 'table.index').
	duplicateKey = regexp.MustCompile(`for key '([^']+)'`)
	// constraintName reads "CONSTRAINT `name` failed" (MariaDB) and "Check
	// constraint 'name' is violated" (MySQL), and the name of a foreign key.
	constraintName = regexp.MustCompile("CONSTRAINT [`']([^`']+)[`']|[Cc]onstraint '([^']+)'")
)

// propertyOf maps a column name to the set's property name.
func propertyOf(set *metadata.EntitySet, col string) string {
	for _, p := range set.Type.Properties {
		if p.Column == col {
			return p.Name
		}
	}
	return col
}

// mapWriteError turns a failed write into a message that says what to
// change: which property, which constraint. SQL stays in the log.
func (w *txWriter) mapWriteError(ctx context.Context, err error, set *metadata.EntitySet) error {
	me, ok := serverError(err)
	if !ok {
		return mapError(ctx, err)
	}
	target := ""
	if m := quotedColumn.FindStringSubmatch(me.Message); m != nil {
		target = propertyOf(set, m[1])
	}
	constraint := ""
	if m := constraintName.FindStringSubmatch(me.Message); m != nil {
		constraint = m[1] + m[2]
	}
	e := func(status int, code, format string, args ...any) error {
		return &odata.Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...), Target: target, Cause: err}
	}
	switch me.Number {
	case erDupEntry:
		props := w.indexProperties(ctx, set, me.Message)
		if len(props) > 0 {
			target = props[0]
		}
		return e(409, odata.CodeConflict, "%s already has an entity with the same %s; choose another value", set.Name, strings.Join(props, ", "))
	case erRowIsReferenced, erRowIsReferencedOld:
		return e(409, odata.CodeConflict, "this %s entity is still referenced from another table (foreign key %s); remove or change those first", set.Name, constraint)
	case erNoReferencedRow, erNoReferencedRowOld:
		return e(409, odata.CodeConflict, "a value does not name an existing row (foreign key %s); use a value that exists", constraint)
	case erBadNull, erNoDefault:
		return e(400, odata.CodeInvalidValue, "%s cannot be empty", target)
	case erCheckMySQL, erCheckMariaDB:
		target = ""
		return e(400, odata.CodeInvalidValue, "the values break the rule %s of %s; check them", constraint, set.Name)
	case erDataTooLong:
		return e(400, odata.CodeInvalidValue, "%s is too long for the database column", target)
	case erOutOfRange, erTruncated, erWrongValue, erIncorrectValue, erDivByZero:
		return e(400, odata.CodeInvalidValue, "a value does not fit the database: %s", me.Message)
	case erTableAccessDenied, erColumnAccessDenied:
		return e(403, odata.CodeForbidden, "the gateway's database user may not change %s", set.Name)
	case erReadOnlyTransaction:
		return e(403, odata.CodeForbidden, "the database is read-only")
	}
	return mapError(ctx, err)
}

// indexProperties names the properties of the unique index a duplicate
// entry broke: the key's for PRIMARY, else the index's columns as the
// server lists them.
func (w *txWriter) indexProperties(ctx context.Context, set *metadata.EntitySet, msg string) []string {
	m := duplicateKey.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	index := m[1]
	if i := strings.LastIndex(index, "."); i >= 0 {
		index = index[i+1:]
	}
	if index == "PRIMARY" {
		var out []string
		for _, p := range set.Type.Key {
			out = append(out, p.Name)
		}
		return out
	}
	rows, err := w.Tx.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = ? ORDER BY SEQ_IN_INDEX`, set.Table, index)
	if err != nil {
		return []string{index}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c sql.NullString
		if rows.Scan(&c) == nil && c.Valid {
			out = append(out, propertyOf(set, c.String))
		}
	}
	if len(out) == 0 {
		return []string{index}
	}
	return out
}
