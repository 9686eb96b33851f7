package registry

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

func TestSealing(t *testing.T) {
	a, _ := newBox("key one")
	b, _ := newBox("key two")
	sealed, err := a.seal("s3cret", "erp")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "s3cret") {
		t.Fatal("sealed form holds the password")
	}
	if pw, err := a.open(sealed, "erp"); err != nil || pw != "s3cret" {
		t.Fatalf("open = %q, %v", pw, err)
	}
	if _, err := b.open(sealed, "erp"); err == nil || !strings.Contains(err.Error(), "ODATAGW_SECRET_KEY") {
		t.Fatalf("another key opened it: %v", err)
	}
	if _, err := a.open(sealed, "crm"); err == nil {
		t.Fatal("a password sealed for one source opened for another")
	}
	var none *box
	if _, err := none.seal("x", "erp"); !errors.Is(err, ErrNoSecretKey) {
		t.Fatalf("sealing without a key: %v", err)
	}
}

// stores runs a test against an SQLite store and, where a server is
// given, a PostgreSQL one.
func stores(t *testing.T, key string, test func(t *testing.T, open func() *Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state", "state.db")
		test(t, func() *Store { return mustOpen(t, path, key) })
	})
	t.Run("postgres", func(t *testing.T) {
		db := testdb.NewPostgres(t)
		test(t, func() *Store { return mustOpen(t, db.DSN, key) })
	})
}

func mustOpen(t *testing.T, location, key string) *Store {
	t.Helper()
	s, err := Open(context.Background(), location, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	stores(t, "operator key", func(t *testing.T, open func() *Store) {
		ctx := context.Background()
		s := open()
		ttl := config.Duration(5 * time.Second)
		in := Source{Name: "erp", Password: "s3cret", Origin: OriginAPI, Source: config.Source{DSN: "postgres://app@db/erp",
			Schemas: []string{"sales"}, ReadOnly: true, CacheTTL: &ttl, Keys: map[string][]string{"v": {"id"}}}}
		created, err := s.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, in); !errors.Is(err, ErrExists) {
			t.Fatalf("second create: %v", err)
		}
		got, err := s.Get(ctx, "erp")
		if err != nil {
			t.Fatal(err)
		}
		if got.Password != "s3cret" || !got.PasswordSet || got.Version != created.Version || !got.ReadOnly ||
			got.Schemas[0] != "sales" || *got.CacheTTL != ttl || got.Keys["v"][0] != "id" {
			t.Fatalf("read back %+v", got)
		}
		// the password is sealed at rest
		var raw string
		s.db.QueryRow(`SELECT password FROM odatagw_sources WHERE name = 'erp'`).Scan(&raw)
		if raw == "" || strings.Contains(raw, "s3cret") {
			t.Fatalf("stored password column %q", raw)
		}
		// If-Match: a stale version is refused, the current one accepted
		got.ReadOnly = false
		if _, err := s.Update(ctx, got, created.Version+1); !errors.Is(err, ErrChanged) {
			t.Fatalf("update with a stale version: %v", err)
		}
		updated, err := s.Update(ctx, got, created.Version)
		if err != nil || updated.Version <= created.Version {
			t.Fatalf("update: %v %d", err, updated.Version)
		}
		if _, err := s.Update(ctx, got, created.Version); !errors.Is(err, ErrChanged) {
			t.Fatalf("second admin's update with the old version: %v", err)
		}
		// a second handle (another replica) sees it
		other := open()
		v, err := other.Versions(ctx)
		if err != nil || v["erp"] != updated.Version {
			t.Fatalf("other handle versions %v %v", v, err)
		}
		if err := s.Delete(ctx, "erp", created.Version); !errors.Is(err, ErrChanged) {
			t.Fatalf("delete with a stale version: %v", err)
		}
		if err := s.Delete(ctx, "erp", updated.Version); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "erp", 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete again: %v", err)
		}
		// added again: a version later than any before, so replicas see a change
		again, err := s.Create(ctx, in)
		if err != nil || again.Version <= updated.Version {
			t.Fatalf("re-created version %d after %d (%v)", again.Version, updated.Version, err)
		}
	})
}

func TestStoreKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	ctx := context.Background()
	s := mustOpen(t, path, "")
	if _, err := s.Create(ctx, Source{Name: "erp", Source: config.Source{DSN: "postgres://app@db/erp"}, Password: "x", Origin: OriginAPI}); !errors.Is(err, ErrNoSecretKey) {
		t.Fatalf("saving a password without a key: %v", err)
	}
	if _, err := s.Create(ctx, Source{Name: "lite", Source: config.Source{DSN: "sqlite:/tmp/x.db"}, Origin: OriginAPI}); err != nil {
		t.Fatalf("a DSN without a password needs no key: %v", err)
	}
	s.Close()
	keyed := mustOpen(t, path, "right")
	if _, err := keyed.Create(ctx, Source{Name: "erp", Source: config.Source{DSN: "postgres://app@db/erp"}, Password: "x", Origin: OriginAPI}); err != nil {
		t.Fatal(err)
	}
	keyed.Close()
	wrong := mustOpen(t, path, "wrong")
	ok, broken, err := wrong.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ok) != 1 || ok[0].Name != "lite" || broken["erp"] == nil || !strings.Contains(broken["erp"].Error(), "ODATAGW_SECRET_KEY") {
		t.Fatalf("with the wrong key: ok=%v broken=%v", ok, broken)
	}
}
