package tests

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/mysql"
)

// sameAnswers are read from PostgreSQL and MySQL/MariaDB, whose fixtures
// hold the same rows, and must come back the same: OData's semantics, not
// each database's (MySQL's default collations ignore case and accents,
// and compare "a" equal to "a ").
var sameAnswers = []string{
	"Customers?$filter=Name eq 'Acme Corp 10'",
	"Customers?$filter=Name eq 'acme corp 10'",
	"Customers?$filter=Name ne 'Acme Corp 10'",
	"Customers?$filter=Name eq 'Acme Corp 10 '",
	"Customers?$filter=City eq 'munchen'",
	"Customers?$filter=City eq 'München'",
	"Customers?$filter=Country in ('usa','CA')",
	"Customers?$filter=Country in ('USA','CA',null)",
	"Customers?$filter=City eq null or City eq 'Austin'",
	"Customers?$filter=City ne 'Austin'",
	"Customers?$filter=not (City eq 'Austin')",
	"Customers?$filter=City eq Country",
	"Customers?$filter=Name gt 'Z' and Name lt 'a'",
	"Customers?$filter=contains(Name,'Corp 1')",
	"Customers?$filter=contains(Name,'corp')",
	"Customers?$filter=contains(Name,'ü')",
	"Customers?$filter=contains(Name,'\\\\')",
	"Customers?$filter=contains(Name,'\"')",
	"Customers?$filter=contains(Name,'贸易')",
	"Customers?$filter=startswith(Name,'acme') eq true",
	"Customers?$filter=startswith(Name,'Acme')",
	"Customers?$filter=endswith(Name,'0')",
	"Customers?$filter=endswith(Name,' 10') eq false",
	"Customers?$filter=contains(Email,'@') eq false",
	"Customers?$filter=indexof(Name,'Corp') eq 5",
	"Customers?$filter=length(Name) eq 13",
	"Customers?$filter=substring(Name,0,4) eq 'Acme'",
	"Customers?$filter=tolower(Name) eq 'acme corp 10'",
	"Customers?$filter=toupper(City) eq 'MÜNCHEN'",
	"Customers?$filter=trim(concat(City,' ')) eq 'Austin'",
	"Customers?$search=acme",
	"Customers?$search=ZOË",
	"Customers?$search=zoe",
	"Customers?$search=müller OR stark",
	"Customers?$search=acme AND NOT west",
	"Customers?$filter=year(CreatedAt) eq 2023 and month(CreatedAt) eq 2",
	"Customers?$filter=day(BirthDate) eq 4 or hour(CreatedAt) eq 7",
	"Customers?$filter=minute(CreatedAt) eq 0 and second(CreatedAt) eq 5",
	"Customers?$filter=fractionalseconds(CreatedAt) gt 0.2",
	"Customers?$filter=date(CreatedAt) eq 2023-01-02",
	"Customers?$filter=CreatedAt lt 2023-01-05T00:00:00Z",
	"Customers?$filter=BirthDate ge 1951-01-01 and BirthDate lt 1951-06-01",
	"Customers?$filter=CreditLimit gt 100.5 and CreditLimit le 200",
	"Customers?$filter=round(Rating) eq 2",
	"Customers?$filter=floor(Rating) eq 1 and ceiling(Rating) eq 2",
	"Customers?$filter=CreditLimit add 10 gt Rating mul 100",
	"Customers?$filter=CustomerId mod 7 eq 3",
	"Customers?$filter=CustomerId div 7 eq 3",
	"Customers?$filter=CustomerId in (1,2,3,500,501)",
	"Customers?$filter=IsActive eq false",
	"Customers?$filter=Rating eq null",
	"Orders?$filter=ShippedDate eq null and RequiredDate ne null",
	"Orders?$filter=Total divby 3 gt 100",
	"Orders?$filter=CustomerId eq 42",
	"OrderLines?$filter=OrderId eq 10248",
	"OrderLines?$filter=Quantity mul UnitPrice gt 90",
}

