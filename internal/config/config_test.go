package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/testdb"
	_ "github.com/odatagw/odatagw/sources/sqlite"
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
	o := s.Options("erp", *f)
	if o.PageSize != 500 || o.StatementTimeout != 30*time.Second || o.Keys["order_summary"][0] != "order_id" ||
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
	for _, bad := range []string{"nodsn", "=sqlite:x", "bad name=sqlite:x", "x=mysql://h/db"} {
		if _, _, err := ParseSourceFlag(bad); err == nil {
			t.Errorf("%q must be refused", bad)
		}
	}
}

// TestDocumentedExample loads the annotated example of
// docs/configuration.md, so that the documentation stays loadable.
func TestDocumentedExample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testdb.Root(), "docs", "configuration.md"))
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
}
