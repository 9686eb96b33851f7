package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/odatagw/odatagw/sources/mysql"
)

// MySQLEnv names the variable that points the tests at MySQL or MariaDB,
// e.g. mysql://root@127.0.0.1:3306/test (the database named is where the
// tests connect first; each run creates its own).
const MySQLEnv = "ODATAGW_TEST_MYSQL_URL"

// MySQLURL returns the server URL, or skips (fails in CI) without one.
func MySQLURL(t testing.TB) string {
	u := os.Getenv(MySQLEnv)
	if u == "" {
		if InCI() {
			t.Fatalf("%s is not set; CI must run the MySQL/MariaDB suites", MySQLEnv)
		}
		t.Skipf("MySQL/MariaDB suite skipped: set %s=mysql://root@127.0.0.1:3306/test to run it", MySQLEnv)
	}
	return u
}

// MySQLFixture is the path of a SQL file under testdata/mysql.
func MySQLFixture(name string) string { return filepath.Join(Root(), "testdata", "mysql", name) }

// MySQL is a database created for one test run.
type MySQL struct {
	DSN   string // mysql://... naming the new database
	Name  string
	admin string
}

// OpenMySQL opens a plain connection pool on a mysql:// URL, in the
// gateway's session settings plus ANSI_QUOTES, so that tests can write
// "Name" as the PostgreSQL suites do.
func OpenMySQL(dsn string) (*sql.DB, error) {
	cfg, err := mysql.Config(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Params["sql_mode"] = "'ANSI_QUOTES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
	conn, err := mysqldriver.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// CreateMySQL creates a randomly named utf8mb4 database on the server at
// adminURL and runs the SQL files in it (statements split as the mysql
// client splits them).
func CreateMySQL(ctx context.Context, adminURL string, sqlFiles ...string) (*MySQL, error) {
	b := make([]byte, 6)
	rand.Read(b)
	name := "odatagw_test_" + hex.EncodeToString(b)
	admin, err := mysqlAdmin(adminURL)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"); err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", MySQLEnv, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	m := &MySQL{DSN: u.String(), Name: name, admin: adminURL}
	if err := m.Exec(ctx, sqlFiles...); err != nil {
		m.Drop()
		return nil, err
	}
	return m, nil
}

// Exec runs SQL files in the database.
func (m *MySQL) Exec(ctx context.Context, sqlFiles ...string) error {
	db, err := OpenMySQL(m.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, f := range sqlFiles {
		text, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, stmt := range mysql.Statements(string(text)) {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w (in: %.100s)", filepath.Base(f), err, stmt)
			}
		}
	}
	return nil
}

func mysqlAdmin(adminURL string) (*sql.DB, error) {
	return OpenMySQL(adminURL)
}

// Drop removes the database.
func (m *MySQL) Drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := mysqlAdmin(m.admin)
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+m.Name+"`")
	return err
}

// NewMySQL is CreateMySQL for one test, dropped when it ends.
func NewMySQL(t testing.TB, sqlFiles ...string) *MySQL {
	t.Helper()
	admin := MySQLURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := CreateMySQL(ctx, admin, sqlFiles...)
	if err != nil {
		t.Fatalf("creating a test database: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Drop(); err != nil {
			t.Errorf("dropping %s: %v", m.Name, err)
		}
	})
	return m
}
