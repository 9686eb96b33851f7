package postgres

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestInheritCredentials(t *testing.T) {
	for _, c := range []struct{ name, dsn, user, password, want string }{
		{"URL without a user takes the primary's user and password", "postgres://standby:5432/erp", "gw", "s3cret", "postgres://gw:s3cret@standby:5432/erp"},
		{"URL with its own user keeps it, with the primary's password", "postgres://reader@standby/erp", "gw", "s3cret", "postgres://reader:s3cret@standby/erp"},
		{"no password anywhere", "postgres://standby/erp?sslmode=require", "gw", "", "postgres://gw@standby/erp?sslmode=require"},
		{"user given as a parameter", "postgres://standby/erp?user=reader", "gw", "pw", "postgres://reader:pw@standby/erp?user=reader"},
		{"keyword DSN", "host=standby dbname=erp", "gw", "it's", `host=standby dbname=erp user='gw' password='it\'s'`},
		{"keyword DSN with a user", "host=standby user=reader dbname=erp", "gw", "", "host=standby user=reader dbname=erp"},
	} {
		if got := inheritCredentials(c.dsn, c.user, c.password); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

// TestLagOf: a standby's lag is how long ago the primary first stood past
// what it replayed, with a page header's slack for a position read at a
// page boundary.
func TestLagOf(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	r := &routing{}
	r.sample(t0, 1000)
	r.sample(t0.Add(time.Second), 1000) // nothing written: kept once
	r.sample(t0.Add(2*time.Second), 5000)
	r.sample(t0.Add(3*time.Second), 9000)
	now := t0.Add(4 * time.Second)
	for _, c := range []struct {
		replayed uint64
		want     time.Duration
	}{
		{9000, 0},
		{9000 - pageHeader, 0},
		{8000, time.Second}, // it lacks what the primary wrote after 2 s, seen at 3 s
		{5000, time.Second},
		{1000, 2 * time.Second},
		{999 - pageHeader, 4 * time.Second},
	} {
		if got := r.lagOf(c.replayed, now); got != c.want {
			t.Errorf("replayed %d: lag %v, want %v", c.replayed, got, c.want)
		}
	}
	if len(r.samples) != 3 {
		t.Errorf("kept %d samples, want 3", len(r.samples))
	}
}

func TestStandbyFailure(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{pgError("57P01"), true},  // the standby shuts down
		{pgError("40001"), true},  // cancelled for a conflict with the replay
		{pgError("08006"), true},  // its connection broke
		{pgError("22012"), false}, // the query's own fault: the primary would say the same
		{pgError("42501"), false},
	} {
		if got := standbyFailure(c.err); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
}

// TestRoutingWithoutStandbys: a source without standbys reads from its
// primary and reports nothing.
func TestRoutingWithoutStandbys(t *testing.T) {
	var r *routing
	if pool, sb := r.reader(t.Context()); pool != nil || sb != nil {
		t.Error("a nil routing chose a pool")
	}
	if rep := (&Source{}).Standbys(); len(rep.Standbys) != 0 || rep.AllGone {
		t.Errorf("report without standbys: %+v", rep)
	}
}

func pgError(code string) error { return &pgconn.PgError{Code: code} }
