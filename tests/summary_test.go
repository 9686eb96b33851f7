package tests

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the suite's own statements

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
	"github.com/odatagw/odatagw/sources/sqlite"
	"go.yaml.in/yaml/v3"
)

// The summary suite: the same accounts and events in PostgreSQL,
// MySQL/MariaDB and SQLite, four summary sets over them, and every
// Salesforce query form checked against the database's own GROUP BY.

// summaryDB is one database of the suite.
type summaryDB struct {
	name string // postgres, mysql or sqlite
	dsn  string
	db   *sql.DB // for the suite's own statements
	rows func(string) ([][]string, error)
}

const summaryAccounts, summaryEvents = 40, 3000

// summaryKinds are the events' kinds; edge events are the bucket edges
// (summaryEdges).
var summaryKinds = []string{"click", "view", "buy", "refund", "signup"}

// summaryEdges are events at the edges of buckets, written with their
// offsets: each is bucketed by its UTC date.
var summaryEdges = []struct {
	at       string
	utcMonth string
	utcDay   string
}{
	{"2025-12-31T23:59:59.999Z", "2025-12-01", "2025-12-31"},
	{"2026-01-01T00:00:00Z", "2026-01-01", "2026-01-01"},
	{"2026-03-31T23:30:00-02:00", "2026-04-01", "2026-04-01"}, // 01:30 on 1 April in UTC
	{"2026-04-01T01:00:00+02:00", "2026-03-01", "2026-03-31"}, // 23:00 on 31 March in UTC
}

// summaryConfig declares the suite's summary sets.
func summaryConfig() map[string]config.Summary {
	return map[string]config.Summary{
		"kind_months": {From: "events", Where: "kind ne 'view'",
			Dimensions: []config.Dimension{{Column: "kind"}, {Column: "at", Bucket: "month"}},
			Measures: config.Measures{{Name: "events", Of: "count"}, {Name: "amount", Of: "sum(amount)"}, {Name: "avg_amount", Of: "avg(amount)"},
				{Name: "qty", Of: "sum(qty)"}, {Name: "first_at", Of: "min(at)"}, {Name: "last_at", Of: "max(at)"}}},
		"account_years": {From: "events",
			Dimensions: []config.Dimension{{Column: "account_id"}, {Column: "at", Bucket: "year"}},
			Measures: config.Measures{{Name: "events", Of: "count"}, {Name: "kinds", Of: "count_distinct(kind)"},
				{Name: "score", Of: "avg(score)"}, {Name: "max_score", Of: "max(score)"}}},
		"industry_quarters": {From: "events",
			Dimensions: []config.Dimension{{Column: "account_id.industry"}, {Column: "at", Bucket: "quarter"}},
			Measures:   config.Measures{{Name: "events", Of: "count"}, {Name: "accounts", Of: "count_distinct(account_id)"}}},
		"days": {From: "events",
			Dimensions: []config.Dimension{{Column: "at", Bucket: "day"}},
			Measures:   config.Measures{{Name: "events", Of: "count"}, {Name: "qty", Of: "sum(qty)"}}},
	}
}

// summaryDatabases creates the suite's database of each kind (PostgreSQL
// and MySQL/MariaDB when their URLs are set; they fail in CI without).
func summaryDatabases(t *testing.T) []summaryDB {
	t.Helper()
	var out []summaryDB
	pg := testdb.NewPostgres(t)
	pgDB, err := sql.Open("pgx", pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgDB.Close() })
	out = append(out, summaryDB{name: "postgres", dsn: pg.DSN, db: pgDB, rows: pgRows(testPool(t, pg.DSN))})
	my := testdb.NewMySQL(t)
	myDB, err := testdb.OpenMySQL(my.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { myDB.Close() })
	out = append(out, summaryDB{name: "mysql", dsn: my.DSN, db: myDB, rows: sqlRows(myDB)})
	for _, d := range out {
		fillSummaryDB(t, d)
	}
	return append(out, summarySQLite(t))
}

// summarySQLite is the suite's SQLite database, which needs no server.
func summarySQLite(t *testing.T) summaryDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	liteDB, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { liteDB.Close() })
	d := summaryDB{name: "sqlite", dsn: "sqlite:" + path, db: liteDB, rows: sqlRows(liteDB)}
	fillSummaryDB(t, d)
	return d
}