// TestSameAnswersAsPostgres runs each request against both databases and
// compares the keys it returns, in order, and the count.
func TestSameAnswersAsPostgres(t *testing.T) {
	pg, my := needPostgres(t), needMySQL(t)
	for _, u := range sameAnswers {
		t.Run(u, func(t *testing.T) {
			u := u + "&$count=true&$top=1000"
			a, b := pg.get(t, u), my.get(t, u)
			if a.Status != 200 || b.Status != 200 {
				t.Fatalf("PostgreSQL %d %.200s; MySQL %d %.200s", a.Status, a.Body, b.Status, b.Body)
			}
			ka, kb := answerKeys(t, a), answerKeys(t, b)
			if ka != kb {
				t.Fatalf("PostgreSQL answered\n  %.300s\nMySQL answered\n  %.300s", ka, kb)
			}
		})
	}
}

// answerKeys is a page's count and the keys of its entities.
func answerKeys(t *testing.T, r response) string {
	t.Helper()
	body := r.JSON(t)
	var keys []string
	for _, v := range body["value"].([]any) {
		e := v.(map[string]any)
		var k []string
		for _, name := range []string{"CustomerId", "OrderId", "ProductId"} {
			if x, ok := e[name]; ok {
				k = append(k, fmt.Sprint(x))
			}
		}
		keys = append(keys, strings.Join(k, "/"))
	}
	return fmt.Sprintf("count %v: %s", body["@odata.count"], strings.Join(keys, " "))
}

// TestMySQLValuesOfEveryType pins the JSON form of every MySQL type the
// fixture holds, as TestValuesOfEveryType does for PostgreSQL.
func TestMySQLValuesOfEveryType(t *testing.T) {
	tg := needMySQL(t)
	var all bytes.Buffer
	for _, v := range []struct{ name, url string }{
		{"minimal", "all_types?$orderby=id"},
		{"ieee754", "all_types(1)?$select=id,c_bigint,c_ubigint,c_decimal&$format=application/json;IEEE754Compatible=true"},
		{"full", "all_types(3)?$format=application/json;odata.metadata=full"},
		{"sanitised names", "order_lines_2024_b7c8e1a8"},
		{"raw value", "all_types(1)/c_decimal/$value"},
		{"entity with string key", "legacy_codes(code='A1',region='EU')"},
	} {
		res := tg.get(t, v.url)
		if res.Status != 200 {
			t.Fatalf("%s: %d %s", v.url, res.Status, res.Body)
		}
		all.WriteString("### " + v.name + ": " + v.url + "\n" + res.Header.Get("Content-Type") + "\n")
		all.Write(normalize(res.Body))
		all.WriteString("\n\n")
	}
	checkGolden(t, "values-mysql.txt", all.Bytes())
}

