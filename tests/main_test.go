package tests

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// target is one gateway under test with a way to ask its database directly.
type target struct {
	name   string // "postgres", "mysql" or "sqlite"
	cached bool   // served with the default query cache, not with it off
	root   string // service root URL, ending in '/'
	// rows runs SQL on the database behind the gateway and returns every
	// value as text.
	rows func(query string) ([][]string, error)
}

var (
	demoTarget *target
	pgTarget   *target
	// pgCachedTarget serves pgDB with the default cache on, for the read
	// catalogue (the suites that use pgDB only read it)
	pgCachedTarget *target
	pgDB           *testdb.Postgres
	pgPool         *pgxpool.Pool
	pgMissing      string // why the PostgreSQL target is absent
	myTarget       *target
	myDB           *testdb.MySQL
	mySQL          *sql.DB // to the MySQL/MariaDB fixture, in ANSI_QUOTES mode
	myMissing      string  // why the MySQL/MariaDB target is absent
	myStop         func()
)

// uncached turns the query cache off: most suites must reach the database
// on every request to prove what they prove. The cache has suites of its own.
func uncached() config.File {
	off := time.Duration(0)
	return config.File{Cache: config.Cache{TTL: &off}}
}

// unwrap returns the database's own source, behind the query cache and
// the tracing.
// must is the source a wrapper holds, found as sources.As finds it.
func must[T any](t T, ok bool) T {
	if !ok {
		panic("the source is not of the kind the test expects")
	}
	return t
}

// quietLogger keeps expected warnings (tables left out) out of test output.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	check, cleanup, err := isolate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "isolating the suites from the user's state:", err)
		return 1
	}
	defer cleanup()
	code := runSuites(m)
	if err := check(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}

func runSuites(m *testing.M) int {
	resetSecretScan()
	defer func() {
		if binaryDir != "" {
			os.RemoveAll(binaryDir)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	demo, err := serveGateway(app.Settings{Defaults: uncached()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the demo gateway:", err)
		return 1
	}
	defer demo.stop()
	demoTarget = demo.demoTarget()

	admin := os.Getenv(testdb.PostgresEnv)
	if admin == "" {
		pgMissing = "PostgreSQL suite skipped: set " + testdb.PostgresEnv + " to run it"
		fmt.Fprintln(os.Stderr, pgMissing)
	} else {
		pgDB, err = testdb.CreatePostgres(ctx, admin, testdb.Fixture("fixture.sql"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "creating the PostgreSQL fixture:", err)
			return 1
		}
		defer pgDB.Drop()
		pgPool, err = pgxpool.New(ctx, pgDB.DSN)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pgPool.Close()
		gw, err := serveGateway(app.Settings{Defaults: uncached(), Sources: erpSource(config.Source{DSN: pgDB.DSN,
			Keys: map[string][]string{"customer_summary": {"customer_id"}}})})
		if err != nil {
			fmt.Fprintln(os.Stderr, "starting the PostgreSQL gateway:", err)
			return 1
		}
		defer gw.stop()
		pgTarget = gw.target("postgres", "erp", pgRows(pgPool))
		// the same database behind the default 30 s cache, as the gateway
		// runs unless told otherwise
		cgw, err := serveGateway(app.Settings{Defaults: config.File{}, Sources: erpSource(config.Source{DSN: pgDB.DSN,
			Keys: map[string][]string{"customer_summary": {"customer_id"}}})})
		if err != nil {
			fmt.Fprintln(os.Stderr, "starting the cached PostgreSQL gateway:", err)
			return 1
		}
		defer cgw.stop()
		pgCachedTarget = cgw.target("postgres", "erp", pgRows(pgPool))
		pgCachedTarget.cached = true
	}
	if code := openMySQLTarget(ctx); code != 0 {
		return code
	}
	if myDB != nil {
		defer myDB.Drop()
		defer mySQL.Close()
		defer myStop()
	}
	return m.Run()
}

// openMySQLTarget creates the MySQL/MariaDB fixture and serves it, when
// the server is named; without it, myMissing says why.
func openMySQLTarget(ctx context.Context) int {
	admin := os.Getenv(testdb.MySQLEnv)
	if admin == "" {
		myMissing = "MySQL/MariaDB suite skipped: set " + testdb.MySQLEnv + " to run it"
		fmt.Fprintln(os.Stderr, myMissing)
		return 0
	}
	var err error
	myDB, err = testdb.CreateMySQL(ctx, admin, testdb.MySQLFixture("fixture.sql"), testdb.MySQLFixture("events.sql"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the MySQL/MariaDB fixture:", err)
		return 1
	}
	mySQL, err = testdb.OpenMySQL(myDB.DSN)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	gw, err := serveGateway(app.Settings{Defaults: uncached(), Sources: anyone(map[string]config.Source{"mydb": {DSN: myDB.DSN,
		Keys: map[string][]string{"customer_summary": {"customer_id"}}}})})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the MySQL/MariaDB gateway:", err)
		return 1
	}
	myTarget, myStop = gw.target("mysql", "mydb", sqlRows(mySQL)), gw.stop
	return 0
}

// needMySQL returns the MySQL/MariaDB target, or skips (fails in CI).
func needMySQL(t *testing.T) *target {
	t.Helper()
	if myTarget == nil {
		if testdb.InCI() {
			t.Fatal(myMissing)
		}
		t.Skip(myMissing)
	}
	return myTarget
}

// needPostgres returns the PostgreSQL target, or skips (fails in CI).
func needPostgres(t *testing.T) *target {
	t.Helper()
	if pgTarget == nil {
		if testdb.InCI() {
			t.Fatal(pgMissing)
		}
		t.Skip(pgMissing)
	}
	return pgTarget
}

// targets lists the gateways a scenario runs against.
func targets(t *testing.T) []*target {
	if pgTarget == nil && testdb.InCI() {
		t.Fatal(pgMissing)
	}
	if myTarget == nil && testdb.InCI() {
		t.Fatal(myMissing)
	}
	var out []*target
	if pgTarget == nil {
		t.Log(pgMissing)
	} else {
		out = append(out, pgTarget)
	}
	if myTarget == nil {
		t.Log(myMissing)
	} else {
		out = append(out, myTarget)
	}
	return append(out, demoTarget)
}

// label names a target in a subtest: its database, and whether the
// default cache is in front.
func (tg *target) label() string {
	if tg.cached {
		return tg.name + "+cache"
	}
	return tg.name
}

func sqlRows(db *sql.DB) func(string) ([][]string, error) {
	return func(q string) ([][]string, error) {
		rows, err := db.Query(q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out [][]string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return nil, err
			}
			out = append(out, texts(vals))
		}
		return out, rows.Err()
	}
}

func pgRows(pool *pgxpool.Pool) func(string) ([][]string, error) {
	return func(q string) ([][]string, error) {
		rows, err := pool.Query(context.Background(), q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out [][]string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return nil, err
			}
			out = append(out, texts(vals))
		}
		return out, rows.Err()
	}
}

func texts(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		if dv, ok := v.(driver.Valuer); ok {
			v, _ = dv.Value()
		}
		if v == nil {
			out[i] = "null"
		} else {
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}

// anyone lets every caller use the sources: the suites that test OData
// itself run without credentials; the auth suites test credentials.
func anyone(srcs map[string]config.Source) map[string]config.Source {
	for name, s := range srcs {
		s.Auth.Anonymous = true
		srcs[name] = s
	}
	return srcs
}