// fillSummaryDB creates the tables and writes the same rows into each
// database: accounts with and without an industry, events with and
// without an account, scores with nulls, and the edge events.
func fillSummaryDB(t *testing.T, d summaryDB) {
	t.Helper()
	at, score := "timestamptz", "double precision"
	switch d.name {
	case "mysql":
		at, score = "DATETIME(6)", "DOUBLE"
	case "sqlite":
		at, score = "DATETIME", "REAL"
	}
	stmts := []string{
		`CREATE TABLE accounts (id integer PRIMARY KEY, name varchar(60) NOT NULL, industry varchar(40))`,
		`CREATE TABLE events (id bigint PRIMARY KEY, account_id integer REFERENCES accounts (id), kind varchar(20) NOT NULL,
			at ` + at + ` NOT NULL, amount numeric(12,2) NOT NULL, qty integer NOT NULL, score ` + score + `)`,
	}
	if d.name == "mysql" {
		stmts[1] = strings.Replace(stmts[1], "account_id integer REFERENCES accounts (id),", "account_id integer, FOREIGN KEY (account_id) REFERENCES accounts (id),", 1)
	}
	// values are the suite's own, written as literals: no request text
	var accounts []string
	for i := 1; i <= summaryAccounts; i++ {
		industry := []string{"'Retail'", "'Energy'", "'Health'", "NULL"}[i%4]
		accounts = append(accounts, fmt.Sprintf("(%d, 'Account %d', %s)", i, i, industry))
	}
	stmts = append(stmts, "INSERT INTO accounts (id, name, industry) VALUES "+strings.Join(accounts, ", "))
	stamp := func(ts time.Time) string {
		ts = ts.UTC()
		switch d.name {
		case "postgres":
			return "'" + ts.Format("2006-01-02 15:04:05.000") + "+00'"
		case "mysql":
			return "'" + ts.Format("2006-01-02 15:04:05.000000") + "'"
		}
		return "'" + ts.Format(sqlite.TimestampLayout) + "'"
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var events []string
	flush := func() {
		if len(events) > 0 {
			stmts = append(stmts, "INSERT INTO events (id, account_id, kind, at, amount, qty, score) VALUES "+strings.Join(events, ", "))
			events = nil
		}
	}
	for i := 1; i <= summaryEvents; i++ {
		account := strconv.Itoa(1 + i*7%summaryAccounts)
		if i%17 == 0 {
			account = "NULL"
		}
		sc := "NULL"
		if i%11 != 0 {
			sc = strconv.FormatFloat(float64(i%100)/8, 'f', -1, 64)
		}
		events = append(events, fmt.Sprintf("(%d, %s, '%s', %s, %d.%02d, %d, %s)", i, account, summaryKinds[i%len(summaryKinds)],
			stamp(start.Add(time.Duration(i)*253*time.Minute)), i*37%10000/100, i*37%100, i%9, sc))
		if len(events) == 500 {
			flush()
		}
	}
	for i, e := range summaryEdges {
		ts, err := time.Parse(time.RFC3339Nano, e.at)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, fmt.Sprintf("(%d, 1, 'edge', %s, 1.00, 1, NULL)", summaryEvents+1+i, stamp(ts)))
	}
	flush()
	for _, s := range stmts {
		if _, err := d.db.Exec(s); err != nil {
			t.Fatalf("%s: %v\n%.200s", d.name, err, s)
		}
	}
}

// summaryCase is one request to a summary set and the database's own
// GROUP BY that answers it. In want, {month:at} (and year, quarter, day)
// is the dialect's UTC bucket, {g:kind} a text grouped exactly, {x:kind}
// a text compared exactly, {o:kind} one sorted exactly, {nf} and {nl} the clauses that put nulls first
// in ascending and last in descending order as OData sorts.
type summaryCase struct {
	name    string
	url     string
	headers []string
	cols    []string // properties compared, in order; want returns them
	want    string
	count   string // the expected @odata.count, a query
	follow  bool
}

