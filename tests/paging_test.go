package tests

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// ownGateway starts a gateway over a fresh copy of the fixture, for tests
// that change data.
func ownGateway(t *testing.T, src config.Source) (*target, *pgxpool.Pool) {
	t.Helper()
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"), testdb.Fixture("slow.sql"))
	src.DSN = db.DSN
	return ownGatewayDSN(t, src)
}

// ownGatewayFor is ownGateway with the default configuration, for
// PostgreSQL-only tests.
func ownGatewayFor(t *testing.T) (*target, *pgxpool.Pool) {
	t.Helper()
	needPostgres(t)
	return ownGateway(t, config.Source{})
}

// ownGatewayDSN starts a gateway over the database src.DSN names.
func ownGatewayDSN(t *testing.T, src config.Source) (*target, *pgxpool.Pool) {
	t.Helper()
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: erpSource(src)})
	pool := testPool(t, src.DSN)
	return g.target("postgres", "erp", pgRows(pool)), pool
}

// TestPagingThroughLargeTableWhileWriting follows nextLinks through the
// 200,000-row table while other connections insert and delete rows. Every
// row that existed throughout must be seen exactly once, in order.
func TestPagingThroughLargeTableWhileWriting(t *testing.T) {
	needPostgres(t)
	tg, pool := ownGateway(t, config.Source{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// rows 1..200000 exist; the writer deletes only ids 150000+7k and
	// inserts new ids above 300000; every other row exists throughout
	stable := func(id int64) bool { return id <= 150000 || (id-150000)%7 != 0 }
	var writes atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		next := int64(300000)
		for i := 0; i < 2000; i++ { // bounded in count and time
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			del := int64(150000 + 7*(1+i%7000))
			if _, err := pool.Exec(ctx, `DELETE FROM events WHERE id = $1`, del); err != nil {
				return
			}
			if _, err := pool.Exec(ctx, `INSERT INTO events VALUES ($1, 'late', 1, now(), NULL)`, next); err != nil {
				return
			}
			next++
			writes.Add(2)
			time.Sleep(time.Millisecond)
		}
	}()

	seen := map[int64]bool{}
	var last int64 = -1
	url := tg.root + "events?$select=id,kind&$count=true"
	pages := 0
	for url != "" {
		res := do(t, http.MethodGet, url, nil)
		if res.Status != 200 {
			t.Fatalf("page %d: status %d: %s", pages, res.Status, res.Body)
		}
		body := res.JSON(t)
		vals := body["value"].([]any)
		if len(vals) > 1000 {
			t.Fatalf("page %d holds %d rows, more than the page size", pages, len(vals))
		}
		for _, v := range vals {
			var id int64
			fmt.Sscan(fmt.Sprint(v.(map[string]any)["id"]), &id)
			if seen[id] {
				t.Fatalf("row %d seen twice", id)
			}
			if id <= last {
				t.Fatalf("row %d after %d: order broken", id, last)
			}
			seen[id], last = true, id
		}
		pages++
		url, _ = body["@odata.nextLink"].(string)
	}
	close(stop)
	wg.Wait()
	missing := 0
	for id := int64(1); id <= 200000; id++ {
		if stable(id) && !seen[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d rows that existed throughout were skipped", missing)
	}
	if writes.Load() == 0 {
		t.Fatal("the writer made no change; the test proved nothing")
	}
	t.Logf("%d pages, %d rows seen, %d writes during paging", pages, len(seen), writes.Load())
}

// TestPagingKeepsTop checks that $top holds across nextLinks and that
// maxpagesize is honoured and acknowledged.
func TestPagingKeepsTop(t *testing.T) {
	for _, tg := range targets(t) {
		set := map[string]string{"postgres": "events", "mysql": "events", "sqlite": "Orders"}[tg.name]
		t.Run(tg.label(), func(t *testing.T) {
			res := tg.get(t, set+"?$top=2500&$select="+map[string]string{"postgres": "id", "mysql": "id", "sqlite": "OrderId"}[tg.name], "Prefer", "odata.maxpagesize=700")
			if got := res.Header.Get("Preference-Applied"); got != "odata.maxpagesize=700" {
				t.Errorf("Preference-Applied = %q", got)
			}
			total, pages := 0, 0
			for {
				body := res.JSON(t)
				n := len(body["value"].([]any))
				if n > 700 {
					t.Fatalf("page of %d rows exceeds maxpagesize 700", n)
				}
				total += n
				pages++
				next, ok := body["@odata.nextLink"].(string)
				if !ok {
					break
				}
				if !strings.Contains(next, "$top=") {
					t.Fatalf("nextLink lost $top: %s", next)
				}
				res = do(t, http.MethodGet, next, nil, "Prefer", "odata.maxpagesize=700")
			}
			if total != 2500 || pages != 4 {
				t.Fatalf("got %d rows in %d pages, want 2500 in 4", total, pages)
			}
		})
	}
}

// TestSkipTokenIsChecked: a token altered, made up, or used with another
// query is refused with 400 and the InvalidSkipToken code.
func TestSkipTokenIsChecked(t *testing.T) {
	tg := demoTarget
	body := tg.get(t, "Orders?$select=OrderId&$filter=Total gt 10").JSON(t)
	next := body["@odata.nextLink"].(string)
	_, token, _ := strings.Cut(next, "$skiptoken=")
	cases := map[string]string{
		"tampered":      tg.root + "Orders?$select=OrderId&$filter=Total%20gt%2010&$skiptoken=" + strings.Replace(token, "e", "f", 1),
		"made up":       tg.root + "Orders?$skiptoken=10447",
		"other filter":  tg.root + "Orders?$select=OrderId&$filter=Total%20gt%2011&$skiptoken=" + token,
		"other orderby": tg.root + "Orders?$select=OrderId&$filter=Total%20gt%2010&$orderby=Total&$skiptoken=" + token,
	}
	for name, url := range cases {
		res := do(t, http.MethodGet, url, nil)
		if res.Status != 400 || errorCode(t, res) != "InvalidSkipToken" {
			t.Errorf("%s: status %d %s", name, res.Status, res.Body)
		}
	}
	if res := do(t, http.MethodGet, next, nil); res.Status != 200 {
		t.Errorf("the genuine nextLink failed: %d %s", res.Status, res.Body)
	}
}
