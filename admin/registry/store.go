// Package registry keeps the data sources admins register, in a store the
// gateway owns: an SQLite file by default, or a PostgreSQL database that
// several replicas share. Passwords in DSNs are sealed with the operator's
// secret key and never leave the package in answers.
package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/odatagw/odatagw/internal/dsn"
)

// Errors the API maps to statuses.
var (
	ErrNotFound = errors.New("no such source")
	ErrExists   = errors.New("a source of that name exists")
	ErrChanged  = errors.New("the source was changed since it was read")
)

// Store is the registry's storage.
type Store struct {
	db       *sql.DB
	box      *box
	location string // for messages: a path, or the DSN without password
	shared   bool   // PostgreSQL: other replicas may write too
}

const schema = `CREATE TABLE IF NOT EXISTS odatagw_sources (
	name       TEXT PRIMARY KEY,
	dsn        TEXT NOT NULL,
	password   TEXT,
	options    TEXT NOT NULL,
	origin     TEXT NOT NULL,
	version    BIGINT NOT NULL,
	updated_at TEXT NOT NULL
)`

// Open opens (and creates) the store at location: a file path, or a
// postgres:// URL. secretKey seals passwords; without it, DSNs with a
// password cannot be saved.
func Open(ctx context.Context, location, secretKey string) (*Store, error) {
	b, err := newBox(secretKey)
	if err != nil {
		return nil, err
	}
	s := &Store{box: b}
	if strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://") {
		s.shared = true
		s.location = dsn.Redact(location)
		s.db, err = sql.Open("pgx", location)
		if err != nil {
			return nil, fmt.Errorf("state store %s: %w", s.location, err)
		}
		s.db.SetMaxOpenConns(4)
	} else {
		path := strings.TrimPrefix(location, "sqlite:")
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("state store %s: %w", path, err)
			}
		}
		s.location = path
		// the file holds sealed passwords: readable by its owner only
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600); err == nil {
			f.Close()
		}
		s.db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("state store %s: %w", path, err)
		}
		s.db.SetMaxOpenConns(1)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("state store %s: %w", s.location, err)
	}
	return s, nil
}

// migrate creates the tables. Replicas starting together may race to
// create them in PostgreSQL; a second try sees the winner's table.
func (s *Store) migrate(ctx context.Context) error {
	var err error
	for try := 0; try < 3; try++ {
		if _, err = s.db.ExecContext(ctx, schema); err == nil {
			if _, err = s.db.ExecContext(ctx, usersSchema); err == nil {
				if _, err = s.db.ExecContext(ctx, agentsSchema); err == nil {
					if _, err = s.db.ExecContext(ctx, servicesSchema); err == nil {
						return nil
					}
				}
			}
		}
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
	}
	return err
}

// Shared reports whether other gateways may change the store.
func (s *Store) Shared() bool { return s.shared }

// HasKey reports whether passwords can be saved.
func (s *Store) HasKey() bool { return s.box != nil }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the store answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

const columns = `name, dsn, password, options, origin, version, updated_at`

func (s *Store) scan(row interface{ Scan(...any) error }) (Source, error) {
	var src Source
	var password sql.NullString
	var dsn, opts, updated string
	if err := row.Scan(&src.Name, &dsn, &password, &opts, &src.Origin, &src.Version, &updated); err != nil {
		return src, err
	}
	if err := json.Unmarshal([]byte(opts), &src.Source); err != nil {
		return src, fmt.Errorf("source %s: damaged options: %w", src.Name, err)
	}
	src.DSN = dsn // a column of its own
	src.UpdatedAt, _ = time.Parse(time.RFC3339Nano, updated)
	if password.Valid && password.String != "" {
		pw, err := s.box.open(password.String, src.Name)
		if err != nil {
			return src, err
		}
		src.Password, src.PasswordSet = pw, true
	}
	return src, nil
}

