package tests

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// liteMember makes a SQLite database for a service's third member: an
// invoices table whose order_id names an order of the PostgreSQL member.
func liteMember(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "billing.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE invoices (number TEXT PRIMARY KEY, order_id INTEGER NOT NULL, total NUMERIC(12,2))`,
		`INSERT INTO invoices VALUES ('INV-1', 10248, 440.00), ('INV-2', 10249, 1863.40), ('INV-3', 10250, 1552.60)`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return "sqlite:" + path
}

// erpService is the service of these suites: PostgreSQL (pg) under its
// own names, MariaDB (my) with the prefix my_, SQLite (lite) with lite_,
// and a relation from the SQLite invoices to the PostgreSQL orders.
func erpService(a config.Auth) map[string]config.Service {
	return map[string]config.Service{"all": {
		Sources:   map[string]config.Member{"pg": {}, "my": {Prefix: "my_"}, "lite": {Prefix: "lite_"}},
		Relations: map[string]string{"lite_invoices.order_id": "pg.Orders.OrderId"},
		Auth:      a,
	}}
}

// serviceSources are the three members, open to every caller.
func serviceSources(pgDSN, myDSN, liteDSN string) map[string]config.Source {
	keys := map[string][]string{"customer_summary": {"customer_id"}}
	return anyone(map[string]config.Source{
		"pg":   {DSN: pgDSN, Keys: keys},
		"my":   {DSN: myDSN, Keys: keys},
		"lite": {DSN: liteDSN},
	})
}

// comparable is an answer with what names its root and set taken out:
// the rows, the count, and whether more pages or a delta link follow.
func comparable(t *testing.T, body map[string]any, root, set string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range body {
		switch k {
		case "@odata.context":
			ctx, _ := v.(string)
			rest, ok := strings.CutPrefix(ctx, root+"$metadata#"+set)
			if !ok {
				t.Errorf("@odata.context %q is not about %s at %s", ctx, set, root)
			}
			out[k] = rest
		case "@odata.nextLink", "@odata.deltaLink":
			link, _ := v.(string)
			if !strings.HasPrefix(link, root+set) {
				t.Errorf("%s %q does not lead to %s at %s", k, link, set, root)
			}
			out[k] = true
		default:
			out[k] = v
		}
	}
	return out
}

