package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/mysql"
	"github.com/odatagw/odatagw/sources/postgres"
	"github.com/odatagw/odatagw/sources/sqlgen"
)

// backend is the database a run measures: it makes the data, and runs the
// floor's SQL through the same driver the gateway uses.
type backend interface {
	dsn() string
	generate(ctx context.Context, rows int) error
	dialect() sqlgen.Dialect
	// rows and count run q's statement as the gateway runs it
	rows(ctx context.Context, q *plan.Query, text string, args []any) ([][]any, error)
	count(ctx context.Context, q *plan.Query, text string, args []any) (int64, error)
	exec(ctx context.Context, stmt string) error
	version(ctx context.Context) string
	close(keep bool)
}

// applyAdvice runs what odatagw check --indexes advises for the database
// (on a big table, the searched columns' statistics), so that every run
// measures the database as the gateway's advice leaves it.
func applyAdvice(ctx context.Context, db backend) (int, error) {
	src, err := sources.Open(ctx, sources.Options{Name: "bench", DSN: db.dsn(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return 0, err
	}
	defer src.Close()
	a, ok := src.(sources.IndexAdvisor)
	if !ok {
		return 0, nil
	}
	advice, err := a.AdviseIndexes(ctx)
	if err != nil {
		return 0, err
	}
	for _, ad := range advice {
		for _, stmt := range strings.Split(strings.TrimSpace(ad.Needs+"\n"+ad.SQL), "\n") {
			if err := db.exec(ctx, stmt); err != nil {
				return 0, fmt.Errorf("%s: %w", stmt, err)
			}
		}
	}
	return len(advice), nil
}

func newName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "odatagw_bench_" + hex.EncodeToString(b)
}

func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(the server URL)"
}

// PostgreSQL ---------------------------------------------------------------

type pgBackend struct {
	admin   *pgx.Conn
	pool    *pgxpool.Pool
	url     string
	name    string
	created bool
	out     func(string)
}

func openPostgres(ctx context.Context, s Settings) (backend, error) {
	admin, err := pgx.Connect(ctx, s.Postgres)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", redact(s.Postgres), err)
	}
	b := &pgBackend{admin: admin, name: s.Database, out: func(m string) { fmt.Fprintln(s.Out, m) }}
	if b.name == "" {
		b.name, b.created = newName(), true
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+b.name); err != nil {
			admin.Close(ctx)
			return nil, err
		}
	}
	u, _ := url.Parse(s.Postgres)
	u.Path = "/" + b.name
	b.url = u.String()
	// as many connections as the gateway's source opens by default, so
	// that the two differ in their software only
	cfg, err := pgxpool.ParseConfig(b.url)
	if err != nil {
		b.close(false)
		return nil, err
	}
	cfg.MaxConns = config.DefaultMaxConnections
	if b.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		b.close(false)
		return nil, err
	}
	return b, nil
}

func (b *pgBackend) dsn() string             { return b.url }
func (b *pgBackend) dialect() sqlgen.Dialect { return postgres.Dialect() }

func (b *pgBackend) close(keep bool) {
	b.pool.Close()
	if b.created && !keep {
		b.admin.Exec(context.Background(), "DROP DATABASE "+b.name+" WITH (FORCE)")
	} else if b.created {
		b.out(fmt.Sprintf("keeping database %s (reuse with -db %s)", b.name, b.name))
	}
	b.admin.Close(context.Background())
}

func (b *pgBackend) exec(ctx context.Context, stmt string) error {
	_, err := b.pool.Exec(ctx, stmt)
	return err
}

func (b *pgBackend) version(ctx context.Context) string {
	var v string
	b.pool.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return "PostgreSQL " + v
}

// planned runs a statement unnamed, planned with its values, where the
// gateway does (see postgres.PlannedWithValues).
func planned(q *plan.Query, args []any) []any {
	if postgres.PlannedWithValues(q) {
		return postgres.Unnamed(args)
	}
	return args
}