// TestMySQLTypesWritten: every type written through the gateway is stored
// and read back as sent; a computed value may be repeated, not changed.
func TestMySQLTypesWritten(t *testing.T) {
	needMySQL(t)
	tg, _ := ownMySQLGateway(t, config.Source{})
	body := `{"c_tinyint":-5,"c_utinyint":200,"c_bool":true,"c_bit1":false,"c_bit8":7,"c_smallint":7,"c_usmallint":60000,
	  "c_mediumint":-7,"c_int":-8,"c_uint":4000000000,"c_bigint":"9007199254740993","c_ubigint":"18446744073709551614",
	  "c_decimal":"1.5","c_float":0.5,"c_double":-2.5,"c_char":"c","c_varchar":"v😀","c_text":"long ü","c_enum":"neutral",
	  "c_set":"b,c","c_json":"{\"x\":1}","c_date":"2024-03-01","c_datetime":"2024-03-01T10:00:00.5+02:00",
	  "c_timestamp":"2024-03-01T10:00:00Z","c_time":"10:11:12.5","c_year":1999,"c_binary":"AQIDBA","c_varbinary":"3q2-7w","c_blob":"AA"}`
	r := tg.send(t, "POST", "all_types", body, "Prefer", "return=representation")
	if r.Status != 201 {
		t.Fatalf("create with every type: %d %s", r.Status, r.Body)
	}
	e := r.JSON(t)
	want := map[string]string{"c_bigint": "9007199254740993", "c_ubigint": "18446744073709551614", "c_bit8": "7", "c_bool": "true",
		"c_bit1": "false", "c_uint": "4000000000", "c_varchar": "v😀", "c_datetime": "2024-03-01T08:00:00.5Z", "c_time": "10:11:12.5",
		"c_binary": "AQIDBA", "c_varbinary": "3q2-7w", "c_set": "b,c", "c_year": "1999", "c_generated": "-16"}
	for k, v := range want {
		if fmt.Sprint(e[k]) != v {
			t.Errorf("%s = %v, want %s", k, e[k], v)
		}
	}
	id := fmt.Sprint(e["id"])
	if again := tg.get(t, "all_types("+id+")").JSON(t); fmt.Sprint(again["c_varchar"]) != "v😀" || fmt.Sprint(again["c_generated"]) != "-16" {
		t.Errorf("read back: %v", again)
	}
	if r := tg.send(t, "PATCH", "all_types("+id+")", `{"c_generated":-16,"c_text":"ok"}`); r.Status != 204 {
		t.Fatalf("repeating the computed value: %d %s", r.Status, r.Body)
	}
	before := tg.snapshot(t, "all_types")
	if r := tg.send(t, "PATCH", "all_types("+id+")", `{"c_generated":1}`); r.Status != 400 || errorCode(t, r) != "InvalidValue" {
		t.Fatalf("changing a computed value: %d %s", r.Status, r.Body)
	}
	// values the database refuses: strict mode makes each an error, and
	// nothing is stored
	for _, bad := range []struct{ body, target string }{
		{`{"c_tinyint":1000}`, ""},
		{`{"c_utinyint":-1}`, ""},
		{`{"c_text":"` + strings.Repeat("x", 70000) + `"}`, "c_text"},
		{`{"c_enum":"angry"}`, ""},
		{`{"c_json":"not json"}`, ""},
		{`{"c_year":1800}`, ""},
	} {
		r := tg.send(t, "PATCH", "all_types("+id+")", bad.body)
		if r.Status != 400 || errorCode(t, r) != "InvalidValue" {
			t.Errorf("%.60s: %d %s", bad.body, r.Status, r.Body)
		} else if bad.target != "" && r.JSON(t)["error"].(map[string]any)["target"] != bad.target {
			t.Errorf("%.60s: %s", bad.body, r.Body)
		}
	}
	if tg.snapshot(t, "all_types") != before {
		t.Fatal("a refused write changed the table")
	}
}