var summaryCases = []summaryCase{
	{name: "list view", url: "kind_months?$count=true&$top=26",
		cols: []string{"kind", "month", "events", "amount", "avg_amount", "qty", "first_at", "last_at"},
		want: `SELECT kind, {month:at} m, count(*), sum(amount), avg(amount), sum(qty), min(at), max(at) FROM events
			WHERE {x:kind} <> 'view' GROUP BY {g:kind}, {month:at} ORDER BY {o:kind}, m LIMIT 26`,
		count: `SELECT count(*) FROM (SELECT 1 FROM events WHERE {x:kind} <> 'view' GROUP BY {g:kind}, {month:at}) g`},
	{name: "filter on a dimension, sorted by a measure", url: "kind_months?$filter=kind eq 'click'&$orderby=events desc&$top=10",
		cols: []string{"kind", "month", "events"},
		want: `SELECT kind, {month:at} m, count(*) n FROM events WHERE {x:kind} <> 'view' AND {x:kind} = 'click'
			GROUP BY {g:kind}, {month:at} ORDER BY n DESC, {o:kind}, m LIMIT 10`},
	{name: "filter on a measure and a bucket", url: "kind_months?$filter=events gt 20 and month ge 2026-01-01&$count=true&$select=kind,month,events",
		cols: []string{"kind", "month", "events"},
		want: `SELECT kind, {month:at} m, count(*) FROM events WHERE {x:kind} <> 'view' AND {month:at} >= '2026-01-01'
			GROUP BY {g:kind}, {month:at} HAVING count(*) > 20 ORDER BY {o:kind}, m`,
		count: `SELECT count(*) FROM (SELECT 1 FROM events WHERE {x:kind} <> 'view' AND {month:at} >= '2026-01-01'
			GROUP BY {g:kind}, {month:at} HAVING count(*) > 20) g`},
	{name: "free-text search over text dimensions", url: "kind_months?$search=LIC&$select=kind,month,qty",
		cols: []string{"kind", "month", "qty"},
		want: `SELECT kind, {month:at} m, sum(qty) FROM events WHERE {x:kind} <> 'view' AND lower(kind) LIKE '%lic%'
			GROUP BY {g:kind}, {month:at} ORDER BY {o:kind}, m`},
	{name: "server-driven paging over the key", url: "kind_months?$select=kind,month,amount&$top=2000", follow: true,
		headers: []string{"Prefer", "odata.maxpagesize=7"}, cols: []string{"kind", "month", "amount"},
		want: `SELECT kind, {month:at} m, sum(amount) FROM events WHERE {x:kind} <> 'view' GROUP BY {g:kind}, {month:at} ORDER BY {o:kind}, m`},
	{name: "server-driven paging sorted by a measure", url: "kind_months?$orderby=amount desc&$select=kind,month,amount&$top=40", follow: true,
		headers: []string{"Prefer", "odata.maxpagesize=9"}, cols: []string{"kind", "month", "amount"},
		want: `SELECT kind, {month:at} m, sum(amount) s FROM events WHERE {x:kind} <> 'view' GROUP BY {g:kind}, {month:at}
			ORDER BY s DESC, {o:kind}, m LIMIT 40`},
	{name: "client paging", url: "kind_months?$skip=5&$top=5&$select=kind,month,last_at", cols: []string{"kind", "month", "last_at"},
		want: `SELECT kind, {month:at} m, max(at) FROM events WHERE {x:kind} <> 'view' GROUP BY {g:kind}, {month:at} ORDER BY {o:kind}, m LIMIT 5 OFFSET 5`},
	{name: "a null dimension is a group", url: "account_years?$count=true&$top=500",
		cols: []string{"account_id", "year", "events", "kinds", "score", "max_score"},
		want: `SELECT account_id, {year:at} y, count(*), count(DISTINCT kind), avg(score), max(score) FROM events
			GROUP BY account_id, {year:at} ORDER BY account_id{nf}, y LIMIT 500`,
		count: `SELECT count(*) FROM (SELECT 1 FROM events GROUP BY account_id, {year:at}) g`},
	{name: "the null group by filter", url: "account_years?$filter=account_id eq null", cols: []string{"account_id", "year", "events"},
		want: `SELECT account_id, {year:at} y, count(*) FROM events WHERE account_id IS NULL GROUP BY account_id, {year:at} ORDER BY y`},
	{name: "a term over a dimension or a measure", url: "account_years?$filter=score gt 7 or account_id eq 3&$orderby=score desc&$select=account_id,year,score",
		cols: []string{"account_id", "year", "score"},
		want: `SELECT account_id, {year:at} y, avg(score) s FROM events GROUP BY account_id, {year:at}
			HAVING avg(score) > 7 OR account_id = 3 ORDER BY s DESC{nl}, account_id{nf}, y`},
	{name: "a parent's column, nulls included", url: "industry_quarters?$count=true&$top=100",
		cols: []string{"industry", "quarter", "events", "accounts"},
		want: `SELECT a.industry, {quarter:e.at} q, count(*), count(DISTINCT e.account_id) FROM events e LEFT JOIN accounts a ON a.id = e.account_id
			GROUP BY {g:a.industry}, {quarter:e.at} ORDER BY {o:a.industry}{nf}, q LIMIT 100`,
		count: `SELECT count(*) FROM (SELECT 1 FROM events e LEFT JOIN accounts a ON a.id = e.account_id GROUP BY {g:a.industry}, {quarter:e.at}) g`},
	{name: "a parent's column filtered", url: "industry_quarters?$filter=industry eq 'Retail'&$orderby=accounts desc,quarter",
		cols: []string{"industry", "quarter", "accounts"},
		want: `SELECT a.industry, {quarter:e.at} q, count(DISTINCT e.account_id) n FROM events e LEFT JOIN accounts a ON a.id = e.account_id
			WHERE {x:a.industry} = 'Retail' GROUP BY {g:a.industry}, {quarter:e.at} ORDER BY n DESC, q`},
	{name: "days around the edges", url: "days?$filter=day ge 2025-12-30 and day le 2026-01-02", cols: []string{"day", "events", "qty"},
		want: `SELECT {day:at} d, count(*), sum(qty) FROM events WHERE {day:at} >= '2025-12-30' AND {day:at} <= '2026-01-02'
			GROUP BY {day:at} ORDER BY d`},
	{name: "busiest days", url: "days?$count=true&$top=3&$orderby=events desc,qty desc", cols: []string{"day", "events", "qty"},
		want:  `SELECT {day:at} d, count(*) n, sum(qty) s FROM events GROUP BY {day:at} ORDER BY n DESC, s DESC, d LIMIT 3`,
		count: `SELECT count(*) FROM (SELECT 1 FROM events GROUP BY {day:at}) g`},
}