// List returns every registration, sorted by name, passwords opened. A
// registration whose password cannot be opened is returned in broken
// with the reason, so that one bad row does not hide the others.
func (s *Store) List(ctx context.Context) (ok []Source, broken map[string]error, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM odatagw_sources ORDER BY name`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	broken = map[string]error{}
	for rows.Next() {
		src, err := s.scan(rows)
		if err != nil {
			if src.Name == "" {
				return nil, nil, err
			}
			broken[src.Name] = err
			continue
		}
		ok = append(ok, src)
	}
	return ok, broken, rows.Err()
}

// Versions returns each registration's version: a cheap way for a
// replica to see what changed.
func (s *Store) Versions(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, version FROM odatagw_sources`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var n string
		var v int64
		if err := rows.Scan(&n, &v); err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, rows.Err()
}

// Get returns one registration.
func (s *Store) Get(ctx context.Context, name string) (Source, error) {
	src, err := s.scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM odatagw_sources WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Source{}, ErrNotFound
	}
	return src, err
}

// nextVersion is later than prev and than any version handed out
// before now, so that a source removed and added again between two looks
// of a replica still reads as changed.
func nextVersion(prev int64) int64 {
	v := time.Now().UnixMicro()
	if v <= prev {
		v = prev + 1
	}
	return v
}

func (s *Store) row(src Source) (password any, opts string, err error) {
	if src.Password != "" {
		sealed, err := s.box.seal(src.Password, src.Name)
		if err != nil {
			return nil, "", err
		}
		password = sealed
	}
	// the DSN and the password have columns of their own
	settings := src.Source
	settings.DSN = ""
	b, err := json.Marshal(settings)
	return password, string(b), err
}

// Create saves a new registration.
func (s *Store) Create(ctx context.Context, src Source) (Source, error) {
	password, opts, err := s.row(src)
	if err != nil {
		return Source{}, err
	}
	src.Version, src.UpdatedAt = nextVersion(0), time.Now().UTC()
	res, err := s.db.ExecContext(ctx, `INSERT INTO odatagw_sources (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (name) DO NOTHING`, src.Name, src.DSN, password, opts, src.Origin, src.Version, src.UpdatedAt.Format(time.RFC3339Nano))
	if err != nil {
		return Source{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Source{}, ErrExists
	}
	src.PasswordSet = src.Password != ""
	return src, nil
}

// Update replaces a registration. ifVersion, when not 0, must be the
// stored version (the admin's If-Match), else ErrChanged.
func (s *Store) Update(ctx context.Context, src Source, ifVersion int64) (Source, error) {
	password, opts, err := s.row(src)
	if err != nil {
		return Source{}, err
	}
	cur, err := s.Get(ctx, src.Name)
	if err != nil {
		return Source{}, err
	}
	if ifVersion != 0 && cur.Version != ifVersion {
		return Source{}, ErrChanged
	}
	src.Version, src.UpdatedAt = nextVersion(cur.Version), time.Now().UTC()
	// the version in the WHERE clause makes read-then-write one step:
	// a concurrent update between Get and here makes this one fail
	res, err := s.db.ExecContext(ctx, `UPDATE odatagw_sources SET dsn = $2, password = $3, options = $4, origin = $5,
		version = $6, updated_at = $7 WHERE name = $1 AND version = $8`,
		src.Name, src.DSN, password, opts, src.Origin, src.Version, src.UpdatedAt.Format(time.RFC3339Nano), cur.Version)
	if err != nil {
		return Source{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Source{}, ErrChanged
	}
	src.PasswordSet = src.Password != ""
	return src, nil
}

// Delete removes a registration; ifVersion as for Update.
func (s *Store) Delete(ctx context.Context, name string, ifVersion int64) error {
	return s.deleteRow(ctx, "odatagw_sources", name, ifVersion, ErrNotFound)
}

// deleteRow removes name's row of a table of the store (one of its own
// names, never a caller's), at version ifVersion when it is not 0:
// notFound when there is no such row, ErrChanged when it has another
// version.
func (s *Store) deleteRow(ctx context.Context, table, name string, ifVersion int64, notFound error) error {
	q, args := `DELETE FROM `+table+` WHERE name = $1`, []any{name}
	if ifVersion != 0 {
		q, args = q+` AND version = $2`, append(args, ifVersion)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		if err := s.db.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE name = $1`, name).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return notFound
		}
		return ErrChanged
	}
	return nil
}

// Names lists the registered names, sorted.
func (s *Store) Names(ctx context.Context) ([]string, error) {
	v, err := s.Versions(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(v))
	for n := range v {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}
