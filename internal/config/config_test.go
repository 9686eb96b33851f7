package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "odatagw.yaml")
	t.Setenv("ERP_PASSWORD", "s3cret")
	os.WriteFile(path, []byte(`
listen: 0.0.0.0:9000
page_size: 500
sources:
  erp:
    dsn: postgres://gw:${ERP_PASSWORD}@db/erp
    schemas: [public, sales]
    exclude: ["audit_*"]
    keys: {order_summary: [order_id]}
    names: {tbl_cust: Customers}
    columns: {tbl_cust: {cust_nm: Name}}
    statement_timeout: 30s
`), 0o600)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Sources["erp"]
	if s.DSN != "postgres://gw:s3cret@db/erp" {
		t.Errorf("environment not expanded: %q", s.DSN)
	}
	o := s.Resolved(*f)
	if o.PageSize != 500 || o.StatementTimeout.D() != 30*time.Second || o.Keys["order_summary"][0] != "order_id" ||
		o.Names["tbl_cust"] != "Customers" || o.Columns["tbl_cust"]["cust_nm"] != "Name" {
		t.Errorf("options not carried over: %+v", o)
	}
}

func TestLoadRejectsUnknownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("sources:\n  erp:\n    dsn: sqlite:x.db\n    pagesize: 10\n"), 0o600)
	if _, err := Load(path); err == nil {
		t.Fatal("a misspelt key must be an error")
	}
}

func TestParseSourceFlag(t *testing.T) {
	if n, d, err := ParseSourceFlag("demo=sqlite:/tmp/x.db"); err != nil || n != "demo" || d != "sqlite:/tmp/x.db" {
		t.Errorf("got %q %q %v", n, d, err)
	}
	for _, bad := range []string{"nodsn", "=sqlite:x", "bad name=sqlite:x"} {
		if _, _, err := ParseSourceFlag(bad); err == nil {
			t.Errorf("%q must be refused", bad)
		}
	}
}

// TestDocumentedExample loads the annotated example of
// docs/configuration.md, so that the documentation stays loadable.
func TestDocumentedExample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "```yaml\n")
	end := strings.Index(text[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no yaml block in docs/configuration.md")
	}
	path := filepath.Join(t.TempDir(), "example.yaml")
	os.WriteFile(path, []byte(text[start+8:start+8+end]), 0o600)
	f, err := Load(path)
	if err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	a := f.Sources["erp"].Auth
	if !a.Basic || a.TokenHeader != "X-Api-Key" || a.Bearer == nil || a.Bearer.Audience != "odatagw-erp" ||
		a.Sets["Salaries"].Writers[0] != "hr" || a.RoleClaim != "db_role" || !f.Sources["archive"].Auth.Anonymous {
		t.Errorf("auth read as %+v", a)
	}
	if erp := f.Sources["erp"]; len(erp.Replicas) != 2 || erp.MaxReplicaLag.D() != 5*time.Second || erp.Check() != nil {
		t.Errorf("replicas read as %v, %v (%v)", erp.Replicas, erp.MaxReplicaLag, erp.Check())
	}
	if sums := f.Sources["erp"].Summaries; len(sums) != 3 || sums["industry_activity"].Dimensions[1].Bucket != "year" || len(sums["sku_totals"].Measures) != 4 {
		t.Errorf("summaries read as %+v", sums)
	}
}

// TestResolved: every default is decided in one place, from the source's
// own setting, then the file's global one, then the gateway's.
func TestResolved(t *testing.T) {
	ttl := 5 * time.Second
	off := Duration(0)
	cases := []struct {
		name   string
		src    Source
		global File
		check  func(Source) bool
	}{
		{"gateway defaults", Source{}, File{}, func(s Source) bool {
			return s.PageSize == DefaultPageSize && s.StatementTimeout.D() == DefaultStatementTimeout &&
				s.MaxConnections == DefaultMaxConnections && s.CacheTTL.D() == DefaultCacheTTL
		}},
		{"the file's global values", Source{}, File{PageSize: 200, StatementTimeout: 9 * time.Second, Cache: Cache{TTL: &ttl}}, func(s Source) bool {
			return s.PageSize == 200 && s.StatementTimeout.D() == 9*time.Second && s.CacheTTL.D() == ttl
		}},
		{"the source's own values win", Source{PageSize: 50, StatementTimeout: Duration(time.Second), CacheTTL: &off, MaxConnections: 3},
			File{PageSize: 200, StatementTimeout: 9 * time.Second, Cache: Cache{TTL: &ttl}}, func(s Source) bool {
				return s.PageSize == 50 && s.StatementTimeout.D() == time.Second && s.CacheTTL.D() == 0 && s.MaxConnections == 3
			}},
	}
	for _, c := range cases {
		got := c.src.Resolved(c.global)
		if !c.check(got) {
			t.Errorf("%s: %+v", c.name, got)
		}
		if again := got.Resolved(File{}); again.PageSize != got.PageSize || *again.CacheTTL != *got.CacheTTL ||
			again.StatementTimeout != got.StatementTimeout || again.MaxConnections != got.MaxConnections {
			t.Errorf("%s: resolving twice changed %+v into %+v", c.name, got, again)
		}
	}
}

// TestCheck: the bounds a source's settings keep, from the file, the flags
// or the admin API alike; the file's page size is refused past 2,000, not
// clamped.
func TestCheck(t *testing.T) {
	for _, c := range []struct {
		src   Source
		field string // "" when it passes
	}{
		{Source{}, ""},
		{Source{PageSize: 2000, Count: "auto", SetCount: map[string]string{"Orders": "estimated"}}, ""},
		{Source{PageSize: 2001}, "page_size"},
		{Source{PageSize: -1}, "page_size"},
		{Source{Count: "guess"}, "count"},
		{Source{SetCount: map[string]string{"Orders": "sometimes"}}, "set_count"},
		{Source{DSN: "postgres://gw@db/erp", Replicas: []string{"postgres://standby1/erp", "host=standby2 dbname=erp"}, MaxReplicaLag: Duration(time.Second)}, ""},
		{Source{DSN: "postgres://gw@db/erp", Replicas: []string{"postgres://gw:s3cret@standby1/erp"}}, "replicas"},
		{Source{DSN: "postgres://gw@db/erp", Replicas: []string{"mysql://standby1/erp"}}, "replicas"},
		{Source{DSN: "mysql://gw@db/erp", Replicas: []string{"postgres://standby1/erp"}}, "replicas"},
		{Source{DSN: "postgres://gw@db/erp", Replicas: []string{"postgres://standby1/erp", "postgres://standby1/erp"}}, "replicas"},
		{Source{DSN: "postgres://gw@db/erp", MaxReplicaLag: Duration(-time.Second)}, "max_replica_lag"},
	} {
		err := c.src.Check()
		var inv *Invalid
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v: %v", c.src, err)
		case c.field != "" && (!errors.As(err, &inv) || inv.Field != c.field):
			t.Errorf("%+v: %v, want a refusal of %s", c.src, err, c.field)
		}
	}
}