// expand writes a case's query in a dialect.
func expand(q, dialect string) string {
	bucket := map[string]map[string]string{
		"postgres": {"year": "date_trunc('year', X AT TIME ZONE 'UTC')::date", "quarter": "date_trunc('quarter', X AT TIME ZONE 'UTC')::date",
			"month": "date_trunc('month', X AT TIME ZONE 'UTC')::date", "day": "(X AT TIME ZONE 'UTC')::date"},
		"mysql": {"year": "CAST(DATE_FORMAT(X, '%Y-01-01') AS DATE)", "quarter": "MAKEDATE(YEAR(X), 1) + INTERVAL QUARTER(X) * 3 - 3 MONTH",
			"month": "CAST(DATE_FORMAT(X, '%Y-%m-01') AS DATE)", "day": "CAST(X AS DATE)"},
		"sqlite": {"year": "strftime('%Y-01-01', X)", "quarter": "printf('%s-%02d-01', strftime('%Y', X), (CAST(strftime('%m', X) AS INTEGER) - 1) / 3 * 3 + 1)",
			"month": "strftime('%Y-%m-01', X)", "day": "strftime('%Y-%m-%d', X)"},
	}[dialect]
	var b strings.Builder
	for {
		i := strings.IndexByte(q, '{')
		if i < 0 {
			b.WriteString(q)
			break
		}
		j := strings.IndexByte(q[i:], '}') + i
		b.WriteString(q[:i])
		what, arg, _ := strings.Cut(q[i+1:j], ":")
		switch {
		case what == "nf" && dialect == "postgres":
			b.WriteString(" NULLS FIRST")
		case what == "nl" && dialect == "postgres":
			b.WriteString(" NULLS LAST")
		case what == "nf" || what == "nl":
		case what == "g" && dialect == "mysql":
			b.WriteString(arg + ", BINARY " + arg)
		case (what == "x" || what == "o") && dialect == "mysql":
			b.WriteString("BINARY " + arg)
		case what == "g" || what == "x" || what == "o":
			b.WriteString(arg)
		default:
			b.WriteString("(" + strings.ReplaceAll(bucket[what], "X", arg) + ")")
		}
		q = q[j+1:]
	}
	return b.String()
}

// sameValue compares a value of an answer with the database's text of
// it: numbers as numbers (an average to 12 digits), dates and times as
// instants, null as null.
func sameValue(got any, want string) bool {
	if got == nil {
		return want == "null"
	}
	if n, ok := got.(json.Number); ok {
		g, err1 := n.Float64()
		w, err2 := strconv.ParseFloat(want, 64)
		return err1 == nil && err2 == nil && math.Abs(g-w) <= 1e-9*math.Max(1, math.Abs(w))
	}
	s := fmt.Sprint(got)
	if s == want {
		return true
	}
	gt, ok1 := instant(s)
	wt, ok2 := instant(want)
	return ok1 && ok2 && gt.Truncate(time.Millisecond).Equal(wt.Truncate(time.Millisecond))
}

