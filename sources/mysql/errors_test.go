package mysql

import (
	"context"
	"errors"
	"fmt"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/odatagw/odatagw/odata"
)

// TestMapError: the server's errors and a lost connection map to the
// gateway's answers.
func TestMapError(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		err    error
		status int
	}{
		{mysqldriver.ErrInvalidConn, 503},
		{fmt.Errorf("reading: %w", mysqldriver.ErrInvalidConn), 503},
		{&mysqldriver.MySQLError{Number: 1969, Message: "Query execution was interrupted (max_statement_time exceeded)"}, 504},
		{&mysqldriver.MySQLError{Number: 3024, Message: "maximum statement execution time exceeded"}, 504},
		{&mysqldriver.MySQLError{Number: 1142, Message: "SELECT command denied"}, 403},
		{&mysqldriver.MySQLError{Number: 1146, Message: "Table 'x' doesn't exist"}, 503},
		{&mysqldriver.MySQLError{Number: 1292, Message: "Truncated incorrect DOUBLE value"}, 400},
		{errors.New("something else"), 500},
	} {
		var oe *odata.Error
		if !errors.As(mapError(ctx, c.err), &oe) || oe.Status != c.status {
			t.Errorf("%v: %v, want status %d", c.err, mapError(ctx, c.err), c.status)
		}
	}
}