func (b *pgBackend) rows(ctx context.Context, q *plan.Query, text string, args []any) ([][]any, error) {
	rows, err := b.pool.Query(ctx, text, planned(q, args)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (b *pgBackend) count(ctx context.Context, q *plan.Query, text string, args []any) (int64, error) {
	var n int64
	err := b.pool.QueryRow(ctx, text, planned(q, args)...).Scan(&n)
	return n, err
}

// generate makes the main table (accounts, rows wide as a CRM's) and a
// related one (contacts, half as many, each with an account), and the
// indexes a DBA makes for Salesforce's traffic (odatagw check --indexes
// advises the same; applyAdvice then adds what else it advises).
func (b *pgBackend) generate(ctx context.Context, rows int) error {
	stmts := []string{
		`CREATE EXTENSION IF NOT EXISTS pg_trgm`,
		`CREATE TABLE accounts (id integer PRIMARY KEY, name text NOT NULL, email text, city varchar(60) NOT NULL,
			country varchar(40) NOT NULL, note text, created timestamptz NOT NULL, amount numeric(12,2))`,
		fmt.Sprintf(`INSERT INTO accounts SELECT i,
			(ARRAY['Acme','Globex','Initech','Umbrella','Hooli','Stark','Wayne','Wonka'])[1 + i %% 8] || ' ' || substr(md5(i::text), 1, 12),
			'contact' || i || '@example.com',
			(ARRAY['Paris','Lyon','Austin','Berlin','Tokyo','Lagos','Lima','Oslo','Pune','Perth'])[1 + (i * 7) %% 10],
			(ARRAY['France','USA','Germany','Japan','Nigeria','Peru','Norway','India','Australia'])[1 + i %% 9],
			CASE WHEN i %% 5 = 0 THEN NULL ELSE 'Account note ' || md5((i * 31)::text) || ' ' || md5((i * 17)::text) END,
			timestamptz '2020-01-01' + i * interval '7 seconds', (i %% 100000) / 100.0
			FROM generate_series(1, %d) i`, rows),
		`CREATE TABLE contacts (id integer PRIMARY KEY, account_id integer NOT NULL REFERENCES accounts, name text NOT NULL, email text)`,
		fmt.Sprintf(`INSERT INTO contacts SELECT i, 1 + (i * 2654435761 %% %d), 'Contact ' || i, 'c' || i || '@example.com'
			FROM generate_series(1, %d) i`, rows, max(1, rows/2)),
		`CREATE INDEX ON contacts (account_id)`,
		`CREATE INDEX ON accounts USING gin (name gin_trgm_ops)`,
		`CREATE INDEX ON accounts USING gin (email gin_trgm_ops)`,
		`CREATE INDEX ON accounts USING gin (city gin_trgm_ops)`,
		`CREATE INDEX ON accounts USING gin (country gin_trgm_ops)`,
		`CREATE INDEX ON accounts USING gin (note gin_trgm_ops)`,
		`CREATE INDEX ON accounts (city)`,
		`ANALYZE accounts`,
		`ANALYZE contacts`,
	}
	for _, s := range stmts {
		if _, err := b.pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("%.60s: %w", s, err)
		}
	}
	return nil
}

// MySQL and MariaDB ----------------------------------------------------------

type myBackend struct {
	admin   *sql.DB
	db      *sql.DB
	url     string
	name    string
	created bool
	out     func(string)
}

func openMySQL(ctx context.Context, s Settings) (backend, error) {
	admin, err := testdb.OpenMySQL(s.MySQL)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", redact(s.MySQL), err)
	}
	b := &myBackend{admin: admin, name: s.Database, out: func(m string) { fmt.Fprintln(s.Out, m) }}
	if b.name == "" {
		b.name, b.created = newName(), true
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+b.name+" CHARACTER SET utf8mb4"); err != nil {
			admin.Close()
			return nil, fmt.Errorf("connecting to %s: %w", redact(s.MySQL), err)
		}
	}
	u, _ := url.Parse(s.MySQL)
	u.Path = "/" + b.name
	b.url = u.String()
	if b.db, err = testdb.OpenMySQL(b.url); err != nil {
		b.close(false)
		return nil, err
	}
	b.db.SetMaxOpenConns(config.DefaultMaxConnections) // as the gateway's source
	b.db.SetMaxIdleConns(config.DefaultMaxConnections)
	return b, nil
}