func instant(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// compareGroups holds the rows of an answer against the database's.
func compareGroups(t *testing.T, got []map[string]any, want [][]string, cols []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d groups, the database has %d", len(got), len(want))
	}
	for i := range want {
		for j, c := range cols {
			if !sameValue(got[i][c], want[i][j]) {
				t.Fatalf("group %d: %s = %v, the database says %s\ngot:  %v\nwant: %v", i, c, got[i][c], want[i][j], got[i], want[i])
			}
		}
	}
}

func entities(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, ok := body["value"].([]any)
	if !ok {
		t.Fatalf("no value: %v", body)
	}
	out := make([]map[string]any, len(raw))
	for i, e := range raw {
		out[i] = e.(map[string]any)
	}
	return out
}

// summaryGateways serves the suite's databases with their summaries,
// uncached and behind a cache that keeps answers for an hour.
func summaryGateways(t *testing.T, dbs []summaryDB) (uncachedGW, cachedGW *gateway) {
	t.Helper()
	srcs := map[string]config.Source{}
	for _, d := range dbs {
		srcs[d.name] = config.Source{DSN: d.dsn, Summaries: summaryConfig()}
	}
	hour := time.Hour
	uncachedGW = startGateway(t, app.Settings{Defaults: uncached(), Sources: anyone(srcs)})
	cachedGW = startGateway(t, app.Settings{Defaults: config.File{Cache: config.Cache{TTL: &hour}}, Sources: anyone(srcs)})
	return uncachedGW, cachedGW
}

// TestSummarySets: every Salesforce query form on a summary set, on each
// dialect, answers what the database's own GROUP BY does; through the
// cache twice (the miss and the hit).
func TestSummarySets(t *testing.T) {
	dbs := summaryDatabases(t)
	plain, cached := summaryGateways(t, dbs)
	for _, d := range dbs {
		for _, run := range []struct {
			label string
			gw    *gateway
		}{{"", plain}, {"+cache", cached}, {"+cache", cached}} {
			root := run.gw.root(d.name)
			for _, sc := range summaryCases {
				t.Run(d.name+run.label+"/"+sc.name, func(t *testing.T) {
					want, err := d.rows(expand(sc.want, d.name))
					if err != nil {
						t.Fatalf("the database's own GROUP BY: %v\n%s", err, expand(sc.want, d.name))
					}
					res := do(t, "GET", root+encodeQuery(sc.url), nil, append([]string{"OData-MaxVersion", "4.01"}, sc.headers...)...)
					if res.Status != 200 {
						t.Fatalf("%d: %s", res.Status, res.Body)
					}
					body := res.JSON(t)
					got := entities(t, body)
					pages := 1
					if sc.follow {
						body, pages = followPages(t, body, sc.headers, func(page map[string]any) { got = append(got, entities(t, page)...) })
					}
					if sc.follow && pages < 3 {
						t.Errorf("%d pages: the paging was not exercised", pages)
					}
					compareGroups(t, got, want, sc.cols)
					if sc.count != "" {
						c, err := d.rows(expand(sc.count, d.name))
						if err != nil {
							t.Fatal(err)
						}
						if fmt.Sprint(body["@odata.count"]) != c[0][0] {
							t.Errorf("@odata.count = %v, the database counts %s groups", body["@odata.count"], c[0][0])
						}
					}
				})
			}
		}
	}
}

