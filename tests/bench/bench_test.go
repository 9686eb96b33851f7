package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/testdb"
)

// TestBenchmarkRuns runs the benchmark at a tiny size, so that it cannot
// rot: every request of the mix answers against the floor, the uncached
// and the cached gateway, and the table is printed.
func TestBenchmarkRuns(t *testing.T) {
	server := testdb.PostgresURL(t)
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := Run(ctx, Settings{Postgres: server, Rows: 2000, Duration: 200 * time.Millisecond, Clients: 4, Out: &out})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mix(2000) {
		if !strings.Contains(out.String(), m.name) {
			t.Errorf("the table has no row for %s", m.name)
		}
	}
}

// TestBenchmarkRunsOnMySQL is TestBenchmarkRuns against MySQL or MariaDB.
func TestBenchmarkRunsOnMySQL(t *testing.T) {
	server := testdb.MySQLURL(t)
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := Run(ctx, Settings{MySQL: server, Rows: 2000, Duration: 200 * time.Millisecond, Clients: 4, Out: &out})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "MariaDB") && !strings.Contains(out.String(), "MySQL") {
		t.Error("the table does not name the server")
	}
}