func (b *myBackend) dsn() string             { return b.url }
func (b *myBackend) dialect() sqlgen.Dialect { return mysql.Dialect() }

func (b *myBackend) close(keep bool) {
	b.db.Close()
	if b.created && !keep {
		b.admin.Exec("DROP DATABASE " + b.name)
	} else if b.created {
		b.out(fmt.Sprintf("keeping database %s (reuse with -db %s)", b.name, b.name))
	}
	b.admin.Close()
}

func (b *myBackend) version(ctx context.Context) string {
	var v string
	b.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v)
	if strings.Contains(strings.ToLower(v), "mariadb") {
		return "MariaDB " + v
	}
	return "MySQL " + v
}

func (b *myBackend) rows(ctx context.Context, _ *plan.Query, text string, args []any) ([][]any, error) {
	rows, err := b.db.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		v := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range v {
			ptrs[i] = &v[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, x := range v {
			if bs, ok := x.([]byte); ok {
				v[i] = string(bs)
			}
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (b *myBackend) count(ctx context.Context, _ *plan.Query, text string, args []any) (int64, error) {
	var n int64
	err := b.db.QueryRowContext(ctx, text, args...).Scan(&n)
	return n, err
}

// generate makes the same tables as for PostgreSQL, with the indexes a DBA
// makes on MySQL (no trigram index exists there).
func (b *myBackend) exec(ctx context.Context, stmt string) error {
	_, err := b.db.ExecContext(ctx, stmt)
	return err
}

func (b *myBackend) generate(ctx context.Context, rows int) error {
	digits := "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
	stmts := []string{
		`CREATE TABLE seq (i INT PRIMARY KEY)`,
		`INSERT INTO seq SELECT 1 + a.d + 10*b.d + 100*c.d + 1000*e.d FROM ` + digits + ` a, ` + digits + ` b, ` + digits + ` c, ` + digits + ` e`,
		`CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100), city VARCHAR(60) NOT NULL,
			country VARCHAR(40) NOT NULL, note TEXT, created DATETIME(6) NOT NULL, amount DECIMAL(12,2), KEY accounts_city (city))`,
		fmt.Sprintf(`INSERT INTO accounts SELECT n,
			CONCAT(ELT(1 + n %% 8, 'Acme','Globex','Initech','Umbrella','Hooli','Stark','Wayne','Wonka'), ' ', LEFT(MD5(n), 12)),
			CONCAT('contact', n, '@example.com'),
			ELT(1 + (n * 7) %% 10, 'Paris','Lyon','Austin','Berlin','Tokyo','Lagos','Lima','Oslo','Pune','Perth'),
			ELT(1 + n %% 9, 'France','USA','Germany','Japan','Nigeria','Peru','Norway','India','Australia'),
			CASE WHEN n %% 5 = 0 THEN NULL ELSE CONCAT('Account note ', MD5(n * 31), ' ', MD5(n * 17)) END,
			TIMESTAMP '2020-01-01 00:00:00' + INTERVAL n * 7 SECOND, (n %% 100000) / 100.0
			FROM (SELECT (h.i - 1) * 10000 + l.i AS n FROM seq h, seq l WHERE h.i <= CEIL(%d / 10000)) s WHERE n <= %d`, rows, rows),
		`CREATE TABLE contacts (id INT PRIMARY KEY, account_id INT NOT NULL, name VARCHAR(100) NOT NULL, email VARCHAR(100),
			CONSTRAINT contacts_account FOREIGN KEY (account_id) REFERENCES accounts (id))`,
		fmt.Sprintf(`INSERT INTO contacts SELECT n, 1 + (n * 2654435761 %% %d), CONCAT('Contact ', n), CONCAT('c', n, '@example.com')
			FROM (SELECT (h.i - 1) * 10000 + l.i AS n FROM seq h, seq l WHERE h.i <= CEIL(%d / 10000)) s WHERE n <= %d`, rows, max(1, rows/2), max(1, rows/2)),
		`DROP TABLE seq`,
		`ANALYZE TABLE accounts, contacts`,
	}
	for _, s := range stmts {
		if _, err := b.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%.60s: %w", s, err)
		}
	}
	return nil
}
