package tests

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
	"github.com/odatagw/odatagw/metadata"
	"github.com/odatagw/odatagw/odata/plan"
	"github.com/odatagw/odatagw/odata/uri"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/postgres"
	"github.com/odatagw/odatagw/sources/sqlgen"
	"github.com/odatagw/odatagw/sources/sqlite"
)

// gatewaySQL is the page query the gateway runs for a URL below a
// service root, without the page's LIMIT (see below).
func gatewaySQL(t *testing.T, svc *metadata.Service, d sqlgen.Dialect, url string) (string, []any) {
	t.Helper()
	path, query := splitReadable(url)
	req, perr := uri.Parse(path, query)
	if perr != nil {
		t.Fatalf("%s: %v", url, perr)
	}
	p, berr := plan.Build(svc, req, "GET")
	if berr != nil {
		t.Fatalf("%s: %v", url, berr)
	}
	// the filter and order as the gateway writes them, without the page's
	// LIMIT: on these small tables a LIMIT lets the planner walk the key's
	// order instead, which says nothing of the index the filter needs
	q := p.Query
	if p.Kind == plan.KindCollection {
		q.Limit = 0
	}
	s, args, err := sqlgen.Select(d, &q)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return s, args
}

// splitReadable separates a readable URL into its path and an encoded
// query, as a client sends it.
func splitReadable(u string) (string, string) {
	full := encodeQuery(u)
	path, query, _ := strings.Cut(full, "?")
	return path, query
}