// TestMySQLIndexesStayUsable: OData's exact eq and startswith keep the
// column's index usable (the collation's test finds the rows, the exact
// one filters them).
func TestMySQLIndexesStayUsable(t *testing.T) {
	needMySQL(t)
	_, conn := ownMySQLGateway(t, config.Source{})
	if _, err := conn.Exec(`CREATE INDEX customers_name ON Customers (Name)`); err != nil {
		t.Fatal(err)
	}
	src, err := sources.Open(context.Background(), sources.Options{Name: "x", DSN: dsnOf(t, conn), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, u := range []string{"Customers?$filter=Name eq 'Acme Corp 10'", "Customers?$filter=startswith(Name,'Acme Corp 1') eq true",
		"Customers?$filter=Name in ('Acme Corp 10','Globex 4')"} {
		query, args := gatewaySQL(t, src.Metadata(), mysql.Dialect(), u)
		rows, err := conn.Query("EXPLAIN "+query, args...)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		cols, _ := rows.Columns()
		rows.Next()
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		rows.Close()
		plan := map[string]string{}
		for i, c := range cols {
			plan[c] = vals[i].String
		}
		if plan["key"] != "customers_name" {
			t.Errorf("%s: the index is not used: %v\n%s", u, plan, query)
		}
	}
}

// dsnOf is the mysql:// URL of the database a test connection is on.
func dsnOf(t *testing.T, conn *sql.DB) string {
	var name string
	if err := conn.QueryRow(`SELECT DATABASE()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(testdb.MySQLURL(t))
	u.Path = "/" + name
	return u.String()
}

// TestMySQLDeadlocksAreRetried: change sets that lock two rows in
// opposite orders deadlock in InnoDB; the gateway retries the loser.
func TestMySQLDeadlocksAreRetried(t *testing.T) {
	needMySQL(t)
	tg, _ := ownMySQLGateway(t, config.Source{})
	raceChangeSets(t, tg, 8)
}

// TestMySQLReadOnlyUser: a gateway connected as a user with SELECT only
// serves every table read-only.
func TestMySQLReadOnlyUser(t *testing.T) {
	needMySQL(t)
	_, conn := ownMySQLGateway(t, config.Source{})
	dsn := dsnOf(t, conn)
	user := "odatagw_ro_" + strings.TrimPrefix(dsn[strings.LastIndex(dsn, "/")+1:], "odatagw_test_")
	for _, s := range []string{"CREATE USER '" + user + "'@'%' IDENTIFIED BY 'pw-ro'",
		"GRANT SELECT ON `" + dsn[strings.LastIndex(dsn, "/")+1:] + "`.* TO '" + user + "'@'%'"} {
		if _, err := conn.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { conn.Exec("DROP USER IF EXISTS '" + user + "'@'%'") })
	u, _ := url.Parse(dsn)
	u.User = url.UserPassword(user, "pw-ro")
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: erpSource(config.Source{DSN: u.String()})})
	tg := g.target("mysql", "erp", nil)
	if r := tg.get(t, "Customers(1)"); r.Status != 200 {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	if r := tg.send(t, "PATCH", "Customers(1)", `{"City":"x"}`); r.Status != 405 || errorCode(t, r) != "ReadOnly" {
		t.Fatalf("write as a reader: %d %s", r.Status, r.Body)
	}
}

// TestMySQLPerUserRefused: per_user needs row-level security, which MySQL
// has not; the source refuses to open and says why.
func TestMySQLPerUserRefused(t *testing.T) {
	tg := needMySQL(t)
	_ = tg
	_, err := sources.Open(context.Background(), sources.Options{Name: "x", DSN: myDB.DSN,
		PerUser: true, Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("per_user on MySQL: %v", err)
	}
}

// TestMySQLStatementTimeout: a read past the statement timeout answers
// 504; the server's own limit (max_statement_time or MAX_EXECUTION_TIME)
// ends it.
func TestMySQLStatementTimeout(t *testing.T) {
	needMySQL(t)
	tg, _ := ownMySQLGateway(t, config.Source{StatementTimeout: config.Duration(1500 * time.Millisecond),
		Keys: map[string][]string{"slow_rows": {"id"}}}, "slow.sql")
	start := time.Now()
	r := tg.get(t, "slow_rows")
	if r.Status != 504 || errorCode(t, r) != "QueryTimeout" {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if d := time.Since(start); d > 4500*time.Millisecond {
		t.Errorf("took %v; the timeout did not end the query", d)
	}
}

// TestMySQLOutageAndConnectionLostMidWrite: while the server is
// unreachable the gateway answers 503 and recovers after; a write whose
// connection breaks half way answers 503 and leaves nothing behind.
func TestMySQLOutageAndConnectionLostMidWrite(t *testing.T) {
	needMySQL(t)
	db := testdb.NewMySQL(t, testdb.MySQLFixture("fixture.sql"), testdb.MySQLFixture("slow.sql"))
	u, _ := url.Parse(db.DSN)
	px := startProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: erpSource(config.Source{DSN: u.String()}), Logger: testLogger()})
	tg := g.target("mysql", "erp", nil)
	direct, err := testdb.OpenMySQL(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()

	px.setUp(false)
	if r := tg.get(t, "Customers?$top=1&$count=true"); r.Status != 503 || errorCode(t, r) != "SourceUnavailable" {
		t.Fatalf("during the outage: %d %s", r.Status, r.Body)
	}
	px.setUp(true)
	eventually(t, 10*time.Second, "the gateway recovers", func() bool { return tg.get(t, "Customers?$top=1&$count=true").Status == 200 })

	done := make(chan response, 1)
	go func() { done <- tg.send(t, "POST", "slow_writes", `{"id":1,"note":"half way"}`) }()
	running := func() int {
		var n int
		// (inside the trigger, the server shows the statement it runs there)
		direct.QueryRow(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE()
			AND (INFO LIKE 'INSERT INTO %slow_writes%' OR INFO LIKE '%SLEEP(1)%') AND ID <> CONNECTION_ID()`).Scan(&n)
		return n
	}
	eventually(t, 5*time.Second, "the insert runs (it sleeps a second in a trigger)", func() bool { return running() == 1 })
	px.setUp(false)
	var res response
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the write never answered")
	}
	if res.Status != 503 {
		t.Fatalf("write during the cut: %d %s", res.Status, res.Body)
	}
	px.setUp(true)
	eventually(t, 10*time.Second, "the cut insert ends on the server", func() bool { return running() == 0 })
	var n int
	if err := direct.QueryRow(`SELECT COUNT(*) FROM slow_writes`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows (%v) written by a write that reported failure", n, err)
	}
	eventually(t, 10*time.Second, "the gateway recovers and the write lands", func() bool {
		return tg.send(t, "POST", "slow_writes", `{"id":1,"note":"whole"}`).Status == 201
	})
}

