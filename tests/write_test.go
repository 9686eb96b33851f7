package tests

import (
	"bytes"
	"compress/gzip"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// writeTargets gives each write test gateways of its own: a fresh copy of
// the PostgreSQL fixture and a fresh demo.
func writeTargets(t *testing.T) []*target {
	t.Helper()
	var out []*target
	if pgTarget != nil || !skipPG(t) {
		tg, _ := ownGateway(t, config.Source{Keys: map[string][]string{"customer_summary": {"customer_id"}}})
		out = append(out, tg)
		// and as the gateway runs by default, with its 30 s cache: every
		// write must be read back at once all the same
		db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"), testdb.Fixture("slow.sql"))
		g := startGateway(t, app.Settings{Defaults: config.File{}, Sources: erpSource(config.Source{DSN: db.DSN,
			Keys: map[string][]string{"customer_summary": {"customer_id"}}})})
		cached := g.target("postgres", "erp", pgRows(testPool(t, db.DSN)))
		cached.cached = true
		out = append(out, cached)
	}
	if myTarget != nil || !skipMySQL(t) {
		tg, _ := ownMySQLGateway(t, config.Source{Keys: map[string][]string{"customer_summary": {"customer_id"}}})
		out = append(out, tg)
	}
	g := startGateway(t, app.Settings{Defaults: uncached()})
	out = append(out, g.demoTarget())
	return out
}

// sqlTargets are writeTargets without the demo: the databases with views,
// CHECK constraints and computed columns.
func sqlTargets(t *testing.T) []*target {
	var out []*target
	for _, tg := range writeTargets(t) {
		if tg.name != "sqlite" {
			out = append(out, tg)
		}
	}
	return out
}

func skipMySQL(t *testing.T) bool {
	if myTarget == nil {
		needMySQL(t) // fails in CI
		return true
	}
	return false
}

// ownMySQLGateway is ownGateway on a fresh copy of the MySQL/MariaDB
// fixture (and of more files of testdata/mysql, when named).
func ownMySQLGateway(t *testing.T, src config.Source, more ...string) (*target, *sql.DB) {
	t.Helper()
	files := []string{testdb.MySQLFixture("fixture.sql")}
	for _, f := range more {
		files = append(files, testdb.MySQLFixture(f))
	}
	db := testdb.NewMySQL(t, files...)
	src.DSN = db.DSN
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: erpSource(src), Logger: testLogger()})
	conn, err := testdb.OpenMySQL(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return g.target("mysql", "erp", sqlRows(conn)), conn
}

func skipPG(t *testing.T) bool {
	if pgTarget == nil {
		needPostgres(t) // fails in CI
		return true
	}
	return false
}

// send makes a request with a JSON body below the target's root.
func (tg *target) send(t *testing.T, method, path, body string, headers ...string) response {
	t.Helper()
	h := append([]string{"Content-Type", "application/json"}, headers...)
	return do(t, method, tg.root+encodeQuery(path), []byte(body), h...)
}

// snapshot is the whole content of a table, to prove a refused write
// changed nothing.
func (tg *target) snapshot(t *testing.T, table string) string {
	t.Helper()
	rows, err := tg.rows(`SELECT * FROM "` + table + `"`)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, "|") + "\n")
	}
	return b.String()
}

func newCustomer(name string) string {
	return fmt.Sprintf(`{"Name":%q,"Country":"USA","CreatedAt":"2025-01-02T03:04:05Z","IsActive":true,"CreditLimit":12.5}`, name)
}

// demo Customers also need an ExternalRef; PostgreSQL's ignore it (unknown).
func customerBody(tg *target, name string) string {
	if tg.name == "sqlite" {
		return strings.TrimSuffix(newCustomer(name), "}") + `,"ExternalRef":"0a1b2c3d-0000-4000-8000-00000000abcd"}`
	}
	return newCustomer(name)
}