// TestSummaryKeysAndEdges: a group read by its key is the group listed,
// a null dimension is addressed by null, buckets are UTC dates whatever
// offset a time was written with, and the label names the group.
func TestSummaryKeysAndEdges(t *testing.T) {
	dbs := summaryDatabases(t)
	gw, _ := summaryGateways(t, dbs)
	for _, d := range dbs {
		t.Run(d.name, func(t *testing.T) {
			root := gw.root(d.name)
			get := func(u string) map[string]any {
				t.Helper()
				r := do(t, "GET", root+encodeQuery(u), nil)
				if r.Status != 200 {
					t.Fatalf("%s: %d %s", u, r.Status, r.Body)
				}
				return r.JSON(t)
			}
			list := entities(t, get("kind_months?$filter=kind eq 'click'&$top=3"))
			for _, g := range list {
				one := get(fmt.Sprintf("kind_months(kind='click',month=%s)", g["month"]))
				for _, p := range []string{"events", "amount", "avg_amount", "first_at", "last_at", "label"} {
					if fmt.Sprint(one[p]) != fmt.Sprint(g[p]) {
						t.Errorf("kind_months(click, %s).%s = %v, listed as %v", g["month"], p, one[p], g[p])
					}
				}
			}
			if len(list) > 0 {
				if l, m := list[0]["label"], list[0]["month"].(string); l != "click · "+m[:7] {
					t.Errorf("label %q for click in %s", l, m)
				}
			}
			var nullGroups [][]string
			nullGroups, err := d.rows(expand(`SELECT {year:at} y, count(*) FROM events WHERE account_id IS NULL GROUP BY {year:at} ORDER BY y`, d.name))
			if err != nil || len(nullGroups) == 0 {
				t.Fatalf("null groups: %v %v", nullGroups, err)
			}
			y, _ := instant(nullGroups[0][0])
			one := get("account_years(account_id=null,year=" + y.Format("2006-01-02") + ")")
			if one["account_id"] != nil || fmt.Sprint(one["events"]) != nullGroups[0][1] {
				t.Errorf("the null group of %s: %v, the database counts %s", y.Format("2006"), one, nullGroups[0][1])
			}
			if one["label"] != "(none) · "+y.Format("2006") {
				t.Errorf("label of the null group: %q", one["label"])
			}
			if r := do(t, "GET", root+encodeQuery("kind_months(kind=null,month=2026-01-01)"), nil); r.Status != 400 {
				t.Errorf("a null for a dimension that is never null: %d %s", r.Status, r.Body)
			}
			// each edge event in its UTC month and day
			edges := entities(t, get("kind_months?$filter=kind eq 'edge'&$select=month,events"))
			months := map[string]int{}
			for _, e := range summaryEdges {
				months[e.utcMonth]++
			}
			if len(edges) != len(months) {
				t.Fatalf("edge events in %d months, want %v: %v", len(edges), months, edges)
			}
			for _, g := range edges {
				if n, _ := g["events"].(json.Number).Int64(); int(n) != months[g["month"].(string)] {
					t.Errorf("edge events in %s: %d, want %d", g["month"], n, months[g["month"].(string)])
				}
			}
			for _, e := range summaryEdges {
				day := get("days(" + e.utcDay + ")")
				if day["day"] != e.utcDay {
					t.Errorf("%s: day %v", e.at, day["day"])
				}
			}
			q := entities(t, get("industry_quarters?$filter=quarter eq 2026-04-01&$top=1"))
			if len(q) == 0 || !strings.HasSuffix(q[0]["label"].(string), "2026 Q2") {
				t.Errorf("quarter label: %v", q)
			}
			// $count of the path counts groups
			groups, _ := d.rows(`SELECT count(DISTINCT account_id) FROM events`)
			r := do(t, "GET", root+"account_years/$count", nil)
			if n, _ := strconv.Atoi(strings.TrimSpace(string(r.Body))); r.Status != 200 || n <= 0 {
				t.Errorf("$count: %d %s (accounts %v)", r.Status, r.Body, groups)
			}
		})
	}
}

// TestSummaryMovesWithItsTable: a write through the gateway to the
// summary's table, or to the parent a dimension reads, is seen by the
// next read of the summary, cached for an hour or not; the summary itself
// takes no write.
func TestSummaryMovesWithItsTable(t *testing.T) {
	dbs := summaryDatabases(t)
	plain, cached := summaryGateways(t, dbs)
	for _, d := range dbs {
		for _, run := range []struct {
			label string
			gw    *gateway
		}{{"uncached", plain}, {"cached", cached}} {
			t.Run(d.name+"/"+run.label, func(t *testing.T) {
				root := run.gw.root(d.name)
				read := func(u, prop string) string {
					t.Helper()
					r := do(t, "GET", root+encodeQuery(u), nil)
					if r.Status != 200 {
						t.Fatalf("%s: %d %s", u, r.Status, r.Body)
					}
					return fmt.Sprint(r.JSON(t)[prop])
				}
				group := "kind_months(kind='click',month=2025-03-01)"
				before := read(group, "events")
				read(group, "events") // kept by the cache, where there is one
				id := 100000 + len(run.label)
				body := fmt.Sprintf(`{"id":%d,"account_id":1,"kind":"click","at":"2025-03-15T12:00:00Z","amount":5,"qty":1}`, id)
				if r := do(t, "POST", root+"events", []byte(body), "Content-Type", "application/json"); r.Status != 201 {
					t.Fatalf("create: %d %s", r.Status, r.Body)
				}
				if after := read(group, "events"); after == before {
					t.Errorf("after a new click, %s still counts %s events", group, after)
				}
				// a parent's column: account 2's events move to another industry
				industry := func() string {
					return read("industry_quarters?$filter=industry eq 'Mining'&$select=events&$top=1", "value")
				}
				if got := industry(); got != "[]" {
					t.Fatalf("Mining before any account is in it: %s", got)
				}
				if r := do(t, "PATCH", root+"accounts(2)", []byte(`{"industry":"Mining"}`), "Content-Type", "application/json"); r.Status != 204 {
					t.Fatalf("update the parent: %d %s", r.Status, r.Body)
				}
				if got := industry(); got == "[]" {
					t.Errorf("an account moved to Mining, and industry_quarters does not show it")
				}
				if r := do(t, "PATCH", root+"accounts(2)", []byte(`{"industry":"Energy"}`), "Content-Type", "application/json"); r.Status != 204 {
					t.Fatalf("restore the parent: %d %s", r.Status, r.Body)
				}
				if r := do(t, "DELETE", root+fmt.Sprintf("events(%d)", id), nil); r.Status != 204 {
					t.Fatalf("delete: %d %s", r.Status, r.Body)
				}
				if after := read(group, "events"); after != before {
					t.Errorf("after the click was deleted, %s counts %s events, want %s", group, after, before)
				}
				// the summary itself takes no write, saying why
				r := do(t, "PATCH", root+encodeQuery(group), []byte(`{"events":1}`), "Content-Type", "application/json")
				if r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(string(r.Body), "summary of events") {
					t.Errorf("writing a summary: %d Allow %q %s", r.Status, r.Header.Get("Allow"), r.Body)
				}
				r = do(t, "POST", root+"kind_months", []byte(`{"kind":"x"}`), "Content-Type", "application/json")
				if r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("creating in a summary: %d Allow %q %s", r.Status, r.Header.Get("Allow"), r.Body)
				}
			})
		}
	}
}

