package postgres

import (
	"context"
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	_, err := tx.Exec(ctx, `SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('odatagw.user', $3, true)`,
		c.Role, c.Claims, c.User)
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "22023" || pgErr.Code == "42704") {
		// no such role, or the gateway's user may not take it
		return &odata.Error{Status: http.StatusForbidden, Code: odata.CodeForbidden, Cause: err,
			Message: "the database role mapped to this user cannot be used; an admin must create it and grant it to the gateway's database user"}
	}
	return err
}

// callerTx begins a transaction for a read on behalf of a caller.
func (s *Source) callerTx(ctx context.Context, c sources.Caller) (pgx.Tx, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	if err := assume(ctx, tx, c); err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	return tx, nil
}

// ActsAsCaller: every transaction can assume the caller's role.
func (s *Source) ActsAsCaller() bool { return true }