// TestIndexesServeSalesforceFilters: for each filter form Salesforce
// sends, the SQL the gateway writes can be served by the index a DBA made
// for it (PostgreSQL's EXPLAIN with sequential scans off names it).
func TestIndexesServeSalesforceFilters(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("big.sql"))
	ctx := context.Background()
	src, err := sources.Open(ctx, sources.Options{Name: "big", DSN: db.DSN, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	pool := testPool(t, db.DSN)
	cases := []struct{ url, index string }{
		{"big_accounts?$filter=contains(note,'4f2a9') eq true", "big_accounts_note_trgm"},
		{"big_accounts?$filter=contains(note,'4f2a9')", "big_accounts_note_trgm"},
		{"big_accounts?$filter=startswith(name,'Account 4f2')", "big_accounts_name_prefix"},
		{"big_accounts?$filter=endswith(name,'4f2a9')", "big_accounts_name_trgm"},
		{"big_accounts?$search=4f2a9", "big_accounts_note_trgm"},
		{"big_accounts?$search=4f2a9 OR Lyon", "big_accounts_city_trgm"},
		{"big_accounts?$filter=tolower(city) eq 'paris'", "big_accounts_city_lower"},
		{"big_accounts?$filter=customer_id eq 42", "big_accounts_customer"},
		{"big_accounts?$filter=customer_id in (1,2,3)", "big_accounts_customer"},
		{"big_accounts?$orderby=created desc&$top=25", "big_accounts_created"},
		{"big_accounts(42)", "big_accounts_pkey"},
	}
	for _, c := range cases {
		query, args := gatewaySQL(t, src.Metadata(), postgres.Dialect(), c.url)
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// with sequential scans priced out, the plan shows whether an index
		// can serve the query at all
		conn.Exec(ctx, "SET enable_seqscan = off")
		rows, err := conn.Query(ctx, "EXPLAIN "+query, args...)
		if err != nil {
			conn.Release()
			t.Fatalf("%s: %v\n%s", c.url, err, query)
		}
		var plan strings.Builder
		for rows.Next() {
			var line string
			rows.Scan(&line)
			plan.WriteString(line + "\n")
		}
		rows.Close()
		conn.Exec(ctx, "RESET enable_seqscan")
		conn.Release()
		if !strings.Contains(plan.String(), c.index) {
			t.Errorf("%s: the index %s is not used\n%s\n%s", c.url, c.index, query, plan.String())
		}
	}
}

// TestSQLiteIndexServesStartsWith: a startswith filter is a GLOB prefix,
// which SQLite serves from the column's index.
func TestSQLiteIndexServesStartsWith(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "big.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{`CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
		`CREATE INDEX accounts_name ON accounts (name)`} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	src, err := sources.Open(ctx, sources.Options{Name: "lite", DSN: "sqlite:" + path, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	query, args := gatewaySQL(t, src.Metadata(), sqlite.Dialect(), "accounts?$filter=startswith(name,'Acc')")
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, notused int
		var detail string
		rows.Scan(&id, &parent, &notused, &detail)
		fmt.Fprintln(&plan, detail)
	}
	if !strings.Contains(plan.String(), "USING INDEX accounts_name") && !strings.Contains(plan.String(), "USING COVERING INDEX accounts_name") {
		t.Errorf("startswith is not served by the index:\n%s\n%s", query, plan.String())
	}
}

// TestMatchEscaping: a value's own %, _, \, [, *, ? and quotes never act
// as pattern characters, and non-ASCII text matches as itself, in both
// PostgreSQL (LIKE) and SQLite (GLOB); the answers are what Go's strings
// functions say.
func TestMatchEscaping(t *testing.T) {
	needPostgres(t)
	names := []string{"50% off", "50 off", "a_b", "axb", `back\slash`, `backslash`, "O'Neil", "Grüße", "GRÜSSE", "日本語テキスト",
		"[x]*?", "x*", "100%", "ab", "a%b", "Ab"}
	create := `CREATE TABLE tricky (id integer PRIMARY KEY, name text NOT NULL)`
	pg := testdb.NewPostgres(t)
	execSQL(t, pg.DSN, create)
	litePath := filepath.Join(t.TempDir(), "tricky.db")
	lite, err := sql.Open("sqlite", litePath)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	if _, err := lite.Exec(create); err != nil {
		t.Fatal(err)
	}
	pool := testPool(t, pg.DSN)
	for i, n := range names {
		if _, err := pool.Exec(context.Background(), `INSERT INTO tricky VALUES ($1, $2)`, i+1, n); err != nil {
			t.Fatal(err)
		}
		if _, err := lite.Exec(`INSERT INTO tricky VALUES (?, ?)`, i+1, n); err != nil {
			t.Fatal(err)
		}
	}
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: anyone(map[string]config.Source{
		"pg": {DSN: pg.DSN}, "lite": {DSN: "sqlite:" + litePath}})})
	probes := []string{"%", "_", `\`, "'", "50%", "a_b", `k\s`, "ü", "Grü", "語", "テキスト", "[x]", "*", "?", "x*", "%b", "", "A", "b"}
	funcs := map[string]func(s, sub string) bool{"contains": strings.Contains, "startswith": strings.HasPrefix, "endswith": strings.HasSuffix}
	for _, source := range []string{"pg", "lite"} {
		for fn, match := range funcs {
			for _, p := range probes {
				var want []string
				for _, n := range names {
					if match(n, p) {
						want = append(want, n)
					}
				}
				lit := strings.ReplaceAll(p, "'", "''")
				r := do(t, "GET", g.root(source)+encodeQuery("tricky?$select=name&$orderby=id&$filter="+fn+"(name,'"+lit+"')"), nil)
				if r.Status != 200 {
					t.Fatalf("%s %s(%q): %d %s", source, fn, p, r.Status, r.Body)
				}
				var got []string
				for _, row := range r.JSON(t)["value"].([]any) {
					got = append(got, row.(map[string]any)["name"].(string))
				}
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("%s %s(name,%q): %q, want %q", source, fn, p, got, want)
				}
			}
		}
	}
}

// TestSearchColumns: a set's searched properties can be named; $search
// then reads only those, and the report says which.
func TestSearchColumns(t *testing.T) {
	needPostgres(t)
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: anyone(map[string]config.Source{
		"all":  {DSN: pgDB.DSN},
		"name": {DSN: pgDB.DSN, Search: map[string][]string{"Customers": {"Name"}}},
	})})
	var city string
	if err := pgPool.QueryRow(context.Background(), `SELECT "City" FROM "Customers" WHERE "City" IS NOT NULL AND NOT EXISTS
		(SELECT 1 FROM "Customers" c2 WHERE c2."Name" ILIKE '%' || "Customers"."City" || '%') LIMIT 1`).Scan(&city); err != nil {
		t.Fatal(err)
	}
	count := func(source string) string {
		r := do(t, "GET", g.root(source)+encodeQuery("Customers/$count?$search=\""+city+"\""), nil)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", source, r.Status, r.Body)
		}
		return string(r.Body)
	}
	if n := count("all"); n == "0" {
		t.Fatalf("searching every text column for the city %q found nothing", city)
	}
	if n := count("name"); n != "0" {
		t.Errorf("searching only Name found %s customers by their city %q", n, city)
	}
	_, bad := serveGateway(app.Settings{Sources: anyone(map[string]config.Source{"erp": {DSN: pgDB.DSN, Search: map[string][]string{"Customers": {"Visits"}}}})})
	if bad == nil || !strings.Contains(bad.Error(), "no text property Visits") {
		t.Errorf("searching a number column: %v", bad)
	}
}

// TestIndexAdvice: odatagw check --indexes prints the indexes Salesforce's
// traffic needs and the database lacks, on tables big enough for one to
// matter, and the rest with --small-tables; run as printed, they leave
// nothing to advise.
func TestIndexAdvice(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	// an unindexed foreign key, as many schemas have them: on a table of
	// 20 rows (not analysed: counted) and of 12,000 rows (analysed)
	execSQL(t, db.DSN, `CREATE TABLE "Visits" ("VisitId" integer PRIMARY KEY, "CustomerId" integer NOT NULL REFERENCES "Customers", "Note" varchar(80))`,
		`INSERT INTO "Visits" SELECT i, 1 + i % 500, 'visit ' || i FROM generate_series(1, 20) i`,
		`CREATE TABLE "Calls" ("CallId" integer PRIMARY KEY, "CustomerId" integer NOT NULL REFERENCES "Customers", "Note" char(20))`,
		`INSERT INTO "Calls" SELECT i, 1 + i % 500, 'call' FROM generate_series(1, 12000) i`,
		`ANALYZE "Calls"`)
	out, errOut, code := runCLI(t, "check", db.DSN, "--indexes")
	if code != 1 || !strings.Contains(errOut, "the check found 3 errors") { // the fixture's tables without keys
		t.Fatalf("check --indexes: %d %s", code, errOut)
	}
	for _, want := range []string{
		`CREATE EXTENSION IF NOT EXISTS pg_trgm;`,
		`-- public.events (note), about 200,000 rows: $search and contains()`,
		`CREATE INDEX CONCURRENTLY IF NOT EXISTS "events_note_trgm" ON "public"."events" USING gin ("note" gin_trgm_ops);`,
		`-- public.Calls (CustomerId), about 12,000 rows: a foreign key: Salesforce's related lists filter on it`,
		`CREATE INDEX CONCURRENTLY IF NOT EXISTS "Calls_CustomerId_fk" ON "public"."Calls" ("CustomerId");`,
		`more for tables under 10,000 rows are left out (--small-tables prints them)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the advice lacks %s:\n%s", want, out)
		}
	}
	for _, small := range []string{`"Customers_Name_trgm"`, `"Visits_CustomerId_fk"`} {
		if strings.Contains(out, small) {
			t.Errorf("an index is advised for a small table (%s):\n%s", small, out)
		}
	}
	out, _, _ = runCLI(t, "check", db.DSN, "--indexes", "--small-tables")
	for _, want := range []string{
		`CREATE INDEX CONCURRENTLY IF NOT EXISTS "Customers_Name_trgm" ON "public"."Customers" USING gin ("Name" gin_trgm_ops);`,
		`CREATE INDEX CONCURRENTLY IF NOT EXISTS "Customers_Name_prefix" ON "public"."Customers" ("Name" text_pattern_ops);`,
		`-- public.Visits (CustomerId), about 20 rows: a foreign key: Salesforce's related lists filter on it`,
		`CREATE INDEX CONCURRENTLY IF NOT EXISTS "Visits_CustomerId_fk" ON "public"."Visits" ("CustomerId");`,
		`"events_note_trgm"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the advice with --small-tables lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"Orders_CustomerId_fk"`) {
		t.Errorf("an index the fixture has (Orders.CustomerId) is advised again:\n%s", out)
	}
	if n := strings.Count(out, "CREATE INDEX"); n < 20 {
		t.Errorf("only %d indexes advised with --small-tables", n)
	}
	// run it as printed, one statement at a time (CONCURRENTLY refuses a transaction)
	pool := testPool(t, db.DSN)
	for _, stmt := range strings.Split(out, "\n") {
		if stmt = strings.TrimSpace(stmt); stmt == "" || strings.HasPrefix(stmt, "--") {
			continue
		}
		if _, err := pool.Exec(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	again, _, _ := runCLI(t, "check", db.DSN, "--indexes", "--small-tables")
	if !strings.Contains(again, "no index to add") {
		t.Errorf("after running the advice, more is advised:\n%s", again)
	}
	// the report says how many are missing, and the admin page shows them
	// (the report's JSON carries them)
	report, _, _ := runCLI(t, "check", db.DSN, "--json")
	if !strings.Contains(report, `"indexes": []`) {
		t.Errorf("the JSON report after the advice ran: %.300s", report)
	}
}