// refusals are writes that must fail with a precise status and code and
// leave the table exactly as it was.
var refusals = []struct {
	name, method, path, body string
	headers                  []string
	table                    string
	status                   int
	code, target             string
}{
	{"unknown property", "PATCH", "Customers(1)", `{"Nope":1}`, nil, "Customers", 400, "UnknownProperty", "Nope"},
	{"wrong JSON type", "PATCH", "Customers(1)", `{"IsActive":"yes"}`, nil, "Customers", 400, "InvalidValue", "IsActive"},
	{"string too long", "PATCH", "Customers(1)", `{"Name":"` + strings.Repeat("x", 101) + `"}`, nil, "Customers", 400, "InvalidValue", "Name"},
	{"too many decimals", "PATCH", "Customers(1)", `{"CreditLimit":1.234}`, nil, "Customers", 400, "InvalidValue", "CreditLimit"},
	{"decimal too large", "PATCH", "Customers(1)", `{"CreditLimit":1e20}`, nil, "Customers", 400, "InvalidValue", "CreditLimit"},
	{"malformed date-time", "PATCH", "Customers(1)", `{"CreatedAt":"yesterday"}`, nil, "Customers", 400, "InvalidValue", "CreatedAt"},
	{"malformed date", "PATCH", "Customers(1)", `{"BirthDate":"2024-02-30"}`, nil, "Customers", 400, "InvalidValue", "BirthDate"},
	{"null for a required property", "PATCH", "Customers(1)", `{"Name":null}`, nil, "Customers", 400, "InvalidValue", "Name"},
	{"changing the key", "PATCH", "Customers(1)", `{"CustomerId":2}`, nil, "Customers", 400, "InvalidValue", "CustomerId"},
	{"not JSON", "PATCH", "Customers(1)", `{"Name":`, nil, "Customers", 400, "SyntaxError", ""},
	{"not an object", "PATCH", "Customers(1)", `[1]`, nil, "Customers", 400, "BadRequest", ""},
	{"wrong content type", "PATCH", "Customers(1)", `{"City":"x"}`, []string{"Content-Type", "text/plain"}, "Customers", 415, "UnsupportedMediaType", ""},
	{"create without required property", "POST", "Customers", `{"Country":"USA","CreatedAt":"2025-01-02T03:04:05Z","IsActive":true}`, nil, "Customers", 400, "InvalidValue", "Name"},
	{"create with a computed key", "POST", "Customers", `{"CustomerId":77,"Name":"x"}`, nil, "Customers", 400, "InvalidValue", "CustomerId"},
	{"duplicate key", "POST", "OrderLines", `{"OrderId":10248,"ProductId":%PRODUCT%,"Quantity":1,"UnitPrice":1%LINE%}`, nil, "OrderLines", 409, "Conflict", ""},
	{"duplicate key with If-None-Match", "POST", "OrderLines", `{"OrderId":10248,"ProductId":%PRODUCT%,"Quantity":1,"UnitPrice":1%LINE%}`, []string{"If-None-Match", "*"}, "OrderLines", 412, "PreconditionFailed", ""},
	{"missing reference", "POST", "OrderLines", `{"OrderId":999999,"ProductId":1,"Quantity":1,"UnitPrice":1%LINE%}`, nil, "OrderLines", 409, "Conflict", ""},
	{"delete a referenced row", "DELETE", "Customers(%CUSTOMER%)", ``, nil, "Customers", 409, "Conflict", ""},
	{"stale If-Match", "PATCH", "Customers(1)", `{"City":"x"}`, []string{"If-Match", `W/"stale"`}, "Customers", 412, "PreconditionFailed", ""},
	{"update of a missing row", "PATCH", "Customers(999999)", `{"City":"x"}`, nil, "Customers", 404, "EntityNotFound", ""},
	{"delete of a missing row", "DELETE", "Customers(999999)", ``, nil, "Customers", 404, "EntityNotFound", ""},
	{"clear a required property", "DELETE", "Customers(1)/Name", ``, nil, "Customers", 400, "InvalidValue", "Name"},
	{"bad tunnelled verb", "POST", "Customers(1)", `{}`, []string{"X-HTTP-Method", "GET"}, "Customers", 400, "BadRequest", ""},
	{"POST to an entity", "POST", "Customers(1)", `{}`, nil, "Customers", 405, "MethodNotAllowed", ""},
	{"write to $count", "DELETE", "Customers/$count", ``, nil, "Customers", 405, "MethodNotAllowed", ""},
}