// TestServiceAnswersAsItsMembers: the Salesforce catalogue through a
// service over PostgreSQL, MariaDB and SQLite answers, page by page, what
// each member's own root answers: rows, counts, links, the cache's miss
// and hit. Its $metadata holds every member's sets, valid against the
// OASIS schemas in 4.0 and 4.01; a member with expose: false is reached
// through the service alone.
func TestServiceAnswersAsItsMembers(t *testing.T) {
	needPostgres(t)
	needMySQL(t)
	srcs := serviceSources(pgDB.DSN, myDB.DSN, liteMember(t))
	hidden := false
	lite := srcs["lite"]
	lite.Expose = &hidden
	srcs["lite"] = lite
	g := startGateway(t, app.Settings{Defaults: config.File{Services: erpService(config.Auth{Anonymous: true})}, Sources: srcs, MetricsListen: "127.0.0.1:0"})
	svc := g.root("all")

	members := []struct{ name, prefix, dialect string }{{"pg", "", "postgres"}, {"my", "my_", "mysql"}}
	hits := 0
	for round := 1; round <= 2; round++ { // the second round is the cache's
		for _, m := range members {
			for _, sc := range catalogue {
				if sc.only != "" && !slices.Contains(strings.Fields(sc.only), m.dialect) {
					continue
				}
				t.Run(fmt.Sprintf("round %d/%s/%s", round, m.name, sc.name), func(t *testing.T) {
					set, _, _ := strings.Cut(sc.url, "?")
					headers := append([]string{"OData-MaxVersion", "4.01"}, sc.headers...)
					own := do(t, "GET", g.root(m.name)+encodeQuery(sc.url), nil, headers...)
					through := do(t, "GET", svc+encodeQuery(m.prefix+sc.url), nil, headers...)
					if own.Status != 200 || through.Status != 200 {
						t.Fatalf("member root %d, service %d: %.300s", own.Status, through.Status, through.Body)
					}
					if through.Header.Get("X-Cache") == "hit" {
						hits++
					}
					want := []map[string]any{comparable(t, own.JSON(t), g.root(m.name), set)}
					got := []map[string]any{comparable(t, through.JSON(t), svc, m.prefix+set)}
					if sc.follow {
						followPages(t, own.JSON(t), sc.headers, func(p map[string]any) { want = append(want, comparable(t, p, g.root(m.name), set)) })
						followPages(t, through.JSON(t), sc.headers, func(p map[string]any) { got = append(got, comparable(t, p, svc, m.prefix+set)) })
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("the service answers otherwise than the member's root:\n service %.400v\n member  %.400v", got, want)
					}
				})
			}
		}
	}
	if hits == 0 {
		t.Error("the second round was never answered by the cache through the service")
	}

	// one model: every member's sets, under the service's names
	doc := do(t, "GET", svc, nil).JSON(t)
	var names []string
	for _, v := range doc["value"].([]any) {
		names = append(names, v.(map[string]any)["name"].(string))
	}
	for _, want := range []string{"Customers", "my_Customers", "Orders", "my_Orders", "lite_invoices", "customer_summary", "my_customer_summary"} {
		if !slices.Contains(names, want) {
			t.Errorf("the service document lacks %s: %v", want, names)
		}
	}
	for _, v := range []string{"4.0", "4.01"} {
		md := do(t, "GET", svc+"$metadata", nil, "OData-MaxVersion", v)
		if md.Status != 200 || !strings.Contains(string(md.Body), `EntitySet Name="my_Customers" EntityType="odatagw.my_Customers"`) {
			t.Fatalf("$metadata %s: %d %.400s", v, md.Status, md.Body)
		}
		validateXSD(t, md.Body)
	}
	validateCSDLJSON(t, do(t, "GET", svc+"$metadata?$format=json", nil, "OData-MaxVersion", "4.01").Body)

	// the service's requests and callouts in the metrics, under its name
	scrape := string(do(t, "GET", "http://"+g.MetricsAddr()+"/metrics", nil).Body)
	for _, want := range []string{`odatagw_callouts_this_hour{source="all"}`, `odatagw_callouts_hourly_limit{source="all"} 20000`} {
		if !strings.Contains(scrape, want) {
			t.Errorf("the metrics lack %s", want)
		}
	}
	if !strings.Contains(scrape, `source="all"`) || !strings.Contains(scrape, `set="my_Customers"`) {
		t.Error("the metrics do not name the service and its sets")
	}

	// expose: false: the SQLite member answers through the service only
	if r := do(t, "GET", g.root("lite")+"invoices", nil); r.Status != 404 {
		t.Errorf("the unexposed member's own root: %d %s", r.Status, r.Body)
	}
	if r := do(t, "GET", svc+encodeQuery("lite_invoices?$filter=order_id eq 10248"), nil); r.Status != 200 || !strings.Contains(string(r.Body), "INV-1") {
		t.Errorf("the unexposed member through the service: %d %s", r.Status, r.Body)
	}
}

