package postgres

import (
	"context"
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odatagw/odatagw/odata"
	"github.com/odatagw/odatagw/sources"
)

// assume makes the rest of tx run as the caller: the role for the
// transaction (set_config('role', ..., true) is SET LOCAL ROLE with the
// name as a parameter), and the user and claims where row-level security
// policies read them, as PostgREST does:
// current_setting('request.jwt.claims', true)::json->>'sub' and
// current_setting('odatagw.user', true).
func assume(ctx context.Context, tx pgx.Tx, c sources.Caller) error {
	if _, err := tx.Exec(ctx, assumeSQL, c.Role, c.Claims, c.User, "auto"); err != nil {
		return assumeError(err)
	}
	return nil
}

// The fourth setting is how the transaction's statements are planned (see
// PlannedWithValues): a batch runs its statements prepared, so a read that
// must be planned with its values says so here.
const assumeSQL = `SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('odatagw.user', $3, true), set_config('plan_cache_mode', $4, true)`

func assumeError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "22023" || pgErr.Code == "42704") {
		// no such role, or the gateway's user may not take it
		return &odata.Error{Status: http.StatusForbidden, Code: odata.CodeForbidden, Cause: err,
			Message: "the database role mapped to this user cannot be used; an admin must create it and grant it to the gateway's database user"}
	}
	return err
}

// callerRead runs one read on behalf of a caller, in a read-only
// transaction that assumes the caller's role. The four statements (BEGIN,
// the settings, the query, ROLLBACK) go to the server in one pipeline, so
// acting as the caller costs no extra round trips. A connection left in a
// failed transaction is not returned to the pool: pgxpool closes any
// connection released outside idle state.
func (s *Source) callerRead(ctx context.Context, pool *pgxpool.Pool, c sources.Caller, withValues bool, sql string, args []any) (pgx.Rows, func(), error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN READ ONLY")
	planning := "auto"
	if withValues {
		planning = "force_custom_plan"
	}
	b.Queue(assumeSQL, c.Role, c.Claims, c.User, planning)
	b.Queue(sql, args...)
	b.Queue("ROLLBACK")
	br := conn.SendBatch(ctx, b)
	fail := func(err error) (pgx.Rows, func(), error) {
		br.Close()
		conn.Release()
		return nil, nil, err
	}
	if _, err := br.Exec(); err != nil {
		return fail(err)
	}
	if _, err := br.Exec(); err != nil {
		return fail(assumeError(err))
	}
	rows, err := br.Query()
	if err != nil {
		return fail(err)
	}
	done := func() {
		rows.Close()
		br.Exec() // the ROLLBACK's result
		br.Close()
		conn.Release()
	}
	return rows, done, nil
}

// ActsAsCaller says that every transaction can assume the caller's role.
func (s *Source) ActsAsCaller() bool { return true }