func TestRefusedWritesChangeNothing(t *testing.T) {
	for _, tg := range writeTargets(t) {
		// a product line of order 10248 and a customer with orders, from the data itself
		product := mustRows(t, tg, `SELECT "ProductId" FROM "OrderLines" WHERE "OrderId" = 10248 LIMIT 1`)
		customer := mustRows(t, tg, `SELECT "CustomerId" FROM "Orders" ORDER BY "OrderId" LIMIT 1`)
		for _, rf := range refusals {
			t.Run(tg.label()+"/"+rf.name, func(t *testing.T) {
				body := strings.ReplaceAll(rf.body, "%PRODUCT%", product)
				if tg.name == "sqlite" { // the demo's order lines carry a discount
					body = strings.ReplaceAll(body, "%LINE%", `,"Discount":0`)
				}
				body = strings.ReplaceAll(body, "%LINE%", "")
				path := strings.ReplaceAll(rf.path, "%CUSTOMER%", customer)
				before := tg.snapshot(t, rf.table)
				res := tg.send(t, rf.method, path, body, rf.headers...)
				if res.Status != rf.status {
					t.Fatalf("status %d, want %d: %s", res.Status, rf.status, res.Body)
				}
				e := res.JSON(t)["error"].(map[string]any)
				if e["code"] != rf.code {
					t.Errorf("code %v, want %s (%s)", e["code"], rf.code, e["message"])
				}
				if rf.target != "" && e["target"] != rf.target {
					t.Errorf("target %v, want %s", e["target"], rf.target)
				}
				if after := tg.snapshot(t, rf.table); after != before {
					t.Fatal("the refused write changed the table")
				}
			})
		}
	}
}

func mustRows(t *testing.T, tg *target, q string) string {
	t.Helper()
	rows, err := tg.rows(q)
	if err != nil || len(rows) == 0 {
		t.Fatalf("%s: %v", q, err)
	}
	return rows[0][0]
}

