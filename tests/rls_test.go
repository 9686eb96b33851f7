package tests

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// usersWithRoles adds gateway users mapped to database roles, and returns
// the headers a request sends as one of them.
func usersWithRoles(t *testing.T, ag *adminGateway, roles map[string]string) func(user string) []string {
	t.Helper()
	pw := "long-enough-password-" + randomHex(4)
	recordSecret(t, pw)
	for user, role := range roles {
		if r := ag.api(t, "POST", "/api/users", map[string]any{"name": user, "password": pw, "role": role}); r.Status != 201 {
			t.Fatalf("add %s: %d %s", user, r.Status, r.Body)
		}
	}
	return func(u string) []string {
		return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+pw)), "Content-Type", "application/json"}
	}
}

// TestPerUserRowLevelSecurity: two Salesforce users over one table, each
// mapped to a database role, see only the rows PostgreSQL's row-level
// security gives their role, also when the query cache answers; a user
// without a role is refused.
func TestPerUserRowLevelSecurity(t *testing.T) {
	needPostgres(t)
	db, eu, us, suffix := regionalDB(t)
	hour := time.Hour
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k",
		map[string]config.Source{"erp": {DSN: db.DSN, Auth: config.Auth{Basic: true, PerUser: true}}},
		func(s *app.Settings) { s.Defaults = config.File{Cache: config.Cache{TTL: &hour}} })
	as := usersWithRoles(t, ag, map[string]string{"anna": eu, "ulysses": us, "norole": "", "ghost": "odatagw_test_missing_" + suffix})
	root := ag.odata + "/odata/erp/"
	var euCount, usCount string
	execQuery(t, db.DSN, `SELECT count(*)::text FROM "Customers" WHERE "Country" = 'Germany'`, &euCount)
	execQuery(t, db.DSN, `SELECT count(*)::text FROM "Customers" WHERE "Country" IN ('USA', 'US')`, &usCount)

	for round := 1; round <= 2; round++ { // the second round is answered by the cache
		for user, want := range map[string]string{"anna": euCount, "ulysses": usCount} {
			r := do(t, "GET", root+"Customers/$count", nil, as(user)...)
			if r.Status != 200 || strings.TrimSpace(string(r.Body)) != want {
				t.Errorf("round %d: %s counts %s (%d), want %s", round, user, r.Body, r.Status, want)
			}
			if round == 2 && r.Header.Get("X-Cache") != "hit" {
				t.Errorf("round 2: %s's count was not a cache hit (%q)", user, r.Header.Get("X-Cache"))
			}
			page := do(t, "GET", root+"Customers?$select=Country&$top=50", nil, as(user)...)
			body := string(page.Body)
			if page.Status != 200 {
				t.Fatalf("%s's page: %d %s", user, page.Status, body)
			}
			if user == "anna" && (strings.Contains(body, `"USA"`) || !strings.Contains(body, `"Germany"`)) {
				t.Errorf("round %d: anna sees other regions: %.300s", round, body)
			}
			if user == "ulysses" && (strings.Contains(body, `"Germany"`) || !strings.Contains(body, `"USA"`)) {
				t.Errorf("round %d: ulysses sees other regions: %.300s", round, body)
			}
		}
	}
	// writes run as the role too: anna cannot touch a US customer
	var usID, deID int
	execQuery(t, db.DSN, `SELECT min("CustomerId") FROM "Customers" WHERE "Country" = 'USA'`, &usID)
	execQuery(t, db.DSN, `SELECT min("CustomerId") FROM "Customers" WHERE "Country" = 'Germany'`, &deID)
	if r := do(t, "PATCH", root+fmt.Sprintf("Customers(%d)", usID), []byte(`{"City":"Berlin"}`), as("anna")...); r.Status != 404 {
		t.Errorf("anna updating a US customer: %d %s", r.Status, r.Body)
	}
	if r := do(t, "PATCH", root+fmt.Sprintf("Customers(%d)", deID), []byte(`{"City":"Berlin"}`), as("anna")...); r.Status != 204 {
		t.Errorf("anna updating a German customer: %d %s", r.Status, r.Body)
	}
	if r := do(t, "GET", root+"Customers/$count", nil, as("norole")...); r.Status != 403 {
		t.Errorf("a user without a role: %d %s", r.Status, r.Body)
	}
	if r := do(t, "GET", root+"Customers?$top=1", nil, as("ghost")...); r.Status != 403 || !strings.Contains(string(r.Body), "role") {
		t.Errorf("a user whose role does not exist: %d %s", r.Status, r.Body)
	}
	// a query that fails inside the caller's transaction leaves no broken
	// connection behind: the next requests on every pooled connection work
	for i := 0; i < 30; i++ {
		r := do(t, "GET", root+"Customers?$filter=CustomerId%20div%200%20eq%201&$top=1", nil, as("anna")...)
		if r.Status != 400 {
			t.Fatalf("division by zero as anna: %d %s", r.Status, r.Body)
		}
	}
	for i := 0; i < 30; i++ {
		r := do(t, "GET", root+fmt.Sprintf("Customers?$filter=CustomerId%%20ge%%20%d&$top=1&$select=Country", i), nil, as("ulysses")...)
		if r.Status != 200 || strings.Contains(string(r.Body), "Germany") {
			t.Fatalf("request %d after the failures: %d %s", i, r.Status, r.Body)
		}
	}
}