// TestMySQLPagingWhileWriting follows nextLinks through the 200,000-row
// table while another connection inserts and deletes: every row that
// existed throughout is seen exactly once, in order.
func TestMySQLPagingWhileWriting(t *testing.T) {
	needMySQL(t)
	tg, conn := ownMySQLGateway(t, config.Source{}, "events.sql")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	writes := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := conn.Exec(`DELETE FROM events WHERE id = ?`, 150000+7*(i+1)); err == nil {
				writes++
			}
			conn.Exec(`INSERT INTO events VALUES (?, 'new', 1, '2024-01-01', NULL)`, 300000+i)
		}
	}()
	seen := map[int64]bool{}
	last := int64(-1)
	link := tg.root + "events?$select=id&$orderby=id"
	for pages := 0; link != "" && pages < 400; pages++ {
		r := do(t, "GET", link, nil, "Prefer", "odata.maxpagesize=5000")
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", link, r.Status, r.Body)
		}
		var body struct {
			Value []struct{ ID int64 } `json:"value"`
			Next  string               `json:"@odata.nextLink"`
		}
		json.Unmarshal(r.Body, &body)
		for _, v := range body.Value {
			if v.ID <= last || seen[v.ID] {
				t.Fatalf("row %d out of order or twice (after %d)", v.ID, last)
			}
			seen[v.ID], last = true, v.ID
		}
		link = body.Next
	}
	close(stop)
	wg.Wait()
	for id := int64(1); id <= 200000; id++ {
		if (id <= 150000 || (id-150000)%7 != 0) && !seen[id] {
			t.Fatalf("row %d, there throughout, was skipped", id)
		}
	}
	if writes == 0 {
		t.Fatal("the writer changed nothing; the test proved nothing")
	}
	t.Logf("%d rows seen, %d deletes during paging", len(seen), writes)
}

