package sources

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/odatagw/odatagw/odata"
)

func TestTxRetry(t *testing.T) {
	errConflict := errors.New("deadlock detected")
	errOther := errors.New("disk full")
	mapped := odata.BadRequest(odata.CodeBadRequest, "mapped")
	p := TxRetry{Conflict: func(err error) bool { return errors.Is(err, errConflict) }, Exhausted: "try again",
		Map: func(_ context.Context, err error) error { return mapped }}
	refused := odata.BadRequest(odata.CodeInvalidValue, "refused inside the transaction")
	cases := []struct {
		name     string
		results  []error // what each attempt returns; the last repeats
		attempts int
		check    func(error) bool
	}{
		{"success at once", []error{nil}, 1, func(err error) bool { return err == nil }},
		{"two conflicts, then success", []error{errConflict, errConflict, nil}, 3, func(err error) bool { return err == nil }},
		{"conflicts every time: 503", []error{errConflict}, MaxWriteAttempts, func(err error) bool {
			e := odata.AsError(err)
			return e.Status == http.StatusServiceUnavailable && e.Message == "try again" && errors.Is(err, errConflict)
		}},
		{"the gateway's own error: as it is, once", []error{refused}, 1, func(err error) bool { return err == refused }},
		{"no row: as it is", []error{ErrNotFound}, 1, func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{"another database error: mapped, once", []error{errOther}, 1, func(err error) bool { return err == mapped }},
	}
	for _, c := range cases {
		n := 0
		err := p.Run(context.Background(), func() error {
			r := c.results[min(n, len(c.results)-1)]
			n++
			return r
		})
		if n != c.attempts || !c.check(err) {
			t.Errorf("%s: %d attempts, error %v", c.name, n, err)
		}
	}
}
