package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// scenario is one request of the Salesforce request catalogue. The
// expected rows are whatever sql returns on the same database, in order,
// compared by key; count, when set, gives the expected @odata.count.
type scenario struct {
	name    string
	url     string            // readable, below the service root
	headers []string          // name, value pairs
	keys    []string          // key properties compared, in order
	sql     map[string]string // dialect -> query returning the keys ("*": every dialect)
	count   map[string]string // dialect -> query returning the count
	only    string            // run against this dialect only
	follow  bool              // follow nextLinks and compare the concatenated rows
}

func forAll(q string) map[string]string { return map[string]string{"*": q} }

func (s scenario) query(m map[string]string, dialect string) string {
	if q, ok := m[dialect]; ok {
		return q
	}
	return m["*"]
}

const searchPG = `"Name" ILIKE '%Acme%' OR "Email" ILIKE '%Acme%' OR "Phone" ILIKE '%Acme%' OR "City" ILIKE '%Acme%' OR "Country" ILIKE '%Acme%'`
const searchMy = `LOWER("Name") LIKE BINARY '%acme%' OR LOWER("Email") LIKE BINARY '%acme%' OR LOWER("Phone") LIKE BINARY '%acme%' OR LOWER("City") LIKE BINARY '%acme%' OR LOWER("Country") LIKE BINARY '%acme%'`
const searchLite = `"Name" LIKE '%Acme%' OR "Email" LIKE '%Acme%' OR "Phone" LIKE '%Acme%' OR "City" LIKE '%Acme%' OR "Country" LIKE '%Acme%' OR "Notes" LIKE '%Acme%'`