// TestSummaryExactText: MySQL and MariaDB compare text through
// collations that ignore case, where OData does not; a summary keeps Buy
// and BUY apart, and reads each by its key.
func TestSummaryExactText(t *testing.T) {
	dbs := summaryDatabases(t)
	gw, _ := summaryGateways(t, dbs)
	for _, d := range dbs {
		t.Run(d.name, func(t *testing.T) {
			if _, err := d.db.ExecContext(context.Background(), `INSERT INTO events (id, account_id, kind, at, amount, qty) VALUES
				(200001, 1, 'Audit', '2030-01-05 10:00:00', 1, 1), (200002, 1, 'AUDIT', '2030-01-06 10:00:00', 1, 1), (200003, 1, 'AUDIT', '2030-01-07 10:00:00', 1, 1)`); err != nil {
				t.Fatal(err)
			}
			r := do(t, "GET", gw.root(d.name)+encodeQuery("kind_months?$filter=month eq 2030-01-01&$select=kind,events"), nil)
			counts := map[string]string{}
			for _, g := range entities(t, r.JSON(t)) {
				counts[g["kind"].(string)] = fmt.Sprint(g["events"])
			}
			if len(counts) != 2 || counts["AUDIT"] != "2" || counts["Audit"] != "1" {
				t.Errorf("Audit and AUDIT: %v", counts)
			}
			one := do(t, "GET", gw.root(d.name)+encodeQuery("kind_months(kind='Audit',month=2030-01-01)"), nil).JSON(t)
			if fmt.Sprint(one["events"]) != "1" {
				t.Errorf("Audit by its key: %v", one)
			}
		})
	}
}