func TestCreateReadUpdateDelete(t *testing.T) {
	for _, tg := range writeTargets(t) {
		t.Run(tg.label(), func(t *testing.T) {
			res := tg.send(t, "POST", "Customers", customerBody(tg, "Zed O'Neil"))
			if res.Status != 201 {
				t.Fatalf("create: %d %s", res.Status, res.Body)
			}
			created := res.JSON(t)
			id := fmt.Sprint(created["CustomerId"])
			loc := res.Header.Get("Location")
			if !strings.HasSuffix(loc, "/Customers("+id+")") || res.Header.Get("OData-EntityId") != loc || res.Header.Get("ETag") == "" {
				t.Fatalf("create headers: Location %q, OData-EntityId %q, ETag %q", loc, res.Header.Get("OData-EntityId"), res.Header.Get("ETag"))
			}
			if got := mustRows(t, tg, `SELECT "Name" FROM "Customers" WHERE "CustomerId" = `+id); got != "Zed O'Neil" {
				t.Fatalf("stored name %q", got)
			}
			if !sameRow([]string{fmt.Sprint(created["CreditLimit"])}, []string{"12.5"}) || created["City"] != nil {
				t.Errorf("created entity as read back: %v", created)
			}
			// return=minimal
			min := tg.send(t, "POST", "Customers", customerBody(tg, "Minimal"), "Prefer", "return=minimal")
			if min.Status != 204 || min.Header.Get("Location") == "" || min.Header.Get("Preference-Applied") != "return=minimal" {
				t.Fatalf("return=minimal: %d %v", min.Status, min.Header)
			}
			// every update verb, direct and tunnelled
			verbs := []struct{ method, tunnel string }{{"PATCH", ""}, {"MERGE", ""}, {"POST", "PATCH"}, {"POST", "MERGE"}, {"POST", "PUT"}, {"PUT", ""}}
			for i, v := range verbs {
				city := fmt.Sprintf("City%d", i)
				body := fmt.Sprintf(`{"City":%q}`, city)
				if v.method == "PUT" || v.tunnel == "PUT" {
					body = strings.TrimSuffix(customerBody(tg, "Replaced"), "}") + fmt.Sprintf(`,"City":%q,"CustomerId":%s}`, city, id)
				}
				var h []string
				if v.tunnel != "" {
					h = []string{"X-HTTP-Method", v.tunnel}
				}
				r := tg.send(t, v.method, "Customers("+id+")", body, h...)
				if r.Status != 204 {
					t.Fatalf("%s %s: %d %s", v.method, v.tunnel, r.Status, r.Body)
				}
				if got := mustRows(t, tg, `SELECT "City" FROM "Customers" WHERE "CustomerId" = `+id); got != city {
					t.Fatalf("%s %s: City %q, want %q", v.method, v.tunnel, got, city)
				}
			}
			// PUT replaced the whole entity: a property it left out is back to null
			if got := mustRows(t, tg, `SELECT "Email" FROM "Customers" WHERE "CustomerId" = `+id); got != "null" {
				t.Errorf("after PUT, Email = %q; want null", got)
			}
			// Salesforce sends every field, the key included, changed or not
			all := tg.get(t, "Customers("+id+")").JSON(t)
			delete(all, "@odata.context")
			delete(all, "@odata.etag")
			all["Phone"] = "+1-555-0000"
			r := tg.send(t, "PATCH", "Customers("+id+")", mustJSON(all), "Prefer", "return=representation")
			if r.Status != 200 || r.JSON(t)["Phone"] != "+1-555-0000" || r.Header.Get("Preference-Applied") != "return=representation" {
				t.Fatalf("full-entity PATCH: %d %s", r.Status, r.Body)
			}
			// the answer's format follows $format however it is spelt (4.01
			// allows it without the $, in any case)
			for _, option := range []string{"$format", "format", "$FORMAT", "%24format"} {
				r := tg.send(t, "PATCH", "Customers("+id+")?"+option+"=application/json;odata.metadata=none", `{"City":"Formatted"}`, "Prefer", "return=representation")
				if _, context := r.JSON(t)["@odata.context"]; r.Status != 200 || context || !strings.Contains(r.Header.Get("Content-Type"), "odata.metadata=none") {
					t.Errorf("PATCH ?%s=...metadata=none: %d %s %s", option, r.Status, r.Header.Get("Content-Type"), r.Body)
				}
			}
			// If-Match with the current ETag
			etag := tg.get(t, "Customers("+id+")").Header.Get("ETag")
			if r := tg.send(t, "PATCH", "Customers("+id+")", `{"City":"Tagged"}`, "If-Match", etag); r.Status != 204 {
				t.Fatalf("PATCH with current ETag: %d %s", r.Status, r.Body)
			}
			if r := tg.send(t, "PATCH", "Customers("+id+")", `{"City":"Again"}`, "If-Match", etag); r.Status != 412 {
				t.Fatalf("PATCH with the old ETag: %d, want 412", r.Status)
			}
			// property-level writes
			if r := tg.send(t, "PUT", "Customers("+id+")/City", `{"value":"Prop"}`); r.Status != 204 {
				t.Fatalf("PUT property: %d %s", r.Status, r.Body)
			}
			if v := tg.get(t, "Customers("+id+")/City").JSON(t)["value"]; v != "Prop" {
				t.Fatalf("property after PUT: %v", v)
			}
			if r := tg.send(t, "DELETE", "Customers("+id+")/City", ""); r.Status != 204 {
				t.Fatalf("DELETE property: %d %s", r.Status, r.Body)
			}
			if r := tg.get(t, "Customers("+id+")/City"); r.Status != 204 {
				t.Fatalf("cleared property: %d", r.Status)
			}
			// gzip-compressed body
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write([]byte(`{"City":"Zipped"}`))
			zw.Close()
			zr := do(t, "PATCH", tg.root+"Customers("+id+")", gz.Bytes(), "Content-Type", "application/json", "Content-Encoding", "gzip")
			if zr.Status != 204 || mustRows(t, tg, `SELECT "City" FROM "Customers" WHERE "CustomerId" = `+id) != "Zipped" {
				t.Fatalf("gzip body: %d %s", zr.Status, zr.Body)
			}
			// delete, direct and tunnelled
			if r := tg.send(t, "DELETE", "Customers("+id+")", ""); r.Status != 204 {
				t.Fatalf("delete: %d %s", r.Status, r.Body)
			}
			if r := tg.get(t, "Customers("+id+")"); r.Status != 404 {
				t.Fatalf("read after delete: %d", r.Status)
			}
			minID := strings.TrimSuffix(min.Header.Get("Location")[strings.LastIndex(min.Header.Get("Location"), "(")+1:], ")")
			if r := tg.send(t, "POST", "Customers("+minID+")", "", "X-HTTP-Method", "DELETE"); r.Status != 204 {
				t.Fatalf("tunnelled delete: %d %s", r.Status, r.Body)
			}
		})
	}
}

func mustJSON(v any) string {
	var b bytes.Buffer
	enc := jsonEncoder(&b)
	enc.Encode(v)
	return b.String()
}