var catalogue = []scenario{
	{name: "list view", url: "Customers?$select=CustomerId,Name&$count=true&$top=26", keys: []string{"CustomerId"},
		sql:   forAll(`SELECT "CustomerId" FROM "Customers" ORDER BY 1 LIMIT 26`),
		count: forAll(`SELECT count(*) FROM "Customers"`)},
	{name: "list view filtered and sorted", url: "Customers?$select=City,CustomerId&$count=true&$filter=Country eq 'USA'&$orderby=City&$top=26",
		keys: []string{"CustomerId"},
		sql: map[string]string{"*": `SELECT "CustomerId" FROM "Customers" WHERE "Country" = 'USA' ORDER BY "City" NULLS FIRST, "CustomerId" LIMIT 26`,
			"mysql": `SELECT "CustomerId" FROM "Customers" WHERE BINARY "Country" = 'USA' ORDER BY "City", "CustomerId" LIMIT 26`},
		count: forAll(`SELECT count(*) FROM "Customers" WHERE "Country" = 'USA'`)},
	{name: "second page, client paging", url: "Customers?$select=CustomerId,Name&$count=true&$skip=25&$top=26", keys: []string{"CustomerId"},
		sql:   forAll(`SELECT "CustomerId" FROM "Customers" ORDER BY 1 LIMIT 26 OFFSET 25`),
		count: forAll(`SELECT count(*) FROM "Customers"`)},
	{name: "detail page by filter", url: "Customers?$select=CustomerId,Name,Email,City&$filter=CustomerId eq 42", keys: []string{"CustomerId", "Name", "Email", "City"},
		sql: forAll(`SELECT "CustomerId", "Name", "Email", "City" FROM "Customers" WHERE "CustomerId" = 42`)},
	{name: "composite key lookup", url: "OrderLines?$filter=OrderId eq 10248 and ProductId eq 11", keys: []string{"OrderId", "ProductId", "Quantity"},
		sql: forAll(`SELECT "OrderId", "ProductId", "Quantity" FROM "OrderLines" WHERE "OrderId" = 10248 AND "ProductId" = 11`)},
	{name: "related list", url: "Orders?$select=OrderId,Total&$count=true&$filter=CustomerId eq 42&$top=6", keys: []string{"OrderId", "Total"},
		sql:   forAll(`SELECT "OrderId", "Total" FROM "Orders" WHERE "CustomerId" = 42 ORDER BY 1 LIMIT 6`),
		count: forAll(`SELECT count(*) FROM "Orders" WHERE "CustomerId" = 42`)},
	{name: "SOQL IN", url: "Customers?$filter=Country eq 'US' or Country eq 'CA'&$count=true&$top=202", keys: []string{"CustomerId"},
		sql:   forAll(`SELECT "CustomerId" FROM "Customers" WHERE "Country" IN ('US', 'CA') ORDER BY 1 LIMIT 202`),
		count: forAll(`SELECT count(*) FROM "Customers" WHERE "Country" IN ('US', 'CA')`)},
	{name: "SOQL = null", url: "Customers?$filter=Email eq null&$count=true&$top=26", keys: []string{"CustomerId"},
		sql:   forAll(`SELECT "CustomerId" FROM "Customers" WHERE "Email" IS NULL ORDER BY 1 LIMIT 26`),
		count: forAll(`SELECT count(*) FROM "Customers" WHERE "Email" IS NULL`)},
	{name: "SOQL != includes nulls", url: "Customers?$filter=City ne 'Austin'&$count=true&$top=26", keys: []string{"CustomerId"},
		sql:   forAll(`SELECT "CustomerId" FROM "Customers" WHERE "City" IS NULL OR "City" <> 'Austin' ORDER BY 1 LIMIT 26`),
		count: forAll(`SELECT count(*) FROM "Customers" WHERE "City" IS NULL OR "City" <> 'Austin'`)},
	{name: "date-time filter, newest first", url: "Customers?$filter=CreatedAt gt 2024-01-01T00:00:00Z&$orderby=CreatedAt desc&$top=26", keys: []string{"CustomerId"},
		sql: map[string]string{
			"postgres": `SELECT "CustomerId" FROM "Customers" WHERE "CreatedAt" > '2024-01-01T00:00:00Z' ORDER BY "CreatedAt" DESC, 1 LIMIT 26`,
			"sqlite":   `SELECT "CustomerId" FROM "Customers" WHERE "CreatedAt" > '2024-01-01 00:00:00.000' ORDER BY "CreatedAt" DESC, 1 LIMIT 26`,
			"mysql":    `SELECT "CustomerId" FROM "Customers" WHERE "CreatedAt" > '2024-01-01 00:00:00' ORDER BY "CreatedAt" DESC, 1 LIMIT 26`}},
	{name: "default search", url: "Customers?$select=Name,Phone,CustomerId&$count=true&$filter=contains(Name,'Acme') eq true or contains(Phone,'Acme') eq true&$top=25",
		keys: []string{"CustomerId"},
		sql: map[string]string{
			"postgres": `SELECT "CustomerId" FROM "Customers" WHERE strpos("Name", 'Acme') > 0 OR strpos("Phone", 'Acme') > 0 ORDER BY 1 LIMIT 25`,
			"sqlite":   `SELECT "CustomerId" FROM "Customers" WHERE instr("Name", 'Acme') > 0 OR instr("Phone", 'Acme') > 0 ORDER BY 1 LIMIT 25`,
			"mysql":    `SELECT "CustomerId" FROM "Customers" WHERE "Name" LIKE BINARY '%Acme%' OR "Phone" LIKE BINARY '%Acme%' ORDER BY 1 LIMIT 25`},
		count: map[string]string{
			"postgres": `SELECT count(*) FROM "Customers" WHERE strpos("Name", 'Acme') > 0 OR strpos("Phone", 'Acme') > 0`,
			"sqlite":   `SELECT count(*) FROM "Customers" WHERE instr("Name", 'Acme') > 0 OR instr("Phone", 'Acme') > 0`,
			"mysql":    `SELECT count(*) FROM "Customers" WHERE "Name" LIKE BINARY '%Acme%' OR "Phone" LIKE BINARY '%Acme%'`}},
	{name: "free-text search ignores case", url: "Customers?$select=Name,Phone,CustomerId&$count=true&$search=Acme&$top=25", keys: []string{"CustomerId"},
		sql: map[string]string{
			"postgres": `SELECT "CustomerId" FROM "Customers" WHERE ` + searchPG + ` ORDER BY 1 LIMIT 25`,
			"sqlite":   `SELECT "CustomerId" FROM "Customers" WHERE ` + searchLite + ` ORDER BY 1 LIMIT 25`,
			"mysql":    `SELECT "CustomerId" FROM "Customers" WHERE ` + searchMy + ` ORDER BY 1 LIMIT 25`},
		count: map[string]string{
			"postgres": `SELECT count(*) FROM "Customers" WHERE ` + searchPG,
			"sqlite":   `SELECT count(*) FROM "Customers" WHERE ` + searchLite,
			"mysql":    `SELECT count(*) FROM "Customers" WHERE ` + searchMy}},
	{name: "server-driven paging over 2000 rows", url: "Customers?$count=true&$select=CustomerId,Name&$top=2000", follow: true, keys: []string{"CustomerId"},
		sql:   forAll(`SELECT "CustomerId" FROM "Customers" ORDER BY 1 LIMIT 2000`),
		count: forAll(`SELECT count(*) FROM "Customers"`)},
	{name: "paging a sorted list with nulls", url: "Orders?$select=OrderId&$orderby=ShippedDate desc,Total&$top=1500", follow: true, headers: []string{"Prefer", "odata.maxpagesize=400"},
		keys: []string{"OrderId"},
		sql: map[string]string{"*": `SELECT "OrderId" FROM "Orders" ORDER BY "ShippedDate" DESC NULLS LAST, "Total", "OrderId" LIMIT 1500`,
			"mysql": `SELECT "OrderId" FROM "Orders" ORDER BY "ShippedDate" DESC, "Total", "OrderId" LIMIT 1500`}},
	{name: "change tracking request", url: "Customers?$top=0", headers: []string{"Prefer", "odata.track-changes"}, keys: []string{"CustomerId"},
		sql: forAll(`SELECT "CustomerId" FROM "Customers" WHERE 1 = 0`)},
	{name: "lookup of suppliers", url: "Suppliers?$select=SupplierID&$count=true&$top=26", keys: []string{"SupplierID"}, only: "postgres mysql",
		sql:   forAll(`SELECT "SupplierID" FROM "Suppliers" ORDER BY 1 LIMIT 26`),
		count: forAll(`SELECT count(*) FROM "Suppliers"`)},
	{name: "view with a configured key", url: "customer_summary?$filter=orders gt 3&$orderby=total desc&$top=10", keys: []string{"customer_id"}, only: "postgres mysql",
		sql: forAll(`SELECT customer_id FROM customer_summary WHERE orders > 3 ORDER BY total DESC, customer_id LIMIT 10`)},
	{name: "table keyed by a unique index", url: "legacy_codes?$orderby=region", keys: []string{"code", "region"}, only: "postgres mysql",
		sql: forAll(`SELECT code, region FROM legacy_codes ORDER BY region, code, region`)},
}

