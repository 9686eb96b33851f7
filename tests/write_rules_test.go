package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// TestDatabaseRulesMapToErrors: rules only the database knows (a CHECK on
// a domain) come back as 400 with a message, and change nothing.
func TestDatabaseRulesMapToErrors(t *testing.T) {
	for _, tg := range sqlTargets(t) {
		before := tg.snapshot(t, "Customers")
		r := tg.send(t, "PATCH", "Customers(1)", `{"Email":"no at sign"}`)
		if r.Status != 400 || errorCode(t, r) != "InvalidValue" {
			t.Fatalf("%s: CHECK violation: %d %s", tg.name, r.Status, r.Body)
		}
		if tg.snapshot(t, "Customers") != before {
			t.Fatalf("%s: the refused write changed the table", tg.name)
		}
	}
}

// TestCompositeKeyWrites: update and delete by a two-part key.
func TestCompositeKeyWrites(t *testing.T) {
	for _, tg := range writeTargets(t) {
		t.Run(tg.label(), func(t *testing.T) {
			row, err := tg.rows(`SELECT "OrderId", "ProductId" FROM "OrderLines" ORDER BY 1, 2 LIMIT 1`)
			if err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("OrderLines(OrderId=%s,ProductId=%s)", row[0][0], row[0][1])
			if r := tg.send(t, "PATCH", key, `{"Quantity":99}`); r.Status != 204 {
				t.Fatalf("PATCH %s: %d %s", key, r.Status, r.Body)
			}
			if q := mustRows(t, tg, fmt.Sprintf(`SELECT "Quantity" FROM "OrderLines" WHERE "OrderId" = %s AND "ProductId" = %s`, row[0][0], row[0][1])); q != "99" {
				t.Fatalf("Quantity %s", q)
			}
			if r := tg.send(t, "PATCH", key, `{"ProductId":99999}`); r.Status != 400 {
				t.Fatalf("changing part of the key: %d", r.Status)
			}
			if r := tg.send(t, "DELETE", key, ""); r.Status != 204 {
				t.Fatalf("DELETE %s: %d %s", key, r.Status, r.Body)
			}
			if r := tg.get(t, key); r.Status != 404 {
				t.Fatalf("after delete: %d", r.Status)
			}
		})
	}
}

// TestDeadlocksAreRetried: change sets that lock two rows in opposite
// orders deadlock in PostgreSQL; the gateway retries the loser, so every
// change set lands.
func TestDeadlocksAreRetried(t *testing.T) {
	tg, pool := ownGatewayFor(t)
	var before int64
	pool.QueryRow(context.Background(), `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&before)
	// each round races two change sets that lock rows 1 and 2 in opposite
	// orders; PostgreSQL aborts one, and its retry must then land
	raceChangeSets(t, tg, 8)
	var after int64
	pool.QueryRow(context.Background(), `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&after)
	t.Logf("%d deadlocks detected by PostgreSQL and retried", after-before)
}

// raceChangeSets races, each round, two change sets that update
// Customers 1 and 2 in opposite orders; every part must answer 204.
func raceChangeSets(t *testing.T, tg *target, rounds int) {
	t.Helper()
	for i := 0; i < rounds; i++ {
		var wg sync.WaitGroup
		errs := make(chan string, 4)
		for _, order := range [][2]int{{1, 2}, {2, 1}} {
			wg.Add(1)
			go func(a, b int) {
				defer wg.Done()
				batch := fmt.Sprintf(`{"requests":[
				  {"id":"1","atomicityGroup":"g","method":"PATCH","url":"Customers(%d)","body":{"Phone":"+1-555-%04d"}},
				  {"id":"2","atomicityGroup":"g","method":"PATCH","url":"Customers(%d)","body":{"Phone":"+1-555-%04d"}}]}`, a, i, b, i)
				r := do(t, http.MethodPost, tg.root+"$batch", []byte(batch), "Content-Type", "application/json")
				for _, res := range r.JSON(t)["responses"].([]any) {
					if s := fmt.Sprint(res.(map[string]any)["status"]); s != "204" {
						errs <- fmt.Sprintf("round %d: status %s: %v", i, s, res)
					}
				}
			}(order[0], order[1])
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	}
}

// TestTablesTheUserCannotWriteAreReadOnly: a gateway connected as a role
// with SELECT only serves every table read-only and says so.
func TestTablesTheUserCannotWriteAreReadOnly(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	role := "odatagw_reader_" + db.Name[len("odatagw_test_"):]
	admin, err := pgx.Connect(context.Background(), db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ` + role,
	} {
		if _, err := admin.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		db.Drop() // the role owns nothing, but holds grants in the database
		if c, err := pgx.Connect(context.Background(), os.Getenv(testdb.PostgresEnv)); err == nil {
			c.Exec(context.Background(), `DROP ROLE IF EXISTS `+role)
			c.Close(context.Background())
		}
	})
	u, _ := url.Parse(db.DSN)
	u.User = url.User(role)
	tg, _ := ownGatewayDSN(t, config.Source{DSN: u.String()})
	r := tg.send(t, "PATCH", "Customers(1)", `{"City":"x"}`)
	if r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" || errorCode(t, r) != "ReadOnly" {
		t.Fatalf("write as a read-only role: %d %s %s", r.Status, r.Header.Get("Allow"), r.Body)
	}
	if !strings.Contains(string(tg.get(t, "$metadata").Body), `<EntitySet Name="Customers" EntityType="odatagw.Customers">`) {
		t.Error("$metadata does not annotate Customers as read-only")
	}
	if r := tg.get(t, "Customers(1)"); r.Status != 200 {
		t.Errorf("reading as the read-only role: %d", r.Status)
	}
}
