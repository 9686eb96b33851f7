// Package testdb gives integration tests a database of their own on the
// servers named by environment variables:
//
//	ODATAGW_TEST_POSTGRES_URL  e.g. postgres://postgres@127.0.0.1:5432/postgres
//	ODATAGW_TEST_MYSQL_URL     e.g. mysql://root@127.0.0.1:3306/test
//	ODATAGW_TEST_REDIS_URL     e.g. redis://127.0.0.1:6379/0
//
// Each call creates a database with a random name and drops it when the
// test (or TestMain) ends. Without the variable a test is skipped, saying
// so, except when CI=true: there a missing server is a failure.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the variable that points the tests at PostgreSQL.
const PostgresEnv = "ODATAGW_TEST_POSTGRES_URL"

// InCI reports whether the tests run in CI, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// PostgresURL returns the server URL, or skips (fails in CI) without one.
func PostgresURL(t testing.TB) string {
	u := os.Getenv(PostgresEnv)
	if u == "" {
		if InCI() {
			t.Fatalf("%s is not set; CI must run the PostgreSQL suites", PostgresEnv)
		}
		t.Skipf("PostgreSQL suite skipped: set %s=postgres://user@host:5432/postgres to run it", PostgresEnv)
	}
	return u
}

// Root returns the module root, for testdata paths.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Fixture is the path of a SQL file under testdata/postgres.
func Fixture(name string) string { return filepath.Join(Root(), "testdata", "postgres", name) }

// Postgres is a database created for one test run.
type Postgres struct {
	DSN   string
	Name  string
	admin string
}

// CreatePostgres creates a randomly named database on the server at
// adminURL and runs the SQL files in it.
func CreatePostgres(ctx context.Context, adminURL string, sqlFiles ...string) (*Postgres, error) {
	b := make([]byte, 6)
	rand.Read(b)
	name := "odatagw_test_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", PostgresEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, err
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	p := &Postgres{DSN: u.String(), Name: name, admin: adminURL}
	db, err := pgx.Connect(ctx, p.DSN)
	if err != nil {
		p.Drop()
		return nil, err
	}
	defer db.Close(ctx)
	for _, f := range sqlFiles {
		sql, err := os.ReadFile(f)
		if err != nil {
			p.Drop()
			return nil, err
		}
		if _, err := db.Exec(ctx, string(sql)); err != nil {
			p.Drop()
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
	}
	return p, nil
}

// Drop removes the database, closing any connection still open to it.
func (p *Postgres) Drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{p.Name}.Sanitize()+" WITH (FORCE)")
	return err
}

// NewPostgres is CreatePostgres for one test, dropped when it ends.
func NewPostgres(t testing.TB, sqlFiles ...string) *Postgres {
	t.Helper()
	admin := PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := CreatePostgres(ctx, admin, sqlFiles...)
	if err != nil {
		t.Fatalf("creating a test database: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Drop(); err != nil {
			t.Errorf("dropping %s: %v", p.Name, err)
		}
	})
	return p
}

// RedisEnv names the variable that points the tests at Redis.
const RedisEnv = "ODATAGW_TEST_REDIS_URL"

// RedisURL returns the Redis URL, or skips (fails in CI) without one.
func RedisURL(t testing.TB) string {
	u := os.Getenv(RedisEnv)
	if u == "" {
		if InCI() {
			t.Fatalf("%s is not set; CI must run the Redis suites", RedisEnv)
		}
		t.Skipf("Redis suite skipped: set %s=redis://127.0.0.1:6379/0 to run it", RedisEnv)
	}
	return u
}

// RedisPrefix is a prefix for a test's Redis channels and keys, its own
// at every run; the keys under it (the sets' shared generations) are
// deleted when the test ends, so that no test leaves Redis with more
// than it found.
func RedisPrefix(t testing.TB, redisURL string) string {
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "odatagw_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		c, err := redis.DialURL(redisURL, redis.DialConnectTimeout(5*time.Second), redis.DialReadTimeout(5*time.Second))
		if err != nil {
			t.Errorf("cleaning Redis: %v", err)
			return
		}
		defer c.Close()
		for cursor := 0; ; {
			v, err := redis.Values(c.Do("SCAN", cursor, "MATCH", prefix+":*", "COUNT", 100))
			if err != nil {
				t.Errorf("cleaning Redis: %v", err)
				return
			}
			keys, _ := redis.Strings(v[1], nil)
			for _, k := range keys {
				c.Do("DEL", k)
			}
			if cursor, _ = redis.Int(v[0], nil); cursor == 0 {
				return
			}
		}
	})
	return prefix
}
