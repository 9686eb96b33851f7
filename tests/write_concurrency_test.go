package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// TestNoLostUpdateUnderIfMatch: clients read a row, then write an
// incremented value with If-Match. Every write either lands or gets 412,
// and the final value counts exactly the writes that landed.
func TestNoLostUpdateUnderIfMatch(t *testing.T) {
	for _, tg := range writeTargets(t) {
		t.Run(tg.label(), func(t *testing.T) {
			if r := tg.send(t, "PATCH", "Customers(3)", `{"Rating":0}`); r.Status != 204 {
				t.Fatalf("reset: %d %s", r.Status, r.Body)
			}
			const clients, tries = 8, 15
			var mu sync.Mutex
			landed, refused := 0, 0
			var wg sync.WaitGroup
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < tries; i++ {
						res := tg.get(t, "Customers(3)?$select=Rating")
						rating, _ := strconv.ParseFloat(fmt.Sprint(res.JSON(t)["Rating"]), 64)
						w := tg.send(t, "PATCH", "Customers(3)", fmt.Sprintf(`{"Rating":%v}`, rating+1), "If-Match", res.Header.Get("ETag"))
						mu.Lock()
						switch w.Status {
						case 204:
							landed++
						case 412:
							refused++
						default:
							t.Errorf("write: %d %s", w.Status, w.Body)
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			final := mustRows(t, tg, `SELECT "Rating" FROM "Customers" WHERE "CustomerId" = 3`)
			if final != strconv.Itoa(landed) {
				t.Fatalf("final value %s, but %d writes landed: an update was lost", final, landed)
			}
			if refused == 0 {
				t.Log("no write was refused; the clients did not race this time")
			}
			t.Logf("%d writes landed, %d refused with 412", landed, refused)
		})
	}
}

// TestWritesDuringPagedRead: creating and changing rows through the
// gateway while a client follows nextLinks never makes it skip or repeat a
// row that existed throughout.
func TestWritesDuringPagedRead(t *testing.T) {
	for _, tg := range writeTargets(t) {
		t.Run(tg.label(), func(t *testing.T) {
			original := map[string]bool{}
			rows, _ := tg.rows(`SELECT "CustomerId" FROM "Customers"`)
			for _, r := range rows {
				original[r[0]] = true
			}
			seen := map[string]int{}
			next := tg.root + "Customers?$select=CustomerId,City&$orderby=City,Name"
			for page := 0; next != "" && page < 1000; page++ {
				res := do(t, http.MethodGet, next, nil, "Prefer", "odata.maxpagesize=50")
				body := res.JSON(t)
				for _, v := range body["value"].([]any) {
					seen[fmt.Sprint(v.(map[string]any)["CustomerId"])]++
				}
				// between pages: a new customer, and an existing one renamed
				if r := tg.send(t, "POST", "Customers", customerBody(tg, fmt.Sprintf("New %d", page))); r.Status != 201 {
					t.Fatalf("create: %d %s", r.Status, r.Body)
				}
				if r := tg.send(t, "PATCH", fmt.Sprintf("Customers(%d)", 1+page*7%len(original)), `{"Phone":"+1-555-9999"}`); r.Status != 204 {
					t.Fatalf("update: %d %s", r.Status, r.Body)
				}
				next, _ = body["@odata.nextLink"].(string)
			}
			for id := range original {
				if seen[id] != 1 {
					t.Fatalf("customer %s seen %d times", id, seen[id])
				}
			}
		})
	}
}

// TestConnectionLostMidWrite: the database connection breaks while a write
// runs. The client gets an error, and the row is either fully written or
// not at all.
func TestConnectionLostMidWrite(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"), testdb.Fixture("slow.sql"))
	u, _ := url.Parse(db.DSN)
	px := startProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	tg, pool := ownGatewayDSN(t, config.Source{DSN: u.String()})
	done := make(chan response, 1)
	go func() {
		done <- tg.send(t, "POST", "slow_writes", `{"id":1,"note":"half way"}`)
	}()
	direct := testPool(t, db.DSN)
	eventually(t, 5*time.Second, "the insert runs (it sleeps a second in a trigger)", func() bool { return activeQueries(t, direct, "slow_writes") == 1 })
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
	eventually(t, 10*time.Second, "the cut insert ends on the server", func() bool { return activeQueries(t, direct, "slow_writes") == 0 })
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM slow_writes`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d rows written by a write that reported failure", n)
	}
	// the gateway recovers and the same write now lands
	eventually(t, 10*time.Second, "the gateway recovers and the write lands", func() bool {
		return tg.send(t, "POST", "slow_writes", `{"id":1,"note":"whole"}`).Status == 201
	})
}
