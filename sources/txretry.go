package sources

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/odatagw/odatagw/odata"
)

// TxRetry is how a source kind runs its write transactions: every kind
// retries the same way and reports the outcome the same way; only what
// counts as a conflict, and how its database's errors read, differ.
type TxRetry struct {
	// Conflict reports a failure that another attempt may not meet: a
	// serialization failure, a deadlock, a database busy with other
	// writers.
	Conflict func(error) bool
	// Exhausted is what the client reads (503) when every attempt met a
	// conflict.
	Exhausted string
	// Map turns any other database error into the client's answer.
	Map func(ctx context.Context, err error) error
}

// Run runs one transaction through try, which begins, works and commits;
// again after a conflict, at most MaxWriteAttempts times, backing off with
// jitter so that colliding transactions part ways.
func (p TxRetry) Run(ctx context.Context, try func() error) error {
	var err error
	for attempt := 1; attempt <= MaxWriteAttempts; attempt++ {
		err = try()
		if err == nil || !p.Conflict(err) || attempt == MaxWriteAttempts {
			break
		}
		backoff := time.Duration(attempt*attempt)*10*time.Millisecond + rand.N(time.Duration(20*attempt)*time.Millisecond)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return odata.Timeout(ctx.Err())
		}
	}
	var oe *odata.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &oe), errors.Is(err, ErrNotFound):
		return err // the gateway's own answer, decided inside the transaction
	case p.Conflict(err):
		return &odata.Error{Status: http.StatusServiceUnavailable, Code: odata.CodeUnavailable, Cause: err, Message: p.Exhausted}
	}
	return p.Map(ctx, err)
}
