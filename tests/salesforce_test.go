package tests

import (
	"archive/zip"
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/sfschema"
	"github.com/odatagw/odatagw/internal/testdb"
)

// shopConfig is a configuration serving the relations fixture, with an
// Indirect Lookup and a name field chosen.
func shopConfig(t *testing.T, dsn string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "odatagw.yaml")
	cfg := fmt.Sprintf(`public_url: https://odata.example.com
sources:
  shop:
    dsn: %q
    exclude: [warehouses]
    keys: {big_orders: [id]}
    lookups: {orders.customer_number: Account.ERP_Number__c}
    name_fields: {products: title}
    auth: {basic: true}
`, dsn)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readPackage reads a package directory as one text, a file after
// another, for golden comparison; and checks every file against the
// Metadata API's schema.
func readPackage(t *testing.T, dir string) string {
	t.Helper()
	schema := sfschema.Load(t)
	var paths []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			paths = append(paths, filepath.ToSlash(rel))
		}
		return err
	})
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range schema.Validate(data) {
			t.Errorf("%s: %v", p, err)
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", p, data)
	}
	return b.String()
}

// TestSalesforcePackageOfTheDemo: the embedded demo's package, from the
// binary with no database server: golden, and valid against the schema.
func TestSalesforcePackageOfTheDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pkg")
	stdout, stderr, code := runCLI(t, "salesforce", "package", "demo", "--public-url", "https://odata.example.com", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	for _, w := range []string{"4 lookups", "Orders.CustomerId -> Customers__x (ExternalLookup, related list Orders)",
		"customer_years.CustomerId -> Customers__x (ExternalLookup, related list customer_years)",
		"report type Customers with Customer Years: Customers_with_customer_years", "report type Orders By Month: orders_by_month_summary",
		"OrderLines.ProductId -> Products__x", "sf project deploy start --metadata-dir"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("the command's output lacks %q:\n%s", w, stdout)
		}
	}
	checkGolden(t, "salesforce-demo.txt", []byte(readPackage(t, out)))

	// a zip holds the same files under one folder
	zipPath := filepath.Join(t.TempDir(), "demo.zip")
	if _, stderr, code := runCLI(t, "salesforce", "package", "demo", "--public-url", "https://odata.example.com", "--out", zipPath); code != 0 {
		t.Fatalf("zip: exit %d: %s", code, stderr)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		rc, _ := f.Open()
		got, _ := io.ReadAll(rc)
		rc.Close()
		want, err := os.ReadFile(filepath.Join(out, strings.TrimPrefix(f.Name, "odatagw_demo/")))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s in the zip differs from the directory's (%v)", f.Name, err)
		}
	}
}

// TestSalesforcePackagePostgres and ...MySQL: a schema with a foreign key
// of every kind becomes the package the golden files hold.
func TestSalesforcePackagePostgres(t *testing.T) {
	db := testdb.NewPostgres(t, testdb.Fixture("relations.sql"))
	salesforceScenario(t, "postgres", db.DSN)
}

func TestSalesforcePackageMySQL(t *testing.T) {
	db := testdb.NewMySQL(t, testdb.MySQLFixture("relations.sql"))
	salesforceScenario(t, "mysql", db.DSN)
}