// TestBodyLimits: bodies past the limit are refused with 413, compressed
// or not, and a decompression bomb is stopped at the limit.
func TestBodyLimits(t *testing.T) {
	tg := writeTargets(t)[0]
	big := `{"Name":"` + strings.Repeat("x", 9<<20) + `"}`
	if r := tg.send(t, "PATCH", "Customers(1)", big); r.Status != 413 {
		t.Errorf("9 MB body: %d", r.Status)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte(" "), 64<<20)) // 64 MB of spaces, about 64 KB compressed
	zw.Close()
	r := do(t, "PATCH", tg.root+"Customers(1)", gz.Bytes(), "Content-Type", "application/json", "Content-Encoding", "gzip")
	if r.Status != 413 {
		t.Errorf("gzip bomb: %d %s", r.Status, r.Body)
	}
}

// TestReadOnlySets: views cannot be written, and say so.
func TestReadOnlySets(t *testing.T) {
	for _, tg := range sqlTargets(t) {
		t.Run(tg.label(), func(t *testing.T) { testReadOnlySets(t, tg) })
	}
}

func testReadOnlySets(t *testing.T, tg *target) {
	r := tg.send(t, "POST", "customer_summary", `{"customer_id":1}`)
	if r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" || errorCode(t, r) != "ReadOnly" {
		t.Fatalf("write to a view: %d %v %s", r.Status, r.Header.Get("Allow"), r.Body)
	}
	md := string(tg.get(t, "$metadata").Body)
	if !strings.Contains(md, `<EntitySet Name="customer_summary" EntityType="odatagw.customer_summary">`) ||
		!strings.Contains(md, `Capabilities.InsertRestrictions`) {
		t.Error("$metadata does not mark the view read-only")
	}
}

// TestComputedValuesMayBeRepeated: a body may repeat a computed value, as
// Salesforce does, but not change it.
func TestComputedValuesMayBeRepeated(t *testing.T) {
	tg := writeTargets(t)[0]
	if tg.name != "postgres" {
		t.Skip("the demo's only computed columns are keys")
	}
	cur := tg.get(t, "all_types(1)?$select=c_generated").JSON(t)["c_generated"]
	if r := tg.send(t, "PATCH", "all_types(1)", fmt.Sprintf(`{"c_generated":%v,"c_text":"ok"}`, cur)); r.Status != 204 {
		t.Fatalf("repeating the computed value: %d %s", r.Status, r.Body)
	}
	before := tg.snapshot(t, "all_types")
	r := tg.send(t, "PATCH", "all_types(1)", `{"c_generated":1,"c_text":"changed"}`)
	if r.Status != 400 || errorCode(t, r) != "InvalidValue" {
		t.Fatalf("changing a computed value: %d %s", r.Status, r.Body)
	}
	if tg.snapshot(t, "all_types") != before {
		t.Fatal("the refused write changed the table")
	}
	// every type written and read back
	body := `{"c_smallint":7,"c_integer":-8,"c_bigint":"9007199254740993","c_numeric":"1.5","c_real":0.5,"c_double":-2.5,
	  "c_boolean":false,"c_varchar":"v","c_char":"c","c_uuid":"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12","c_date":"2024-03-01",
	  "c_timestamptz":"2024-03-01T10:00:00+02:00","c_timestamp":"2024-03-01T10:00:00Z","c_bytea":"3q2-7w","c_json":"{\"x\":1}",
	  "c_jsonb":"[1]","c_enum":"neutral","c_array":"{4,5}","c_interval":"2 hours","c_time":"10:11:12","c_inet":"10.1.2.3","c_domain":"p@q.r"}`
	r = tg.send(t, "POST", "all_types", body)
	if r.Status != 201 {
		t.Fatalf("create with every type: %d %s", r.Status, r.Body)
	}
	e := r.JSON(t)
	want := map[string]string{"c_bigint": "9007199254740993", "c_uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12",
		"c_timestamptz": "2024-03-01T08:00:00Z", "c_bytea": "3q2-7w", "c_jsonb": "[1]", "c_enum": "neutral", "c_array": "{4,5}",
		"c_interval": "02:00:00", "c_inet": "10.1.2.3/32", "c_generated": "-16"}
	for k, v := range want {
		if fmt.Sprint(e[k]) != v {
			t.Errorf("%s = %v, want %s", k, e[k], v)
		}
	}
}