// TestMySQLChangeTracking: odatagw track installs the trigger-fed log;
// changes made behind the gateway reach its cache within a poll, delta
// links list them, and counts come from the kept row counts.
func TestMySQLChangeTracking(t *testing.T) {
	needMySQL(t)
	db := testdb.NewMySQL(t, testdb.MySQLFixture("fixture.sql"))
	printed, errOut, code := runCLI(t, "track", db.DSN, "Customers")
	if code != 0 || !strings.Contains(printed, "DELIMITER $$") || !strings.Contains(printed, "CREATE TRIGGER `odatagw_Customers_insert`") {
		t.Fatalf("track (print): %d %s %s", code, printed, errOut)
	}
	if out, errOut, code := runCLI(t, "track", db.DSN, "Customers", "--apply"); code != 0 || !strings.Contains(out, "tracking Customers") {
		t.Fatalf("track --apply: %d %s %s", code, out, errOut)
	}
	hour := 1 * time.Hour
	g := startGateway(t, app.Settings{Defaults: config.File{Cache: config.Cache{TTL: &hour}}, SkipTokenSecret: "delta-test-secret",
		Sources: erpSource(config.Source{DSN: db.DSN})})
	eventually(t, 10*time.Second, "the source listening", func() bool { return g.Listening("erp") })
	root := g.root("erp")
	direct, err := testdb.OpenMySQL(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if r := do(t, "GET", root, nil); strings.Contains(string(r.Body), "odatagw_") {
		t.Errorf("the tracking tables are served: %s", r.Body)
	}

	// a cached answer, then a change behind the gateway's back
	city := func() string { return fmt.Sprint(do(t, "GET", root+"Customers(5)?$select=City", nil).JSON(t)["City"]) }
	before := city()
	if _, err := direct.Exec(`UPDATE Customers SET City = 'Changed behind' WHERE CustomerId = 5`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, 5*time.Second, "the direct change reaches the cache", func() bool { return city() == "Changed behind" })
	t.Logf("cached %q replaced by the direct change after %v", before, time.Since(start).Round(time.Millisecond))

	// delta links
	if _, err := direct.Exec(`INSERT INTO Customers (CustomerId, Name, Country, CreatedAt) VALUES (1002, 'Short-lived', 'USA', NOW())`); err != nil {
		t.Fatal(err)
	}
	first := do(t, "GET", root+encodeQuery("Customers?$filter=Country eq 'USA'&$top=0&$count=true"), nil, "Prefer", "odata.track-changes", "OData-MaxVersion", "4.01")
	link, _ := first.JSON(t)["@odata.deltaLink"].(string)
	if link == "" {
		t.Fatalf("no delta link: %s", first.Body)
	}
	for _, s := range []string{
		`INSERT INTO Customers (CustomerId, Name, Country, CreatedAt) VALUES (1001, 'New one', 'USA', NOW())`,
		`UPDATE Customers SET Name = 'Renamed 1' WHERE CustomerId = 1`,
		`DELETE FROM Customers WHERE CustomerId = 1002`} {
		if _, err := direct.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	if r := do(t, "PATCH", root+"Customers(8)", []byte(`{"Country":"USA"}`), "Content-Type", "application/json"); r.Status >= 300 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	d := collect(t, link, func(d delta) bool { return len(d.changed) >= 3 && len(d.removed) >= 1 }, "Prefer", "odata.maxpagesize=2")
	if d.changed["1001"] == nil || d.changed["1"]["Name"] != "Renamed 1" || d.changed["8"] == nil {
		t.Errorf("the delta's changes: %v", d.changed)
	}
	if d.removed[root+"Customers(1002)"] != "deleted" {
		t.Errorf("the delta's removals: %v", d.removed)
	}
	// the kept count
	if r := do(t, "GET", root+"Customers/$count", nil); string(r.Body) != "501" {
		t.Errorf("$count %s, want 501 (two added, one removed)", r.Body)
	}
	// skewed, then a change that empties the cache: the next count is the kept one
	if _, err := direct.Exec(`UPDATE odatagw_row_counts SET n = n + 1000 WHERE slot = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Exec(`DELETE FROM Customers WHERE CustomerId = 1001`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the kept count (skewed to 1500), not a count of the table's 500 rows", func() bool {
		return do(t, "GET", root+"Customers?$top=0&$count=true", nil).JSON(t)["@odata.count"] == json.Number("1500")
	})
	// removing it leaves nothing behind
	if out, errOut, code := runCLI(t, "track", db.DSN, "--drop", "--apply"); code != 0 {
		t.Fatalf("track --drop: %d %s %s", code, out, errOut)
	}
	var n int
	direct.QueryRow(`SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()`).Scan(&n)
	if n != 0 {
		t.Errorf("%d triggers left after --drop", n)
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("ODATAGW_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return quietLogger()
}

// TestSortedByAnExpressionPagesAlike: a sort key with a constant in it
// (written twice in the SQL, and again in each nextLink's keyset) pages
// through the same rows in the same order on PostgreSQL and MySQL.
func TestSortedByAnExpressionPagesAlike(t *testing.T) {
	pg, my := needPostgres(t), needMySQL(t)
	keys := func(tg *target) []string {
		var out []string
		link := tg.root + encodeQuery("Customers?$select=CustomerId&$orderby=CustomerId mod 7 desc,Rating&$filter=substring(City,0,1) in ('A',null) or CustomerId gt 250&$top=400")
		for pages := 0; link != "" && pages < 40; pages++ {
			r := do(t, "GET", link, nil, "Prefer", "odata.maxpagesize=50")
			if r.Status != 200 {
				t.Fatalf("%s: %s: %d %s", tg.name, link, r.Status, r.Body)
			}
			body := r.JSON(t)
			for _, v := range body["value"].([]any) {
				out = append(out, fmt.Sprint(v.(map[string]any)["CustomerId"]))
			}
			link, _ = body["@odata.nextLink"].(string)
		}
		return out
	}
	a, b := keys(pg), keys(my)
	if len(a) < 300 || strings.Join(a, " ") != strings.Join(b, " ") {
		t.Fatalf("PostgreSQL paged %d rows, MySQL %d, or in another order:\n%.200s\n%.200s", len(a), len(b), strings.Join(a, " "), strings.Join(b, " "))
	}
}