func salesforceScenario(t *testing.T, kind, dsn string) {
	cfg := shopConfig(t, dsn)
	out := filepath.Join(t.TempDir(), "pkg")
	stdout, stderr, code := runCLI(t, "salesforce", "package", "shop", "--config", cfg, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	for _, w := range []string{
		"orders.customer_id -> customers__x (ExternalLookup, related list orders)",
		"orders.billing_customer_id -> customers__x (ExternalLookup, related list orders_billing_customer_id)",
		"orders.customer_number -> Account.ERP_Number__c (IndirectLookup, related list orders)",
		"order_lines.order_id -> orders__x (ExternalLookup",
		"employees.manager_id -> employees__x (ExternalLookup",
		"5 lookups",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("the command's output lacks %q:\n%s", w, stdout)
		}
	}
	text := readPackage(t, out)
	checkGolden(t, "salesforce-"+kind+".txt", []byte(text))
	if strings.Contains(text, "warehouses__x") {
		t.Error("the package holds an object for the table that is not served")
	}

	// the report says why the other foreign keys stay plain fields
	report, _, _ := runCLI(t, "check", dsn, "--exclude", "warehouses", "--key", "big_orders=id")
	for _, w := range []string{"foreign key to warehouses stays a plain field: warehouses is not served",
		"foreign key to products.sku stays a plain field", "composite foreign key (order_id, line_no) to order_lines",
		"External Lookup to customers__x", "records are named by name"} {
		if !strings.Contains(report, w) {
			t.Errorf("odatagw check lacks %q:\n%s", w, report)
		}
	}

	// diff: the package agrees with itself
	if stdout, stderr, code := runCLI(t, "salesforce", "diff", "shop", out, "--config", cfg); code != 0 || !strings.Contains(stdout, "deploying changes nothing") {
		t.Errorf("the package against itself: exit %d: %s%s", code, stdout, stderr)
	}
	// an org retrieved before a column was added, with a dropped column,
	// another length and a lookup a sync turned back into a number
	org := copyDir(t, out)
	edit(t, filepath.Join(org, "unpackaged", "objects", "customers__x.object"), func(d string) string {
		d = dropField(d, "notes__c")
		d = strings.Replace(d, "<fields>", "<fields>\n        <fullName>fax__c</fullName>\n        <externalDeveloperName>fax</externalDeveloperName>\n        <label>Fax</label>\n        <length>30</length>\n        <type>Text</type>\n    </fields>\n    <fields>", 1)
		return strings.Replace(d, "<length>100</length>", "<length>80</length>", 1)
	})
	edit(t, filepath.Join(org, "unpackaged", "objects", "orders__x.object"), func(d string) string {
		i := strings.Index(d, "<fullName>customer_id__c</fullName>")
		j := i + strings.Index(d[i:], "</fields>")
		return d[:i] + "<fullName>customer_id__c</fullName>\n        <externalDeveloperName>customer_id</externalDeveloperName>\n        <precision>18</precision>\n        <scale>0</scale>\n        <type>Number</type>\n    " + d[j:]
	})
	stdout, stderr, code = runCLI(t, "salesforce", "diff", "shop", org, "--config", cfg)
	if code != 1 {
		t.Errorf("a differing org: exit %d, want 1: %s", code, stderr)
	}
	for _, w := range []string{"+ customers__x.notes__c", "- customers__x.fax__c (Text(30))", "~ customers__x.name__c: Text(80) -> Text(100)",
		"~ orders__x.customer_id__c: Number(18,0) -> External Lookup to customers__x", "4 differences",
		"! orders__x.billing_customer_id__c (External Lookup to customers__x)"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("the diff lacks %q:\n%s", w, stdout)
		}
	}
	// bad input: not a retrieved directory, an unreachable database
	if _, stderr, code := runCLI(t, "salesforce", "diff", "shop", t.TempDir(), "--config", cfg); code != 2 || !strings.Contains(stderr, "not a retrieved metadata directory") {
		t.Errorf("an empty directory: exit %d: %s", code, stderr)
	}
	unreachable := shopConfig(t, regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(dsn, "127.0.0.1:1"))
	never := filepath.Join(t.TempDir(), "never.zip")
	if _, stderr, code := runCLI(t, "salesforce", "package", "shop", "--config", unreachable, "--out", never); code != 1 || stderr == "" {
		t.Errorf("an unreachable database: exit %d: %s", code, stderr)
	}
	if entries, _ := os.ReadDir(filepath.Dir(never)); len(entries) != 0 {
		t.Errorf("an unreachable database left %v behind", entries)
	}
	// a lookup naming a column the database does not have
	bad := shopConfig(t, dsn)
	edit(t, bad, func(d string) string { return strings.Replace(d, "orders.customer_number", "orders.customer_no", 1) })
	if _, stderr, code := runCLI(t, "salesforce", "package", "shop", "--config", bad, "--out", never); code != 1 || !strings.Contains(stderr, "orders has no served column customer_no") {
		t.Errorf("a lookup of no column: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(never); err == nil {
		t.Error("a refused package was written")
	}
}