// regionalDB makes a fixture database whose Customers are split by
// row-level security between two new roles (dropped after the database).
func regionalDB(t *testing.T) (db *testdb.Postgres, eu, us, suffix string) {
	suffix = randomHex(4)
	eu, us = "odatagw_test_eu_"+suffix, "odatagw_test_us_"+suffix
	admin := testdb.PostgresURL(t)
	// roles belong to the server, not the database: dropped after it
	t.Cleanup(func() {
		for _, r := range []string{eu, us} {
			execSQL(t, admin, `DROP ROLE IF EXISTS `+r)
		}
	})
	db = newFixtureDB(t)
	execSQL(t, db.DSN,
		`CREATE ROLE `+eu+` NOLOGIN`, `CREATE ROLE `+us+` NOLOGIN`,
		`GRANT USAGE ON SCHEMA public TO `+eu+`, `+us,
		`GRANT SELECT, UPDATE ON "Customers" TO `+eu+`, `+us,
		`ALTER TABLE "Customers" ENABLE ROW LEVEL SECURITY`,
		// the role decides the region; the claims must name the same user the gateway set
		fmt.Sprintf(`CREATE POLICY regional ON "Customers" USING (
			(("Country" = 'Germany' AND current_user = '%s') OR ("Country" IN ('USA', 'US') AND current_user = '%s'))
			AND current_setting('request.jwt.claims', true)::json->>'sub' = current_setting('odatagw.user', true))`, eu, us),
	)
	return db, eu, us, suffix
}

// TestPerUserStaleRefresh: with stale-while-revalidate, the refresh that
// runs after the answer has gone out still runs as the caller, so the
// refreshed entry holds only that caller's rows.
func TestPerUserStaleRefresh(t *testing.T) {
	needPostgres(t)
	db, eu, _, _ := regionalDB(t)
	ttl := 300 * time.Millisecond
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k",
		map[string]config.Source{"erp": {DSN: db.DSN, Auth: config.Auth{Basic: true, PerUser: true}}},
		func(s *app.Settings) {
			s.Defaults = config.File{Cache: config.Cache{TTL: &ttl, StaleWhileRevalidate: true}}
		})
	pw := "long-enough-password-" + randomHex(4)
	recordSecret(t, pw)
	if r := ag.api(t, "POST", "/api/users", map[string]any{"name": "anna", "password": pw, "role": eu}); r.Status != 201 {
		t.Fatalf("add anna: %d", r.Status)
	}
	auth := []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("anna:"+pw))}
	url := ag.odata + "/odata/erp/Customers?$select=Country&$top=200"
	seen := map[string]bool{}
	for i := 0; i < 6; i++ { // miss, then stale answers with refreshes behind them, then hits
		r := do(t, "GET", url, nil, auth...)
		seen[r.Header.Get("X-Cache")] = true
		if r.Status != 200 || strings.Contains(string(r.Body), `"USA"`) {
			t.Fatalf("request %d (%s): anna sees other regions: %d %.200s", i, r.Header.Get("X-Cache"), r.Status, r.Body)
		}
		time.Sleep(ttl + 100*time.Millisecond)
	}
	if !seen["stale"] {
		t.Fatalf("no stale answer was served (saw %v); the test did not reach the refresh", seen)
	}
}

// TestSummaryRowLevelSecurity: a summary's grouping runs as the caller's
// role, so each user's groups count only the rows row-level security
// gives them, from the database and from the cache alike.
func TestSummaryRowLevelSecurity(t *testing.T) {
	needPostgres(t)
	db, eu, us, _ := regionalDB(t)
	hour := time.Hour
	ag := startAdminGateway(t, filepath.Join(t.TempDir(), "state.db"), "k",
		map[string]config.Source{"erp": {DSN: db.DSN, Auth: config.Auth{Basic: true, PerUser: true},
			Summaries: map[string]config.Summary{"by_country": {From: "Customers",
				Dimensions: []config.Dimension{{Column: "Country"}}, Measures: config.Measures{{Name: "customers", Of: "count"}}}}}},
		func(s *app.Settings) { s.Defaults = config.File{Cache: config.Cache{TTL: &hour}} })
	pw := "long-enough-password-" + randomHex(4)
	recordSecret(t, pw)
	for user, role := range map[string]string{"anna": eu, "ulysses": us} {
		if r := ag.api(t, "POST", "/api/users", map[string]any{"name": user, "password": pw, "role": role}); r.Status != 201 {
			t.Fatalf("add %s: %d %s", user, r.Status, r.Body)
		}
	}
	var germans, usa, us2 string
	execQuery(t, db.DSN, `SELECT count(*)::text FROM "Customers" WHERE "Country" = 'Germany'`, &germans)
	execQuery(t, db.DSN, `SELECT count(*)::text FROM "Customers" WHERE "Country" = 'USA'`, &usa)
	execQuery(t, db.DSN, `SELECT count(*)::text FROM "Customers" WHERE "Country" = 'US'`, &us2)
	want := map[string]map[string]string{"anna": {"Germany": germans}, "ulysses": {"USA": usa, "US": us2}}
	for round := 1; round <= 2; round++ {
		for user, groups := range want {
			r := do(t, "GET", ag.odata+"/odata/erp/by_country?$count=true", nil,
				"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pw)))
			if r.Status != 200 {
				t.Fatalf("%s: %d %s", user, r.Status, r.Body)
			}
			if round == 2 && r.Header.Get("X-Cache") != "hit" {
				t.Errorf("round 2: %s's groups were not a cache hit (%q)", user, r.Header.Get("X-Cache"))
			}
			got := map[string]string{}
			for _, g := range entities(t, r.JSON(t)) {
				got[g["Country"].(string)] = fmt.Sprint(g["customers"])
			}
			for country, n := range groups {
				if got[country] != n {
					t.Errorf("round %d: %s counts %s customers in %s, want %s (groups %v)", round, user, got[country], country, n, got)
				}
			}
			if len(got) != len(groups) {
				t.Errorf("round %d: %s sees groups of other regions: %v", round, user, got)
			}
		}
	}
}
