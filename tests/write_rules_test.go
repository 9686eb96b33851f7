package tests

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestDatabaseRulesMapToErrors: rules only the database knows (a CHECK on
// a domain) come back as 400 with a message, and change nothing.
func TestDatabaseRulesMapToErrors(t *testing.T) {
	tg := writeTargets(t)[0]
	if tg.name != "postgres" {
		t.Skip("the demo has no CHECK constraints")
	}
	before := tg.snapshot(t, "Customers")
	r := tg.send(t, "PATCH", "Customers(1)", `{"Email":"no at sign"}`)
	if r.Status != 400 || errorCode(t, r) != "InvalidValue" {
		t.Fatalf("CHECK violation: %d %s", r.Status, r.Body)
	}
	if tg.snapshot(t, "Customers") != before {
		t.Fatal("the refused write changed the table")
	}
}

// TestCompositeKeyWrites: update and delete by a two-part key.
func TestCompositeKeyWrites(t *testing.T) {
	for _, tg := range writeTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
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
	const rounds = 8
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
	var after int64
	pool.QueryRow(context.Background(), `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&after)
	t.Logf("%d deadlocks detected by PostgreSQL and retried", after-before)
}
