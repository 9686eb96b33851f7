package tests

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// cachedGateway starts a PostgreSQL gateway with the query cache on, as
// the binary runs by default.
func cachedGateway(t *testing.T) *target {
	t.Helper()
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	g := startGateway(t, app.Settings{Sources: erpSource(config.Source{DSN: db.DSN, Keys: map[string][]string{"customer_summary": {"customer_id"}}})})
	return g.target("postgres", "erp", pgRows(testPool(t, db.DSN)))
}

// TestCachedAnswersAreTheDatabaseAnswers: every catalogue request, asked
// twice through the cache (a miss, then a hit), returns the rows and
// counts SQL gives.
func TestCachedAnswersAreTheDatabaseAnswers(t *testing.T) {
	tg := cachedGateway(t)
	for _, sc := range catalogue {
		if sc.follow || sc.only == "sqlite" {
			continue
		}
		want, err := tg.rows(sc.query(sc.sql, tg.name))
		if err != nil {
			t.Fatal(err)
		}
		for i, wantCache := range []string{"miss", "hit"} {
			res := tg.get(t, sc.url, sc.headers...)
			if res.Status != 200 {
				t.Fatalf("%s: %d %s", sc.name, res.Status, res.Body)
			}
			if sc.url == "Customers?$top=0" {
				wantCache = "" // asks the database nothing, so the cache neither
			}
			if got := res.Header.Get("X-Cache"); got != wantCache {
				t.Errorf("%s, request %d: X-Cache %q, want %q", sc.name, i+1, got, wantCache)
			}
			compareRows(t, keysOf(t, res.JSON(t), sc.keys), want)
		}
	}
}

// TestReadAfterWriteThroughTheCache: a read that starts after a write's
// response sees the write, for list views, counts and single entities.
func TestReadAfterWriteThroughTheCache(t *testing.T) {
	tg := cachedGateway(t)
	list := "Customers?$select=CustomerId,City&$filter=CustomerId le 3&$count=true"
	entity := "Customers(2)?$select=City"
	for _, u := range []string{list, entity, list, entity} {
		if r := tg.get(t, u); r.Status != 200 {
			t.Fatalf("%s: %d %s", u, r.Status, r.Body)
		}
	}
	if r := tg.get(t, list); r.Header.Get("X-Cache") != "hit" {
		t.Fatalf("warm list: X-Cache %q", r.Header.Get("X-Cache"))
	}
	if r := tg.send(t, "PATCH", "Customers(2)", `{"City":"Written"}`); r.Status != 204 {
		t.Fatalf("write: %d %s", r.Status, r.Body)
	}
	r := tg.get(t, entity)
	if r.Header.Get("X-Cache") != "miss" || r.JSON(t)["City"] != "Written" {
		t.Fatalf("entity after the write: %s %s", r.Header.Get("X-Cache"), r.Body)
	}
	if !strings.Contains(string(tg.get(t, list).Body), `"City":"Written"`) {
		t.Fatal("the list view still shows the old value")
	}
	// a create moves the count on at once
	before := tg.get(t, "Customers/$count").Body
	tg.send(t, "POST", "Customers", customerBody(tg, "Counted"))
	if after := tg.get(t, "Customers/$count").Body; string(after) == string(before) {
		t.Fatalf("count %s unchanged after a create", after)
	}
}

// TestCacheHitsDoNotQueueBehindSlowQueries: while slow queries hold every
// connection slot of a source, a cache hit on another set is answered, and
// the slow queries are still running when it is.
func TestCacheHitsDoNotQueueBehindSlowQueries(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"), testdb.Fixture("slow.sql"))
	tg := startGateway(t, app.Settings{Sources: erpSource(config.Source{DSN: db.DSN, MaxConnections: 2, StatementTimeout: config.Duration(20 * time.Second),
		Keys: map[string][]string{"slow_rows": {"id"}}, SetCacheTTL: map[string]config.Duration{"slow_rows": 0}})}).target("postgres", "erp", nil)
	pool := testPool(t, db.DSN)
	tg.get(t, "Customers?$top=5&$count=true") // warm
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 3; i++ { // more slow requests than the two slots
		go func(i int) {
			req, _ := http.NewRequestWithContext(ctx, "GET", tg.root+"slow_rows?$filter=id%20gt%20"+fmt.Sprint(i), nil)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}(i)
	}
	active := func() int { return activeQueries(t, pool, "slow_rows") }
	eventually(t, 5*time.Second, "the slow queries hold both slots", func() bool { return active() == 2 })
	r := tg.get(t, "Customers?$top=5&$count=true")
	if r.Status != 200 || r.Header.Get("X-Cache") != "hit" {
		t.Fatalf("cached request: %d %s", r.Status, r.Header.Get("X-Cache"))
	}
	if active() == 0 {
		t.Fatal("the slow queries had finished: the cache hit waited for them")
	}
}