// TestSalesforceAdminAPI: the admin API's package follows the form, and
// its diff takes the org's side as a zip.
func TestSalesforceAdminAPI(t *testing.T) {
	db := testdb.NewPostgres(t, testdb.Fixture("relations.sql"))
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "key", map[string]config.Source{"shop": {DSN: db.DSN, Exclude: []string{"warehouses"},
		Lookups: map[string]string{"orders.customer_number": "Account.ERP_Number__c"}, Auth: config.Auth{Basic: true}}})
	pkg := ag.api(t, "GET", "/api/sources/shop/salesforce-metadata?odata=4.0", nil)
	if pkg.Status != 200 {
		t.Fatalf("package: %d %s", pkg.Status, pkg.Body)
	}
	zr, err := zip.NewReader(bytes.NewReader(pkg.Body), int64(len(pkg.Body)))
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		all.WriteString(f.Name + "\n" + string(b))
	}
	for _, w := range []string{"<type>OData4</type>", "odatagw_shop/objects/orders__x.object", "<type>IndirectLookup</type>",
		"<parameterValue>" + ag.odata + "/odata/shop</parameterValue>", "odatagw_shop/permissionsets/odatagw_shop.permissionset"} {
		if !strings.Contains(all.String(), w) {
			t.Errorf("the package lacks %s", w)
		}
	}
	diff := do(t, "POST", ag.admin+"/api/sources/shop/salesforce-diff?odata=4.0", pkg.Body, "Authorization", "Bearer "+ag.token, "Content-Type", "application/zip")
	if diff.Status != 200 || !strings.Contains(string(diff.Body), `"changes":[]`) {
		t.Errorf("the package against itself: %d %s", diff.Status, diff.Body)
	}
	diff = do(t, "POST", ag.admin+"/api/sources/shop/salesforce-diff", pkg.Body, "Authorization", "Bearer "+ag.token, "Content-Type", "application/zip")
	if !strings.Contains(string(diff.Body), `"kind":"change","object":"shop","was":"OData4","becomes":"OData401"`) {
		t.Errorf("4.01 against a 4.0 org: %d %s", diff.Status, diff.Body)
	}
	for _, c := range []struct {
		method, path string
		body         []byte
		status       int
		want         string
	}{
		{"POST", "/api/sources/shop/salesforce-diff", []byte("not a zip"), 422, "not a zip of a retrieved metadata directory"},
		{"GET", "/api/sources/shop/salesforce-metadata?credential=legacy", nil, 422, "works with the OData 4.0 type only"},
		{"GET", "/api/sources/shop/salesforce-metadata?odata=5", nil, 422, "is 4.01 or 4.0"},
		{"GET", "/api/sources/nope/salesforce-metadata", nil, 404, "no source named"},
	} {
		r := do(t, c.method, ag.admin+c.path, c.body, "Authorization", "Bearer "+ag.token, "Content-Type", "application/zip")
		if r.Status != c.status || !strings.Contains(string(r.Body), c.want) {
			t.Errorf("%s %s: %d %s, want %d saying %q", c.method, c.path, r.Status, r.Body, c.status, c.want)
		}
	}
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "retrieved", "unpackaged")
	err := filepath.WalkDir(from, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(to)
}

func edit(t *testing.T, path string, f func(string) string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(f(string(data))), 0o644); err != nil {
		t.Fatal(err)
	}
}

func dropField(d, name string) string {
	i := strings.Index(d, "<fullName>"+name+"</fullName>")
	start := strings.LastIndex(d[:i], "<fields>")
	end := i + strings.Index(d[i:], "</fields>") + len("</fields>")
	return d[:start] + strings.TrimLeft(d[end:], " \n")
}

