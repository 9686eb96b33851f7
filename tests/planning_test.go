package tests

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
	"github.com/odatagw/odatagw/sources"
	"github.com/odatagw/odatagw/sources/postgres"
)

// preparedPlan is how PostgreSQL has planned one prepared statement of a
// connection so far.
type preparedPlan struct {
	statement                string
	genericPlans, customPlan int64
}

// preparedPlans lists the prepared statements of the gateway's only
// connection to a source (the source must have max_connections 1).
func preparedPlans(t *testing.T, pool *pgxpool.Pool) []preparedPlan {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []preparedPlan
	for rows.Next() {
		var p preparedPlan
		if err := rows.Scan(&p.statement, &p.genericPlans, &p.customPlan); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFilteredReadsArePlannedWithTheirValues: PostgreSQL may keep one
// generic plan for a prepared statement after its fifth run. For
// "note LIKE $1 ORDER BY id LIMIT 25" that plan walks the key order
// looking for matches, and once it is kept a search for a rare word reads
// the whole table (4.3 s on ten million rows). The gateway runs reads and
// counts with a pattern, a range or an in-list unnamed, so each is planned
// with its own values, and keeps the prepared, generic plan for reads by
// key and equality filters, whose estimates do not depend on the value.
func TestFilteredReadsArePlannedWithTheirValues(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("big.sql"))
	g := startGateway(t, app.Settings{Defaults: uncached(),
		Sources: anyone(map[string]config.Source{"big": {DSN: db.DSN, MaxConnections: 1}})})
	root := g.base + "/odata/big/"
	reads := []struct {
		url      string
		prepared string // a fragment of the statement when it must stay prepared
	}{
		{"big_accounts?$select=id,name&$filter=contains(note,'ab') eq true&$top=25", ""},
		{"big_accounts/$count?$filter=startswith(name,'Account a')", ""},
		{"big_accounts?$select=id&$search=ab&$top=25", ""},
		{"big_accounts?$select=id&$filter=created gt 2024-01-10T00:00:00Z&$top=25", ""},
		{"big_accounts?$select=id&$filter=customer_id in (1,2,3)&$top=25", ""},
		{"big_accounts(42)", `WHERE ("id" = $1`},
		{"big_accounts?$select=id&$filter=customer_id eq 7&$top=26", `WHERE ("customer_id" = $1`},
		{"big_accounts?$select=id&$filter=city eq 'Lyon'&$count=true&$top=26", `WHERE ("city" = $1`},
	}
	for i := 0; i < 8; i++ {
		for _, r := range reads {
			if res := do(t, "GET", root+encodeQuery(r.url), nil); res.Status != 200 {
				t.Fatalf("%s: %d %s", r.url, res.Status, res.Body)
			}
		}
	}
	src, _ := g.Server.Source("big")
	plans := preparedPlans(t, must(sources.As[*postgres.Source](src)).Pool())
	kept := map[string]bool{}
	for _, p := range plans {
		if !strings.Contains(p.statement, `FROM "public"."big_accounts"`) || !strings.Contains(p.statement, "WHERE") {
			continue // the gateway's own reading of the schema
		}
		equality := false
		for _, r := range reads {
			if r.prepared != "" && strings.Contains(p.statement, r.prepared) {
				equality, kept[r.prepared] = true, true
				if p.genericPlans == 0 {
					t.Errorf("planned anew each time (%d custom plans): %s", p.customPlan, p.statement)
				}
			}
		}
		if !equality {
			t.Errorf("a read whose plan depends on its values was prepared (%d generic plans, %d custom): %s", p.genericPlans, p.customPlan, p.statement)
		}
	}
	for _, r := range reads {
		if r.prepared != "" && !kept[r.prepared] {
			t.Errorf("%s was not prepared; prepared: %+v", r.url, plans)
		}
	}
}

// TestPerUserFilteredReadsArePlannedWithTheirValues: a caller's reads run
// as prepared statements inside a pipelined transaction; there the
// transaction asks PostgreSQL to plan a filtered read with its values.
func TestPerUserFilteredReadsArePlannedWithTheirValues(t *testing.T) {
	needPostgres(t)
	db, eu, _, _ := regionalDB(t)
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k",
		map[string]config.Source{"erp": {DSN: db.DSN, MaxConnections: 1, Auth: config.Auth{Basic: true, PerUser: true}}})
	pw := "long-enough-password-" + randomHex(4)
	recordSecret(t, pw)
	if r := ag.api(t, "POST", "/api/users", map[string]any{"name": "anna", "password": pw, "role": eu}); r.Status != 201 {
		t.Fatalf("add anna: %d %s", r.Status, r.Body)
	}
	auth := []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("anna:"+pw))}
	for i := 0; i < 8; i++ {
		u := ag.odata + "/odata/erp/" + encodeQuery("Customers?$select=Name&$filter=contains(Name,'a') eq true&$top=5")
		if r := do(t, "GET", u, nil, auth...); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	}
	src, _ := ag.gw.Server.Source("erp")
	found := false
	for _, p := range preparedPlans(t, must(sources.As[*postgres.Source](src)).Pool()) {
		if !strings.Contains(p.statement, `FROM "public"."Customers"`) || !strings.Contains(p.statement, "LIKE") {
			continue
		}
		found = true
		if p.genericPlans != 0 || p.customPlan < 8 {
			t.Errorf("the caller's filtered read had %d generic and %d custom plans, want 0 and 8 or more: %s", p.genericPlans, p.customPlan, p.statement)
		}
	}
	if !found {
		t.Error("the caller's filtered read is not among the connection's prepared statements")
	}
}
