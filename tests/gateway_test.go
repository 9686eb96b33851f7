package tests

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/sqlite"
)

// gateway is one gateway under test, serving on a loopback port as the
// binary does, through the same app.Open and Serve.
type gateway struct {
	*app.Gateway
	base string // http(s)://127.0.0.1:port
	stop func() // stops serving and closes every source; safe to call twice
}

// root is the service root of one of the gateway's sources.
func (g *gateway) root(source string) string { return g.base + "/odata/" + source + "/" }

// target is a source of the gateway as a scenario target; rows, when
// given, reads the database behind it.
func (g *gateway) target(name, source string, rows func(string) ([][]string, error)) *target {
	return &target{name: name, root: g.root(source), rows: rows}
}

// serveGateway opens a gateway with the settings and serves it on a free
// loopback port (unless set.Listen names one), logging nowhere unless
// set.Logger says otherwise.
func serveGateway(set app.Settings) (*gateway, error) {
	if set.Listen == "" {
		set.Listen = "127.0.0.1:0"
	}
	if set.Logger == nil {
		set.Logger = quietLogger()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	gw, err := app.Open(ctx, set)
	if err != nil {
		return nil, err
	}
	serving, stop := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- gw.Serve(serving, ready) }()
	scheme := "http"
	if set.Defaults.TLS.Cert != "" {
		scheme = "https"
	}
	select {
	case addr := <-ready:
		g := &gateway{Gateway: gw, base: scheme + "://" + addr}
		stopped := false
		g.stop = func() {
			if !stopped {
				stopped = true
				stop()
				<-done
				gw.Close()
			}
		}
		return g, nil
	case err := <-done:
		stop()
		gw.Close()
		return nil, fmt.Errorf("serve: %w", err)
	case <-time.After(30 * time.Second):
		stop()
		gw.Close()
		return nil, fmt.Errorf("the gateway did not start listening within 30 s")
	}
}

// startGateway is serveGateway for one test: the test fails when the
// gateway does not start, and the gateway stops when the test ends.
func startGateway(t testing.TB, set app.Settings) *gateway {
	t.Helper()
	g, err := serveGateway(set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.stop)
	return g
}

// startListening is startGateway for tests of what a database or another
// replica says to the gateway: it returns once every source hears it.
func startListening(t testing.TB, set app.Settings) *gateway {
	t.Helper()
	g := startGateway(t, set)
	for name := range set.Sources {
		eventually(t, 10*time.Second, "source "+name+" listening", func() bool { return g.Listening(name) })
	}
	return g
}

// erpSource is the one source most suites serve, open to every caller.
func erpSource(src config.Source) map[string]config.Source {
	return anyone(map[string]config.Source{"erp": src})
}

// demoTarget is the gateway's demo source, read directly through its
// SQLite handle.
func (g *gateway) demoTarget() *target {
	src, _ := g.Server.Source("demo")
	return g.target("sqlite", "demo", sqlRows(must(sources.As[*sqlite.Source](src)).DB()))
}

// testPool is a connection pool to a test database, closed when the test
// ends.
func testPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// eventually polls a condition for a bounded time.
func eventually(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// activeQueries counts the statements running on the database whose text
// mentions table, but for the one asking.
func activeQueries(t testing.TB, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE query LIKE '%' || $1 || '%' AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()`, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// settledGoroutines waits until the number of goroutines stops changing
// (for 200 ms, within 5 s) and returns it.
func settledGoroutines(t testing.TB) int {
	t.Helper()
	last, since := runtime.NumGoroutine(), time.Now()
	eventually(t, 5*time.Second, "the goroutines settle", func() bool {
		if n := runtime.NumGoroutine(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) >= 200*time.Millisecond
	})
	return last
}
