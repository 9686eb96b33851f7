package sources

import (
	"context"
	"errors"

	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
)

// Writer is implemented by sources that can change data. Each call is one
// transaction: it happens completely or not at all. Rows go in and out as
// one value per property of the set's entity type, in the type's order.
type Writer interface {
	// Insert adds a row and returns it as stored, computed columns filled.
	Insert(ctx context.Context, set *metadata.EntitySet, values []plan.Assignment) ([]any, error)
	// Update locks the row with that key, passes it to check (which may
	// refuse the change), applies values and returns the row as stored.
	Update(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment, check func(current []any) error) ([]any, error)
	// Delete locks the row, passes it to check, and removes it.
	Delete(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, check func(current []any) error) error
}

// ErrNotFound is returned by Update and Delete when no row has the key.
var ErrNotFound = errors.New("no row has that key")

// MaxWriteAttempts bounds how often a write that lost a serialization
// conflict or deadlock is tried again before the client gets 503.
const MaxWriteAttempts = 4

// Transactor is implemented by writers that can put several writes in one
// transaction: fn's writes all happen, or none does. A source retries the
// whole of fn after a serialization failure or deadlock, so fn must only
// collect its results, not act on them, until Atomically returns.
type Transactor interface {
	Atomically(ctx context.Context, fn func(w Writer) error) error
}

// OneShot makes a Writer of a Transactor: each write in a transaction of
// its own. Source kinds embed it, so they write one way only.
type OneShot struct{ T Transactor }

func (o OneShot) Insert(ctx context.Context, set *metadata.EntitySet, values []plan.Assignment) ([]any, error) {
	var row []any
	err := o.T.Atomically(ctx, func(w Writer) error {
		var err error
		row, err = w.Insert(ctx, set, values)
		return err
	})
	return row, err
}

func (o OneShot) Update(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, values []plan.Assignment, check func([]any) error) ([]any, error) {
	var row []any
	err := o.T.Atomically(ctx, func(w Writer) error {
		var err error
		row, err = w.Update(ctx, set, key, values, check)
		return err
	})
	return row, err
}

func (o OneShot) Delete(ctx context.Context, set *metadata.EntitySet, key []plan.KeyValue, check func([]any) error) error {
	return o.T.Atomically(ctx, func(w Writer) error { return w.Delete(ctx, set, key, check) })
}