// TestServiceWritesSeenThroughEveryRoot: two gateways share a Redis and
// an hour's cache; a write through one's service is read at once through
// the other's service and member root, and a write through a member's
// own root at once through the services: they keep the member's
// generations.
func TestServiceWritesSeenThroughEveryRoot(t *testing.T) {
	needPostgres(t)
	needMySQL(t)
	redisURL := testdb.RedisURL(t)
	prefix := testdb.RedisPrefix(t, redisURL)
	pg := newFixtureDB(t)
	if _, errOut, code := runCLI(t, "track", pg.DSN, "Customers", "--apply"); code != 0 {
		t.Fatalf("track: %s", errOut)
	}
	my := testdb.NewMySQL(t, testdb.MySQLFixture("fixture.sql"))
	hour := time.Hour
	var gws [2]*gateway
	for i := range gws {
		gws[i] = startListening(t, app.Settings{Sources: serviceSources(pg.DSN, my.DSN, liteMember(t)),
			Defaults: config.File{Cache: config.Cache{TTL: &hour}, Redis: redisURL, RedisPrefix: prefix,
				Services: erpService(config.Auth{Anonymous: true})}})
	}
	type place struct{ root, set string }
	places := func(member, set, svcSet string) []place {
		var out []place
		for _, g := range gws {
			out = append(out, place{g.root(member), set}, place{g.root("all"), svcSet})
		}
		return out
	}
	readAll := func(ps []place, key, want string) {
		t.Helper()
		for _, p := range ps {
			r := do(t, "GET", p.root+p.set+"("+key+")?$select=City", nil)
			if r.Status != 200 || !strings.Contains(string(r.Body), `"City":"`+want+`"`) {
				t.Errorf("%s%s(%s): %d %s, want City %s", p.root, p.set, key, r.Status, r.Body, want)
			}
		}
	}
	pgPlaces, myPlaces := places("pg", "Customers", "Customers"), places("my", "Customers", "my_Customers")
	var pgCity, myCity string
	execQuery(t, pg.DSN, `SELECT "City" FROM "Customers" WHERE "CustomerId" = 1`, &pgCity)
	myQuery(t, my.DSN, `SELECT City FROM Customers WHERE CustomerId = 1`, &myCity)
	readAll(pgPlaces, "1", pgCity) // every place keeps its answer now
	readAll(myPlaces, "1", myCity)
	// Salesforce's change tracking through the service: its delta link
	// leads back to the service, and tells of a write made elsewhere
	first := do(t, "GET", gws[0].root("all")+"Customers?$select=CustomerId,City&$top=0", nil, "Prefer", "odata.track-changes", "OData-MaxVersion", "4.01")
	deltaLink, _ := first.JSON(t)["@odata.deltaLink"].(string)
	if first.Status != 200 || !strings.HasPrefix(deltaLink, gws[0].root("all")+"Customers?") {
		t.Fatalf("the first tracked read through the service: %d %s", first.Status, first.Body)
	}
	for round, w := range []struct {
		root, set string
		places    []place
	}{
		{gws[0].root("all"), "Customers", pgPlaces},
		{gws[1].root("pg"), "Customers", pgPlaces},
		{gws[1].root("all"), "my_Customers", myPlaces},
		{gws[0].root("my"), "Customers", myPlaces},
	} {
		city := fmt.Sprintf("Written-%d", round)
		if r := do(t, "PATCH", w.root+w.set+"(1)", []byte(`{"City":"`+city+`"}`), "Content-Type", "application/json"); r.Status != 204 {
			t.Fatalf("write %d through %s: %d %s", round, w.root, r.Status, r.Body)
		}
		readAll(w.places, "1", city)
	}
	eventually(t, 10*time.Second, "the delta link through the service tells of the writes", func() bool {
		d := readDelta(t, deltaLink)
		return d.final && fmt.Sprint(d.changed["1"]["City"]) == "Written-1" && strings.HasPrefix(d.next, gws[0].root("all")+"Customers?")
	})
	// a new record through the service is read through the member's root
	r := do(t, "POST", gws[0].root("all")+"my_Suppliers", []byte(`{"SupplierID":9901,"CompanyName":"Through the service"}`), "Content-Type", "application/json")
	if r.Status != 201 || !strings.Contains(r.Header.Get("Location"), gws[0].root("all")+"my_Suppliers(9901)") {
		t.Fatalf("create through the service: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if r := do(t, "GET", gws[1].root("my")+"Suppliers(9901)", nil); r.Status != 200 {
		t.Errorf("the new record through the member's root: %d %s", r.Status, r.Body)
	}
}

// TestServiceChangeSets: a $batch through a service may read every
// member; a change set stays within one member's database, all or
// nothing, and one that writes to two is refused with a 400 before
// anything is written.
func TestServiceChangeSets(t *testing.T) {
	needPostgres(t)
	needMySQL(t)
	pg := newFixtureDB(t)
	my := testdb.NewMySQL(t, testdb.MySQLFixture("fixture.sql"))
	g := startGateway(t, app.Settings{Sources: serviceSources(pg.DSN, my.DSN, liteMember(t)),
		Defaults: config.File{Services: erpService(config.Auth{Anonymous: true})}})
	svc := g.root("all")
	batch := func(body string) response {
		t.Helper()
		return do(t, "POST", svc+"$batch", []byte(body), "Content-Type", "application/json")
	}
	patch := func(id, group, url, city string) string {
		return fmt.Sprintf(`{"id":%q,"atomicityGroup":%q,"method":"PATCH","url":%q,"headers":{"content-type":"application/json"},"body":{"City":%q}}`, id, group, url, city)
	}
	cities := func() (string, string) {
		var a, b string
		execQuery(t, pg.DSN, `SELECT "City" FROM "Customers" WHERE "CustomerId" = 2`, &a)
		myQuery(t, my.DSN, `SELECT City FROM Customers WHERE CustomerId = 2`, &b)
		return a, b
	}
	pgBefore, myBefore := cities()

	r := batch(`{"requests":[` + patch("1", "g", "Customers(2)", "Across-1") + `,` + patch("2", "g", "my_Customers(2)", "Across-2") + `]}`)
	if r.Status != 400 || !strings.Contains(string(r.Body), "one transaction in one database") ||
		!strings.Contains(string(r.Body), "source pg") || !strings.Contains(string(r.Body), "source my") {
		t.Fatalf("a change set over two databases: %d %s", r.Status, r.Body)
	}
	if a, b := cities(); a != pgBefore || b != myBefore {
		t.Fatalf("a refused change set wrote: %q %q, were %q %q", a, b, pgBefore, myBefore)
	}
	// the same in the multipart format Salesforce's adapter sends
	mp := "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n" +
		"--c\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nPATCH Customers(2) HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"City\":\"Across-3\"}\r\n" +
		"--c\r\nContent-Type: application/http\r\nContent-ID: 2\r\n\r\nPATCH my_Customers(2) HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"City\":\"Across-4\"}\r\n" +
		"--c--\r\n--b--\r\n"
	if r := do(t, "POST", svc+"$batch", []byte(mp), "Content-Type", "multipart/mixed; boundary=b"); r.Status != 400 {
		t.Fatalf("a multipart change set over two databases: %d %s", r.Status, r.Body)
	}
	if a, b := cities(); a != pgBefore || b != myBefore {
		t.Fatalf("a refused multipart change set wrote: %q %q", a, b)
	}

	// reads of every member beside a change set of one member's writes,
	// and a change set of the other's
	r = batch(`{"requests":[{"id":"r1","method":"GET","url":"Customers(2)?$select=City"},{"id":"r2","method":"GET","url":"my_Customers(2)?$select=City"},` +
		`{"id":"r3","method":"GET","url":"lite_invoices('INV-1')"},` +
		patch("w1", "pg", "Customers(2)", "One-1") + `,` + patch("w2", "pg", "Customers(3)", "One-2") + `,` +
		patch("w3", "my", "my_Customers(2)", "One-3") + `]}`)
	if r.Status != 200 {
		t.Fatalf("batch: %d %s", r.Status, r.Body)
	}
	var answers struct {
		Responses []struct {
			ID     string          `json:"id"`
			Status int             `json:"status"`
			Body   json.RawMessage `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(r.Body, &answers); err != nil {
		t.Fatal(err)
	}
	if len(answers.Responses) != 6 {
		t.Fatalf("%d answers: %s", len(answers.Responses), r.Body)
	}
	for _, a := range answers.Responses {
		if want := map[bool]int{true: 200, false: 204}[strings.HasPrefix(a.ID, "r")]; a.Status != want {
			t.Errorf("part %s: %d %s", a.ID, a.Status, a.Body)
		}
	}
	if a, b := cities(); a != "One-1" || b != "One-3" {
		t.Errorf("after the change sets: %q %q", a, b)
	}
	// a change set that fails in one member rolls back there alone
	r = batch(`{"requests":[` + patch("1", "g", "Customers(4)", "Rolled-back") + `,` +
		`{"id":"2","atomicityGroup":"g","method":"PATCH","url":"Customers(4)","headers":{"content-type":"application/json"},"body":{"NoSuchField":1}}]}`)
	var four string
	execQuery(t, pg.DSN, `SELECT coalesce("City", '') FROM "Customers" WHERE "CustomerId" = 4`, &four)
	if r.Status != 200 || four == "Rolled-back" {
		t.Errorf("a failing change set: %d, city %q: %s", r.Status, four, r.Body)
	}
}

// TestServiceMemberCut: while one member's database is unreachable its
// sets answer 503, and the other members' sets and the service's
// $metadata keep answering; once it is back, so are its sets.
func TestServiceMemberCut(t *testing.T) {
	needPostgres(t)
	needMySQL(t)
	u, err := url.Parse(myDB.DSN)
	if err != nil {
		t.Fatal(err)
	}
	px := startProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	g := startGateway(t, app.Settings{Sources: serviceSources(pgDB.DSN, u.String(), liteMember(t)),
		Defaults: config.File{Cache: uncached().Cache, Services: erpService(config.Auth{Anonymous: true})}})
	svc := g.root("all")
	for _, p := range []string{"Customers?$top=1&$count=true", "my_Customers?$top=1&$count=true", "lite_invoices"} {
		if r := do(t, "GET", svc+encodeQuery(p), nil); r.Status != 200 {
			t.Fatalf("before the cut, %s: %d %s", p, r.Status, r.Body)
		}
	}
	px.setUp(false)
	r := do(t, "GET", svc+encodeQuery("my_Customers?$top=1&$count=true"), nil)
	if r.Status != 503 || errorCode(t, r) != "SourceUnavailable" {
		t.Fatalf("the cut member's set: %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"Customers?$top=1&$count=true", "Orders(10248)", "lite_invoices", "$metadata", ""} {
		if r := do(t, "GET", svc+encodeQuery(p), nil); r.Status != 200 {
			t.Errorf("during the cut, %q: %d %.300s", p, r.Status, r.Body)
		}
	}
	px.setUp(true)
	eventually(t, 10*time.Second, "the cut member answers again", func() bool {
		return do(t, "GET", svc+encodeQuery("my_Customers?$top=1&$count=true"), nil).Status == 200
	})
}

// TestServiceRefusals: a service whose names clash does not start, and
// the error names both sets and the settings that fix it; so do a
// relation that cannot be one and a member that is not registered.
func TestServiceRefusals(t *testing.T) {
	needPostgres(t)
	needMySQL(t)
	srcs := serviceSources(pgDB.DSN, myDB.DSN, liteMember(t))
	for _, c := range []struct {
		name string
		svc  config.Service
		want []string
	}{
		{"clash", config.Service{Sources: map[string]config.Member{"pg": {}, "my": {}}, Auth: config.Auth{Anonymous: true}},
			[]string{"Customers is taken by both", "my.Customers", "pg.Customers", "services.all.sources.pg.prefix: pg_", "services.all.names: {pg.Customers: PgCustomers}"}},
		{"relation to a column that is not unique", config.Service{Sources: map[string]config.Member{"pg": {}, "lite": {Prefix: "lite_"}},
			Relations: map[string]string{"lite_invoices.order_id": "pg.Orders.CustomerId"}, Auth: config.Auth{Anonymous: true}},
			[]string{"pg.Orders.CustomerId is not unique"}},
		{"relation between kinds", config.Service{Sources: map[string]config.Member{"pg": {}, "lite": {Prefix: "lite_"}},
			Relations: map[string]string{"lite_invoices.number": "pg.Orders.OrderId"}, Auth: config.Auth{Anonymous: true}},
			[]string{"Edm.String", "Edm.Int32", "one kind"}},
		{"unknown member", config.Service{Sources: map[string]config.Member{"pg": {}, "billing": {}}, Auth: config.Auth{Anonymous: true}},
			[]string{"source billing is not served"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := serveGateway(app.Settings{Sources: srcs, Defaults: config.File{Services: map[string]config.Service{"all": c.svc}}})
			if err == nil {
				g.stop()
				t.Fatal("the gateway started")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error does not say %q: %v", w, err)
				}
			}
		})
	}
}

// TestServicePackageAndCheck: `odatagw salesforce package SERVICE` makes
// one External Data Source, credential and permission set for the three
// members' objects, valid against the Metadata API's schema, with the
// relation from SQLite to PostgreSQL an External Lookup; `odatagw check
// SERVICE` reports every member and the service.
func TestServicePackageAndCheck(t *testing.T) {
	needPostgres(t)
	needMySQL(t)
	cfg := filepath.Join(t.TempDir(), "odatagw.yaml")
	text := fmt.Sprintf(`sources:
  pg: {dsn: %q, auth: {basic: true}}
  my: {dsn: %q, auth: {basic: true}}
  lite: {dsn: %q, auth: {basic: true}}
services:
  all:
    sources: {pg: {}, my: {prefix: my_}, lite: {prefix: lite_}}
    relations: {lite_invoices.order_id: pg.Orders.OrderId}
    auth: {basic: true}
`, pgDB.DSN, myDB.DSN, liteMember(t))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pkg")
	stdout, stderr, code := runCLI(t, "salesforce", "package", "all", "--config", cfg, "--public-url", "https://odata.example.com", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "lite_invoices.order_id -> Orders__x (ExternalLookup") {
		t.Errorf("the relation is not an External Lookup: %s", stdout)
	}
	pkg := readPackage(t, out)
	for _, want := range []string{"==> dataSources/all.dataSource <==", "==> objects/my_Customers__x.object <==", "==> objects/Customers__x.object <==",
		"==> objects/lite_invoices__x.object <==", "<endpoint>callout:all</endpoint>", "https://odata.example.com/odata/all<"} {
		if !strings.Contains(pkg, want) {
			t.Errorf("the package lacks %q", want)
		}
	}
	for _, kind := range []string{"dataSources/", "namedCredentials/", "permissionsets/"} {
		if n := strings.Count(pkg, "==> "+kind); n != 1 {
			t.Errorf("%d files under %s, want one", n, kind)
		}
	}
	// moving from a source's own data source to the service's: the org
	// holds pg's package; the diff says each of its objects moves, under
	// its API name, and what the service adds
	org := filepath.Join(t.TempDir(), "org")
	for _, src := range []string{"pg"} {
		dir := filepath.Join(t.TempDir(), src)
		if stdout, stderr, code := runCLI(t, "salesforce", "package", src, "--config", cfg, "--public-url", "https://odata.example.com", "--out", dir); code != 0 {
			t.Fatalf("package %s: exit %d: %s%s", src, code, stdout, stderr)
		}
		copyInto(t, dir, org)
	}
	stdout, stderr, code = runCLI(t, "salesforce", "diff", "all", org, "--config", cfg, "--public-url", "https://odata.example.com")
	if code != 1 {
		t.Fatalf("diff of the service against the sources' packages: exit %d: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{"+ all: External Data Source", "~ Customers__x: External Data Source pg -> External Data Source all",
		"~ Orders__x: External Data Source pg -> External Data Source all", "+ my_Customers__x", "+ lite_invoices__x"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the diff lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "- Customers__x") || strings.Contains(stdout, "+ Customers__x") {
		t.Errorf("the diff drops or makes an object that moves:\n%s", stdout)
	}

	stdout, stderr, code = runCLI(t, "check", "all", "--config", cfg)
	if code != 0 && code != 1 {
		t.Fatalf("check: exit %d: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{"== source lite ==", "== source my ==", "== source pg ==", "== service all: one data source for lite, my, pg ==",
		"table Customers -> entity set my_Customers", "External Lookup to Orders__x"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check does not say %q:\n%s", want, stdout)
		}
	}
}

// TestServicePerUserRowLevelSecurity: through a per_user service, each
// Salesforce user sees the rows PostgreSQL's row-level security gives
// their role, as through the member's root; a per_user member in a
// service that is not per_user is refused at start.
func TestServicePerUserRowLevelSecurity(t *testing.T) {
	needPostgres(t)
	db, eu, us, _ := regionalDB(t)
	hour := time.Hour
	srcs := map[string]config.Source{"erp": {DSN: db.DSN, Auth: config.Auth{Basic: true, PerUser: true}}}
	services := map[string]config.Service{"all": {Sources: map[string]config.Member{"erp": {Prefix: "erp_"}}, Auth: config.Auth{Basic: true, PerUser: true}}}
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k", srcs,
		func(s *app.Settings) { s.Defaults = config.File{Cache: config.Cache{TTL: &hour}, Services: services} })
	as := usersWithRoles(t, ag, map[string]string{"anna": eu, "ulysses": us})
	var euCount, usCount string
	execQuery(t, db.DSN, `SELECT count(*)::text FROM "Customers" WHERE "Country" = 'Germany'`, &euCount)
	execQuery(t, db.DSN, `SELECT count(*)::text FROM "Customers" WHERE "Country" IN ('USA', 'US')`, &usCount)
	for round := 1; round <= 2; round++ {
		for user, want := range map[string]string{"anna": euCount, "ulysses": usCount} {
			for _, path := range []string{"/odata/all/erp_Customers/$count", "/odata/erp/Customers/$count"} {
				r := do(t, "GET", ag.odata+path, nil, as(user)...)
				if r.Status != 200 || strings.TrimSpace(string(r.Body)) != want {
					t.Errorf("round %d: %s counts %s at %s (%d), want %s", round, user, r.Body, path, r.Status, want)
				}
			}
		}
	}
	if r := do(t, "GET", ag.odata+"/odata/all/erp_Customers?$select=Country&$top=50", nil, as("anna")...); r.Status != 200 ||
		strings.Contains(string(r.Body), `"USA"`) || !strings.Contains(string(r.Body), `"Germany"`) {
		t.Errorf("anna through the service: %d %.300s", r.Status, r.Body)
	}

	// the admin API: the service, its package, its shapes and traffic
	r := ag.api(t, "GET", "/api/services", nil)
	var list struct {
		Services []struct {
			Name    string `json:"name"`
			Sources []struct {
				Name, Prefix string
				Served       bool
			} `json:"sources"`
			Sets []struct {
				Name      string `json:"name"`
				Source    string `json:"source"`
				SourceSet string `json:"source_set"`
			} `json:"entity_sets"`
		} `json:"services"`
	}
	if err := json.Unmarshal(r.Body, &list); err != nil || r.Status != 200 || len(list.Services) != 1 {
		t.Fatalf("GET /api/services: %d %s", r.Status, r.Body)
	}
	got := list.Services[0]
	if got.Name != "all" || len(got.Sources) != 1 || got.Sources[0].Prefix != "erp_" || !got.Sources[0].Served ||
		!slices.ContainsFunc(got.Sets, func(s struct {
			Name      string `json:"name"`
			Source    string `json:"source"`
			SourceSet string `json:"source_set"`
		}) bool {
			return s.Name == "erp_Customers" && s.Source == "erp" && s.SourceSet == "Customers"
		}) {
		t.Errorf("the service as the admin API tells it: %s", r.Body)
	}
	if r := ag.api(t, "GET", "/api/services/all/salesforce-metadata", nil); r.Status != 200 || r.Header.Get("Content-Type") != "application/zip" {
		t.Errorf("the service's package: %d %.200s", r.Status, r.Body)
	}
	sh := ag.api(t, "GET", "/api/services/all/shapes", nil)
	var shapeList struct {
		Shapes []struct {
			ID    string `json:"id"`
			Shape struct {
				Set string `json:"set"`
			} `json:"shape"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(sh.Body, &shapeList); err != nil || sh.Status != 200 || !strings.Contains(string(sh.Body), "erp_Customers") {
		t.Fatalf("the service's shapes: %d %.300s", sh.Status, sh.Body)
	}
	for _, e := range shapeList.Shapes {
		if e.Shape.Set != "erp_Customers" {
			continue
		}
		// the detail reaches the member's database for its statement's plan
		if r := ag.api(t, "GET", "/api/services/all/shapes/"+e.ID+"?explain=plan", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"explanation"`) {
			t.Errorf("a service's shape detail with its plan: %d %.400s", r.Status, r.Body)
		}
	}
	if r := ag.api(t, "GET", "/api/services/all/traffic", nil); r.Status != 200 || !strings.Contains(string(r.Body), "erp_Customers") {
		t.Errorf("the service's traffic: %d %.300s", r.Status, r.Body)
	}
	if r := ag.api(t, "GET", "/api/sources/erp/traffic", nil); r.Status != 200 || !strings.Contains(string(r.Body), "Customers") {
		t.Errorf("the member's traffic: %d %.300s", r.Status, r.Body)
	}

	services = map[string]config.Service{"all": {Sources: services["all"].Sources, Auth: config.Auth{Basic: true}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gw, err := app.Open(ctx, app.Settings{Logger: quietLogger(), Sources: srcs, Defaults: config.File{Services: services},
		State: filepath.Join(t.TempDir(), "state.db"), SecretKey: "k"})
	if err == nil {
		gw.Close()
		t.Fatal("a service without per_user over a per_user member started")
	}
	if !strings.Contains(err.Error(), "per_user") {
		t.Errorf("the refusal does not say per_user: %v", err)
	}
}

// myQuery reads one value from a MySQL/MariaDB database.
func myQuery(t *testing.T, dsn, query string, dst any) {
	t.Helper()
	db, err := testdb.OpenMySQL(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(query).Scan(dst); err != nil {
		t.Fatal(err)
	}
}

// TestServiceThroughTheAdminAPI: an admin registers a service through
// the API; it serves at once here and, through the shared store, on the
// other replica; a clash is refused naming both sets and saving nothing;
// a source a service serves cannot be removed, nor changed so that the
// service would clash; the service is changed under its ETag and removed.
func TestServiceThroughTheAdminAPI(t *testing.T) {
	needPostgres(t)
	needMySQL(t)
	state := testdb.NewPostgres(t)
	pg := newFixtureDB(t)
	liteDSN := liteMember(t)
	a := startAdminGateway(t, state.DSN, "k", nil)
	b := startAdminGateway(t, state.DSN, "k", nil)
	for name, dsn := range map[string]string{"pg": pg.DSN, "my": myDB.DSN, "lite": liteDSN} {
		if r := a.api(t, "POST", "/api/sources", map[string]any{"name": name, "dsn": dsn, "auth": anon}); r.Status != 201 {
			t.Fatalf("source %s: %d %s", name, r.Status, r.Body)
		}
	}
	eventually(t, 10*time.Second, "B serves the three sources", func() bool {
		return do(t, "GET", b.odata+"/odata/lite/invoices", nil).Status == 200 && do(t, "GET", b.odata+"/odata/my/Customers?$top=1", nil).Status == 200
	})

	r := a.api(t, "POST", "/api/services", map[string]any{"name": "all", "sources": map[string]any{"pg": map[string]any{}, "my": map[string]any{}}, "auth": anon})
	if r.Status != 422 || !strings.Contains(string(r.Body), `"field":"names"`) || !strings.Contains(string(r.Body), "my.Customers and pg.Customers") {
		t.Fatalf("a clashing service: %d %s", r.Status, r.Body)
	}
	if r := a.api(t, "GET", "/api/services", nil); !strings.Contains(string(r.Body), `"services":[]`) {
		t.Fatalf("the refused service was kept: %s", r.Body)
	}
	r = a.api(t, "POST", "/api/services", map[string]any{"name": "all", "auth": anon,
		"sources": map[string]any{"pg": map[string]any{}, "my": map[string]any{"prefix": "my_"}, "lite": map[string]any{"prefix": "lite_"}}})
	if r.Status != 201 {
		t.Fatalf("create the service: %d %s", r.Status, r.Body)
	}
	etag := r.Header.Get("ETag")
	for _, g := range []*adminGateway{a, b} {
		eventually(t, 10*time.Second, "the service serves on "+g.odata, func() bool {
			return do(t, "GET", g.odata+"/odata/all/my_Customers?$top=1", nil).Status == 200 &&
				do(t, "GET", g.odata+"/odata/all/lite_invoices", nil).Status == 200
		})
	}
	if r := a.api(t, "DELETE", "/api/sources/lite", nil); r.Status != 409 || !strings.Contains(string(r.Body), "all serves its sets") {
		t.Errorf("removing a source a service serves: %d %s", r.Status, r.Body)
	}
	if r := a.api(t, "POST", "/api/sources", map[string]any{"name": "all", "dsn": liteDSN, "auth": anon}); r.Status != 409 {
		t.Errorf("a source named as a service: %d %s", r.Status, r.Body)
	}
	// a source's schema reloaded: the service follows at its next request;
	// a reload whose new set would take a name the service gives another
	// source's set leaves the service on the model it had
	execSQL(t, pg.DSN, `ALTER TABLE "Customers" ADD COLUMN "Tier" text`, `CREATE TABLE "my_Customers" (id integer PRIMARY KEY)`)
	if r := a.api(t, "POST", "/api/sources/pg/reload", nil); r.Status != 200 {
		t.Fatalf("reload: %d %s", r.Status, r.Body)
	}
	md := string(do(t, "GET", a.odata+"/odata/all/$metadata", nil).Body)
	if strings.Contains(md, `Property Name="Tier"`) || !strings.Contains(md, `EntitySet Name="my_Customers"`) {
		t.Errorf("a clashing reload changed the service's model")
	}
	if r := do(t, "GET", a.odata+"/odata/all/my_Customers?$top=1&$select=CustomerId", nil); r.Status != 200 || !strings.Contains(string(r.Body), "CustomerId") {
		t.Errorf("the set the reload would have taken: %d %s", r.Status, r.Body)
	}
	execSQL(t, pg.DSN, `DROP TABLE "my_Customers"`)
	if r := a.api(t, "POST", "/api/sources/pg/reload", nil); r.Status != 200 {
		t.Fatalf("reload: %d %s", r.Status, r.Body)
	}
	if md := string(do(t, "GET", a.odata+"/odata/all/$metadata", nil).Body); !strings.Contains(md, `Property Name="Tier"`) {
		t.Errorf("the service's model did not follow its source's reload")
	}
	// a change to a source that would make the service clash is refused
	if r := a.api(t, "PUT", "/api/sources/lite", map[string]any{"dsn": liteDSN, "auth": anon, "names": map[string]any{"invoices": "invoices_x"}}); r.Status != 200 {
		t.Fatalf("a harmless change of a member: %d %s", r.Status, r.Body)
	}
	r = a.api(t, "PUT", "/api/services/all", map[string]any{"auth": anon,
		"sources":   map[string]any{"pg": map[string]any{}, "my": map[string]any{"prefix": "my_"}, "lite": map[string]any{}},
		"relations": map[string]any{"invoices_x.order_id": "pg.Orders.OrderId"}}, "If-Match", etag)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"invoices_x.order_id":"pg.Orders.OrderId"`) {
		t.Fatalf("change the service: %d %s", r.Status, r.Body)
	}
	if r := a.api(t, "PUT", "/api/sources/lite", map[string]any{"dsn": liteDSN, "auth": anon, "names": map[string]any{"invoices": "Orders"}}); r.Status != 422 ||
		!strings.Contains(string(r.Body), "would break a service") {
		t.Errorf("a member's change that makes the service clash: %d %s", r.Status, r.Body)
	}
	if r := a.api(t, "PUT", "/api/services/all", map[string]any{"auth": anon, "sources": map[string]any{"pg": map[string]any{}}}, "If-Match", etag); r.Status != 412 {
		t.Errorf("a change under an old ETag: %d %s", r.Status, r.Body)
	}
	for _, g := range []*adminGateway{a, b} {
		eventually(t, 10*time.Second, "the changed service serves on "+g.odata, func() bool {
			return do(t, "GET", g.odata+"/odata/all/invoices_x?$filter=order_id%20eq%2010248", nil).Status == 200
		})
	}
	if r := a.api(t, "DELETE", "/api/services/all", nil); r.Status != 204 {
		t.Fatalf("remove the service: %d %s", r.Status, r.Body)
	}
	for _, g := range []*adminGateway{a, b} {
		eventually(t, 10*time.Second, "the service is gone on "+g.odata, func() bool {
			return do(t, "GET", g.odata+"/odata/all/", nil).Status == 404
		})
	}
	if r := a.api(t, "DELETE", "/api/sources/lite", nil); r.Status != 204 {
		t.Errorf("removing the source once no service serves it: %d %s", r.Status, r.Body)
	}
}

// copyInto copies the files of one directory tree into another, merging
// them (two packages into one org's retrieved metadata).
func copyInto(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
