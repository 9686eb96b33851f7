package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// replica starts one gateway over a shared database and Redis, with a
// long TTL, so that only invalidations can make it see another's writes.
func replica(t *testing.T, dsn, redisURL, prefix string) *target {
	t.Helper()
	tg, _ := replicaGateway(t, dsn, redisURL, prefix)
	return tg
}

// replicaGateway is replica, also returning the gateway.
func replicaGateway(t *testing.T, dsn, redisURL, prefix string) (*target, *app.Gateway) {
	t.Helper()
	hour := time.Hour
	g := startListening(t, app.Settings{MetricsListen: "127.0.0.1:0", Defaults: config.File{Cache: config.Cache{TTL: &hour}, Redis: redisURL, RedisPrefix: prefix},
		Sources: erpSource(config.Source{DSN: dsn})})
	return g.target("postgres", "erp", nil), g.Gateway
}

func cityOf(t *testing.T, tg *target, id string) (string, string) {
	r := tg.get(t, "Customers("+id+")?$select=City")
	return r.JSON(t)["City"].(string), r.Header.Get("X-Cache")
}

func TestReplicasShareInvalidations(t *testing.T) {
	needPostgres(t)
	redisURL := testdb.RedisURL(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	prefix := testdb.RedisPrefix(t, redisURL)
	a := replica(t, db.DSN, redisURL, prefix)
	b := replica(t, db.DSN, redisURL, prefix)
	cityOf(t, a, "5")
	if _, st := cityOf(t, a, "5"); st != "hit" {
		t.Fatalf("A is not caching: %s", st)
	}
	if r := b.send(t, "PATCH", "Customers(5)", `{"City":"From B"}`); r.Status != 204 {
		t.Fatalf("write on B: %d %s", r.Status, r.Body)
	}
	eventually(t, 2*time.Second, "A sees B's write", func() bool {
		c, _ := cityOf(t, a, "5")
		return c == "From B"
	})
}

// TestReadYourWritesAcrossReplicas: Salesforce saves a record through one
// replica and reads it at once through another (the load balancer's
// choice). After the write's answer no replica may answer the old value,
// however late the invalidation message arrives: each read checks the
// set's shared generation.
func TestReadYourWritesAcrossReplicas(t *testing.T) {
	needPostgres(t)
	redisURL := testdb.RedisURL(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	prefix := testdb.RedisPrefix(t, redisURL)
	a := replica(t, db.DSN, redisURL, prefix)
	b := replica(t, db.DSN, redisURL, prefix)
	const rounds = 1000
	stale, hits := 0, 0
	start := time.Now()
	for i := 0; i < rounds; i++ {
		// A has the record cached, B saves it, A is asked at once
		cityOf(t, a, "12")
		want := fmt.Sprintf("Round %d", i)
		if r := b.send(t, "PATCH", "Customers(12)", `{"City":"`+want+`"}`); r.Status != 204 {
			t.Fatalf("write on B: %d %s", r.Status, r.Body)
		}
		got, st := cityOf(t, a, "12")
		if got != want {
			stale++
		}
		if st == "hit" {
			hits++
		}
	}
	if stale > 0 {
		t.Fatalf("%d of %d reads right after a write on the other replica answered the old value", stale, rounds)
	}
	// and the cache still answers when nothing was written in between
	cityOf(t, a, "12")
	if _, st := cityOf(t, a, "12"); st != "hit" {
		t.Fatalf("A no longer caches: %s", st)
	}
	t.Logf("%d rounds in %v: no old answer (%d of the reads after a write were cache hits)", rounds, time.Since(start).Round(time.Millisecond), hits)
}

func TestRedisOutageKeepsServing(t *testing.T) {
	needPostgres(t)
	redisURL := testdb.RedisURL(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	ru, _ := url.Parse(redisURL)
	px := startProxy(t, ru.Host)
	ru.Host = px.ln.Addr().String()
	prefix := testdb.RedisPrefix(t, redisURL)
	a := replica(t, db.DSN, ru.String(), prefix)
	b, gb := replicaGateway(t, db.DSN, ru.String(), prefix)
	ops := "http://" + gb.MetricsAddr()
	cityOf(t, a, "6")

	px.setUp(false) // Redis goes away
	if r := b.send(t, "PATCH", "Customers(6)", `{"City":"During outage"}`); r.Status != 204 {
		t.Fatalf("write on B while Redis is away: %d %s", r.Status, r.Body)
	}
	if c, st := cityOf(t, a, "6"); c == "During outage" || st != "hit" {
		t.Logf("A already saw the write (%s, %s)", c, st)
	}
	readyB := do(t, "GET", ops+"/readyz", nil)
	var ready struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	json.Unmarshal(readyB.Body, &ready)
	if readyB.Status != 200 || !strings.HasPrefix(ready.Dependencies["redis"], "degraded") {
		t.Fatalf("readyz while Redis is away: %d %s", readyB.Status, readyB.Body)
	}
	if c, _ := cityOf(t, b, "6"); c != "During outage" {
		t.Fatalf("B does not see its own write: %s", c)
	}

	px.setUp(true) // Redis is back: A resubscribes and starts afresh
	eventually(t, 10*time.Second, "A sees the write made during the outage", func() bool {
		c, _ := cityOf(t, a, "6")
		return c == "During outage"
	})
	eventually(t, 10*time.Second, "readyz recovers", func() bool {
		r := do(t, "GET", ops+"/readyz", nil)
		return strings.Contains(string(r.Body), `"redis":"ok"`)
	})
}

// TestCacheFlushCommand: a change made directly in the database, which no
// write through the gateway announced, shows on a caching replica as soon
// as an admin runs `odatagw cache flush`.
func TestCacheFlushCommand(t *testing.T) {
	needPostgres(t)
	redisURL := testdb.RedisURL(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	prefix := testdb.RedisPrefix(t, redisURL)
	a := replica(t, db.DSN, redisURL, prefix)
	cityOf(t, a, "8")
	conn, err := pgx.Connect(context.Background(), db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE "Customers" SET "City" = 'Behind the gateway' WHERE "CustomerId" = 8`); err != nil {
		t.Fatal(err)
	}
	if c, st := cityOf(t, a, "8"); st != "hit" || c == "Behind the gateway" {
		t.Fatalf("before the flush: %s %s; the cache should still answer", c, st)
	}
	if _, errOut, code := runCLI(t, "cache", "flush", "--redis", redisURL, "--redis-prefix", prefix, "--source", "erp", "--set", "Customers"); code != 0 {
		t.Fatalf("cache flush: exit %d: %s", code, errOut)
	}
	eventually(t, 2*time.Second, "the replica drops its entries", func() bool {
		c, _ := cityOf(t, a, "8")
		return c == "Behind the gateway"
	})
}

// TestTrackedChangesReachTheCache: on a table `odatagw track` tracks, a
// change made directly in the database drops the cached answers at once,
// with a one-hour TTL; an untracked table keeps its cache until the TTL.
func TestTrackedChangesReachTheCache(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	conn, err := pgx.Connect(context.Background(), db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, errOut, code := runCLI(t, "track", db.DSN, "Customers", "--apply"); code != 0 {
		t.Fatalf("odatagw track: %d %s", code, errOut)
	}
	hour := time.Hour
	tg := startListening(t, app.Settings{Defaults: config.File{Cache: config.Cache{TTL: &hour}},
		Sources: erpSource(config.Source{DSN: db.DSN})}).target("postgres", "erp", nil)
	cityOf(t, tg, "9")
	if _, st := cityOf(t, tg, "9"); st != "hit" {
		t.Fatalf("not cached: %s", st)
	}
	if _, err := conn.Exec(context.Background(), `UPDATE "Customers" SET "City" = 'Told by NOTIFY' WHERE "CustomerId" = 9`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the cache drops the changed set", func() bool {
		c, _ := cityOf(t, tg, "9")
		return c == "Told by NOTIFY"
	})
	// Suppliers is not tracked: its cached answer stays
	supplier := func() string {
		r := tg.get(t, "Suppliers?$select=CompanyName&$top=1&$orderby=SupplierID")
		return string(r.Body)
	}
	before := supplier()
	if _, err := conn.Exec(context.Background(), `UPDATE "Suppliers" SET "CompanyName" = 'Untracked change' WHERE "SupplierID" = (SELECT min("SupplierID") FROM "Suppliers")`); err != nil {
		t.Fatal(err)
	}
	if after := supplier(); after != before {
		t.Errorf("an untracked table's change reached the cache: %s", after)
	}
}

// TestSummaryMovesOnEveryReplica: a summary set's cached answers move
// with its table on every replica: a write through another replica is
// seen at once (the summary's shared generation moves with the table's),
// and a change made in the database, which change tracking reports, soon.
func TestSummaryMovesOnEveryReplica(t *testing.T) {
	needPostgres(t)
	redisURL := testdb.RedisURL(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	if _, errOut, code := runCLI(t, "track", db.DSN, "Customers", "--apply"); code != 0 {
		t.Fatalf("odatagw track: %d %s", code, errOut)
	}
	prefix := testdb.RedisPrefix(t, redisURL)
	hour := time.Hour
	src := config.Source{DSN: db.DSN, Summaries: map[string]config.Summary{"countries": {From: "Customers",
		Dimensions: []config.Dimension{{Column: "Country"}}, Measures: config.Measures{{Name: "customers", Of: "count"}}}}}
	start := func() *target {
		return startListening(t, app.Settings{Defaults: config.File{Cache: config.Cache{TTL: &hour}, Redis: redisURL, RedisPrefix: prefix},
			Sources: erpSource(src)}).target("postgres", "erp", nil)
	}
	a, b := start(), start()
	count := func(country string) (string, string) {
		r := a.get(t, "countries?$filter=Country eq '"+country+"'")
		groups := entities(t, r.JSON(t))
		if len(groups) == 0 {
			return "0", r.Header.Get("X-Cache")
		}
		return fmt.Sprint(groups[0]["customers"]), r.Header.Get("X-Cache")
	}
	for i := 1; i <= 3; i++ {
		count("Atlantis")
		if _, st := count("Atlantis"); st != "hit" {
			t.Fatalf("round %d: A does not cache the summary: %s", i, st)
		}
		if r := b.send(t, "PATCH", fmt.Sprintf("Customers(%d)", i), `{"Country":"Atlantis"}`); r.Status != 204 {
			t.Fatalf("write on B: %d %s", r.Status, r.Body)
		}
		if n, _ := count("Atlantis"); n != fmt.Sprint(i) {
			t.Fatalf("round %d: right after B's write, A counts %s customers in Atlantis", i, n)
		}
	}
	conn, err := pgx.Connect(context.Background(), db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE "Customers" SET "Country" = 'Atlantis' WHERE "CustomerId" = 4`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "A sees the change the database reported", func() bool {
		n, _ := count("Atlantis")
		return n == "4"
	})
}