func TestSalesforceCatalogue(t *testing.T) {
	all := targets(t)
	if pgCachedTarget != nil {
		// with the cache on, twice: the miss and the hit must both be right
		all = append(all, pgCachedTarget, pgCachedTarget)
	}
	for _, tg := range all {
		for _, sc := range catalogue {
			if sc.only != "" && !slices.Contains(strings.Fields(sc.only), tg.name) {
				continue
			}
			t.Run(tg.label()+"/"+sc.name, func(t *testing.T) {
				want, err := tg.rows(sc.query(sc.sql, tg.name))
				if err != nil {
					t.Fatalf("expected rows: %v", err)
				}
				// as Salesforce's OData 4.01 adapter asks
				res := tg.get(t, sc.url, append([]string{"OData-MaxVersion", "4.01"}, sc.headers...)...)
				if res.Status != 200 {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				if v := res.Header.Get("OData-Version"); v != "4.01" {
					t.Errorf("OData-Version %q", v)
				}
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q", ct)
				}
				body := res.JSON(t)
				got := keysOf(t, body, sc.keys)
				pages := 1
				if sc.follow {
					body, pages = followPages(t, body, sc.headers, func(page map[string]any) { got = append(got, keysOf(t, page, sc.keys)...) })
				}
				if !sc.follow {
					if _, has := body["@odata.nextLink"]; has && len(want) < 1000 {
						t.Errorf("unexpected nextLink on a short result")
					}
				}
				compareRows(t, got, want)
				if sc.count != nil {
					c, err := tg.rows(sc.query(sc.count, tg.name))
					if err != nil {
						t.Fatal(err)
					}
					if fmt.Sprint(body["@odata.count"]) != c[0][0] {
						t.Errorf("@odata.count = %v, want %s", body["@odata.count"], c[0][0])
					}
				}
				if sc.follow {
					t.Logf("%d rows in %d pages", len(got), pages)
				}
			})
		}
	}
}

// keysOf extracts the named properties of every entity of a collection.
func keysOf(t *testing.T, body map[string]any, names []string) [][]string {
	t.Helper()
	vals, ok := body["value"].([]any)
	if !ok {
		t.Fatalf("no value array in response")
	}
	out := make([][]string, len(vals))
	for i, v := range vals {
		e := v.(map[string]any)
		row := make([]string, len(names))
		for j, n := range names {
			x, present := e[n]
			if !present {
				t.Fatalf("entity %d lacks %s: %v", i, n, e)
			}
			if x == nil {
				row[j] = "null"
			} else {
				row[j] = fmt.Sprint(x)
			}
		}
		out[i] = row
	}
	return out
}

func compareRows(t *testing.T, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d rows, want %d", len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if !sameRow(got[i], want[i]) {
			t.Fatalf("row %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

// sameRow compares row values as text; numbers compare by value, since a
// decimal may come back as 12.5 from one side and 12.50 from the other.
func sameRow(a, b []string) bool {
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		var x, y float64
		if _, err := fmt.Sscan(a[i], &x); err != nil {
			return false
		}
		if _, err := fmt.Sscan(b[i], &y); err != nil || x != y {
			return false
		}
	}
	return true
}