// TestReportScanSuggestsASummary: a report's scan of events (pages of one
// query, one caller, in a row) is named a report scan on the insight
// page with its rows and bytes per run, said to pass the 2,000 rows a
// report shows, and answered with the summary that would replace it;
// declared through the admin API, that summary serves the report's
// groups, and a summary the database cannot compute is refused there.
func TestReportScanSuggestsASummary(t *testing.T) {
	d := summarySQLite(t)
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "operator key", nil)
	anyone := map[string]any{"anonymous": true}
	if r := ag.api(t, "POST", "/api/sources", map[string]any{"auth": anyone, "name": "lite", "dsn": d.dsn}); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	// the scan: Salesforce reads every row, in server-driven pages
	url := ag.odata + "/odata/lite/" + encodeQuery("events?$select=kind,at,amount&$orderby=kind&$top=5000")
	rows, pages := 0, 0
	for url != "" && pages < 20 {
		r := do(t, "GET", url, nil, "Prefer", "odata.maxpagesize=1000")
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", url, r.Status, r.Body)
		}
		body := r.JSON(t)
		rows += len(entities(t, body))
		pages++
		url, _ = body["@odata.nextLink"].(string)
	}
	inTable, err := d.rows(`SELECT count(*) FROM events`)
	if err != nil || fmt.Sprint(rows) != inTable[0][0] {
		t.Fatalf("the scan read %d rows in %d pages; the table has %v (%v)", rows, pages, inTable, err)
	}
	r := ag.api(t, "GET", "/api/sources/lite/shapes", nil)
	var list struct {
		Shapes []struct {
			Name string `json:"name"`
			Scan *struct {
				Runs     int    `json:"runs_24h"`
				Pages    int    `json:"pages_per_run"`
				Rows     int    `json:"rows_per_run"`
				Bytes    int    `json:"bytes_per_run"`
				Grouping bool   `json:"over_groupings"`
				Large    bool   `json:"too_large"`
				YAML     string `json:"summary_yaml"`
			} `json:"report_scan"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(r.Body, &list); err != nil {
		t.Fatalf("%v: %.300s", err, r.Body)
	}
	var yamlText string
	for _, e := range list.Shapes {
		if e.Scan == nil {
			continue
		}
		if e.Name != "report scan" || e.Scan.Runs != 1 || e.Scan.Pages != pages || e.Scan.Rows != rows || e.Scan.Bytes < 40*rows || !e.Scan.Grouping || e.Scan.Large {
			t.Errorf("the scan as the insight page shows it: %s %+v", e.Name, e.Scan)
		}
		yamlText = e.Scan.YAML
	}
	want := "summaries:\n  events_summary:\n    from: events\n    dimensions: [kind]\n    measures: {rows: count, sum_amount: sum(amount)}\n"
	if yamlText != want {
		t.Fatalf("the suggested summary:\n%s\nwant:\n%s", yamlText, want)
	}
	// and from the command line, as a pipeline would ask
	cli := command(t, buildBinary(t), []string{"ODATAGW_ADMIN_TOKEN=" + ag.token}, "check", "--report-scans", "--from-traffic", ag.admin, "lite")
	printed, err := cli.CombinedOutput()
	if err != nil || !strings.Contains(string(printed), fmt.Sprintf("report scan of events: 1 run in 24 hours; the last read 3,004 rows (0.2 MB) in %d pages", pages)) ||
		!strings.Contains(string(printed), "past the 2,000 rows a report shows or groups") || !strings.Contains(string(printed), "    summaries:\n      events_summary:\n        from: events\n") {
		t.Errorf("odatagw check --report-scans --from-traffic: %v\n%s", err, printed)
	}
	// the suggestion, declared through the admin API, answers the report
	var declared struct {
		Summaries map[string]config.Summary `yaml:"summaries"`
	}
	if err := yaml.Unmarshal([]byte(yamlText), &declared); err != nil {
		t.Fatal(err)
	}
	cur := ag.api(t, "GET", "/api/sources/lite", nil)
	if r := ag.api(t, "PUT", "/api/sources/lite", map[string]any{"auth": anyone, "dsn": d.dsn, "summaries": declared.Summaries},
		"If-Match", cur.Header.Get("ETag")); r.Status != 200 {
		t.Fatalf("declare the summary: %d %s", r.Status, r.Body)
	}
	got := do(t, "GET", ag.odata+"/odata/lite/"+encodeQuery("events_summary?$orderby=kind"), nil)
	want2, _ := d.rows(`SELECT kind, count(*), sum(amount) FROM events GROUP BY kind ORDER BY kind`)
	compareGroups(t, entities(t, got.JSON(t)), want2, []string{"kind", "rows", "sum_amount"})
	// one the database cannot compute is refused, beside the summaries
	cur = ag.api(t, "GET", "/api/sources/lite", nil)
	bad := ag.api(t, "PUT", "/api/sources/lite", map[string]any{"auth": anyone, "dsn": d.dsn, "summaries": map[string]any{
		"by_amount": map[string]any{"from": "events", "dimensions": []string{"kind"}, "measures": map[string]string{"total": "sum(kind)"}}}},
		"If-Match", cur.Header.Get("ETag"))
	if bad.Status != 422 || !strings.Contains(string(bad.Body), `"target":"summaries"`) ||
		!strings.Contains(string(bad.Body), "summaries.by_amount: the measure total: sum(kind): kind is Edm.String and cannot be summed") {
		t.Errorf("an impossible summary: %d %s", bad.Status, bad.Body)
	}
	if r := do(t, "GET", ag.odata+"/odata/lite/events_summary?$top=1", nil); r.Status != 200 {
		t.Errorf("the refused change left the source changed: %d %s", r.Status, r.Body)
	}
}