// TestSalesforcePackageCredential: the package's credential says how
// Salesforce authenticates, from --auth or the source's configuration; a
// bare database URL gets Password Authentication (a gateway refuses every
// call to a source without credentials), said on standard error; an
// anonymous package says so loudly; a package that cannot be written
// fails. Needs no database server: the database is a SQLite file.
func TestSalesforcePackageCredential(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "erp.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cfg := filepath.Join(dir, "odatagw.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("public_url: https://odata.example.com\nsources:\n  erp:\n    dsn: %q\n    auth: {token_header: X-Erp-Key}\n  open:\n    dsn: %q\n", "sqlite:"+path, "sqlite:"+path)), 0o600)

	cases := []struct {
		name     string
		args     []string
		protocol string // the External Credential's authenticationProtocol
		header   string // the named credential's header, with a token
		stderr   []string
		quiet    bool // nothing on standard error
	}{
		{"a bare DSN: basic, and said", []string{"sqlite:" + path}, "Basic", "", []string{"--auth basic", "auth: {basic: true}"}, false},
		{"--auth basic", []string{"sqlite:" + path, "--auth", "basic"}, "Basic", "", nil, true},
		{"--auth token", []string{"sqlite:" + path, "--auth", "token"}, "Custom", "X-Api-Key", nil, true},
		{"--auth token --token-header", []string{"sqlite:" + path, "--auth", "token", "--token-header", "X-Key"}, "Custom", "X-Key", nil, true},
		{"--auth oauth", []string{"sqlite:" + path, "--auth", "oauth"}, "Oauth", "", nil, true},
		{"--auth none: loudly anonymous", []string{"sqlite:" + path, "--auth", "none"}, "NoAuthentication", "", []string{"WARNING: the package is anonymous"}, false},
		{"a configured source's own auth", []string{"erp", "--config", cfg}, "Custom", "X-Erp-Key", nil, true},
		{"--auth against the configuration", []string{"erp", "--config", cfg, "--auth", "none"}, "NoAuthentication", "",
			[]string{"served with auth token, but the package's credential is none", "WARNING: the package is anonymous"}, false},
		{"a configured source without auth", []string{"open", "--config", cfg}, "Basic", "", []string{"source open has no auth section"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pkg")
			args := append([]string{"salesforce", "package"}, c.args...)
			args = append(args, "--public-url", "https://odata.example.com", "--out", out)
			stdout, stderr, code := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, stdout, stderr)
			}
			for _, w := range c.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("standard error lacks %q:\n%s", w, stderr)
				}
			}
			if c.quiet && stderr != "" {
				t.Errorf("standard error: %s", stderr)
			}
			name := "erp"
			if c.args[0] == "open" {
				name = "open"
			}
			ec, err := os.ReadFile(filepath.Join(out, "externalCredentials", name+".externalCredential"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "<authenticationProtocol>" + c.protocol + "</authenticationProtocol>"; !strings.Contains(string(ec), want) {
				t.Errorf("the External Credential lacks %s:\n%s", want, ec)
			}
			nc, _ := os.ReadFile(filepath.Join(out, "namedCredentials", name+".namedCredential"))
			if c.header != "" && !strings.Contains(string(nc), "<parameterName>"+c.header+"</parameterName>") {
				t.Errorf("the named credential does not send %s:\n%s", c.header, nc)
			}
			readPackage(t, out) // valid against the Metadata API's schema
		})
	}

	// a package that cannot be written fails, and says why
	blocker := filepath.Join(dir, "a-file")
	os.WriteFile(blocker, []byte("x"), 0o600)
	for _, out := range []string{filepath.Join(blocker, "pkg.zip"), filepath.Join(blocker, "pkg")} {
		_, stderr, code := runCLI(t, "salesforce", "package", "sqlite:"+path, "--public-url", "https://odata.example.com", "--out", out)
		if code == 0 || !strings.Contains(stderr, "a-file") || strings.Contains(stderr, "wrote") {
			t.Errorf("--out %s under a file: exit %d: %s", out, code, stderr)
		}
	}
}
