package tests

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/testdb"
)

// TestTrackInstall: odatagw track prints the SQL, --apply installs it (and
// again, changing nothing), the log records inserts, updates, deletes and
// changed keys with their transaction, and --drop removes it all.
func TestTrackInstall(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	pool := testPool(t, db.DSN)
	ctx := context.Background()
	printed, errOut, code := runCLI(t, "track", db.DSN, "OrderLines")
	if code != 0 || !strings.Contains(printed, `CREATE TRIGGER odatagw_log AFTER INSERT OR UPDATE OR DELETE ON "public"."OrderLines"`) {
		t.Fatalf("track: %d %s\n%s", code, errOut, printed)
	}
	var installed bool
	pool.QueryRow(ctx, `SELECT to_regclass('odatagw.changes') IS NOT NULL`).Scan(&installed)
	if installed {
		t.Fatal("printing the SQL installed it")
	}
	for i := 0; i < 2; i++ { // idempotent
		if out, errOut, code := runCLI(t, "track", db.DSN, "OrderLines", "Customers", "--apply"); code != 0 || !strings.Contains(out, "tracking OrderLines, Customers") {
			t.Fatalf("track --apply (%d): %d %s %s", i+1, code, out, errOut)
		}
	}
	if _, _, code := runCLI(t, "track", db.DSN, "customer_summary"); code == 0 {
		t.Error("a view was accepted for tracking")
	}
	execSQL(t, db.DSN,
		`INSERT INTO "OrderLines" VALUES (10248, 99999, 1, 2.5)`,
		`UPDATE "OrderLines" SET "Quantity" = 2 WHERE "ProductId" = 99999`,
		`UPDATE "OrderLines" SET "ProductId" = 99998 WHERE "ProductId" = 99999`,
		`DELETE FROM "OrderLines" WHERE "ProductId" = 99998`)
	rows, err := pool.Query(ctx, `SELECT op::text, key::text FROM odatagw.changes WHERE tbl = 'public.OrderLines' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for rows.Next() {
		var op, key string
		rows.Scan(&op, &key)
		log = append(log, op+" "+key)
	}
	rows.Close()
	want := []string{
		`I {"OrderId": 10248, "ProductId": 99999}`,
		`U {"OrderId": 10248, "ProductId": 99999}`,
		`D {"OrderId": 10248, "ProductId": 99999}`,
		`I {"OrderId": 10248, "ProductId": 99998}`,
		`D {"OrderId": 10248, "ProductId": 99998}`,
	}
	if strings.Join(log, "\n") != strings.Join(want, "\n") {
		t.Errorf("the change log:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
	// a writer without rights on the log may still write the table
	execSQL(t, db.DSN, `CREATE ROLE odatagw_test_writer_`+db.Name[len(db.Name)-8:],
		`GRANT SELECT, INSERT ON "OrderLines" TO odatagw_test_writer_`+db.Name[len(db.Name)-8:])
	t.Cleanup(func() {
		execSQL(t, db.DSN, `DROP OWNED BY odatagw_test_writer_`+db.Name[len(db.Name)-8:], `DROP ROLE odatagw_test_writer_`+db.Name[len(db.Name)-8:])
	})
	execSQL(t, db.DSN, `SET ROLE odatagw_test_writer_`+db.Name[len(db.Name)-8:]+`; INSERT INTO "OrderLines" VALUES (10248, 99997, 1, 1)`)

	// drop one table, then everything
	if _, errOut, code := runCLI(t, "track", db.DSN, "Customers", "--drop", "--apply"); code != 0 {
		t.Fatalf("track --drop Customers: %s", errOut)
	}
	var triggers int
	pool.QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'odatagw_%' AND tgrelid = '"Customers"'::regclass`).Scan(&triggers)
	if triggers != 0 {
		t.Errorf("%d triggers left on Customers", triggers)
	}
	if _, errOut, code := runCLI(t, "track", db.DSN, "--drop", "--apply"); code != 0 {
		t.Fatalf("track --drop: %s", errOut)
	}
	pool.QueryRow(ctx, `SELECT to_regnamespace('odatagw') IS NOT NULL`).Scan(&installed)
	pool.QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'odatagw_%'`).Scan(&triggers)
	if installed || triggers != 0 {
		t.Errorf("after --drop: schema %v, %d triggers", installed, triggers)
	}
}

// TestTrackedCountsAreExact: a tracked table's count comes from the row
// counts the triggers keep, and stays exact while eight writers insert and
// delete at once.
func TestTrackedCountsAreExact(t *testing.T) {
	needPostgres(t)
	db := testdb.NewPostgres(t, testdb.Fixture("fixture.sql"))
	if _, errOut, code := runCLI(t, "track", db.DSN, "events", "--apply"); code != 0 {
		t.Fatalf("track: %s", errOut)
	}
	pool := testPool(t, db.DSN)
	g := startGateway(t, app.Settings{Defaults: uncached(), Sources: erpSource(config.Source{DSN: db.DSN})})
	count := func() string {
		r := do(t, "GET", g.root("erp")+"events/$count", nil)
		if r.Status != 200 {
			t.Fatalf("$count: %d %s", r.Status, r.Body)
		}
		return string(r.Body)
	}
	exact := func() string {
		var n int64
		pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n)
		return fmt.Sprint(n)
	}
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200 && time.Now().Before(deadline); i++ {
				id := 1_000_000 + w*1000 + i
				pool.Exec(context.Background(), `INSERT INTO events (id, kind, amount, at) VALUES ($1, 'w', 1, now())`, id)
				if i%3 == 0 {
					pool.Exec(context.Background(), `DELETE FROM events WHERE id = $1`, id)
				}
				if i%50 == 0 {
					pool.Exec(context.Background(), `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id < 200000 ORDER BY id DESC LIMIT 3 OFFSET $1)`, w*7)
				}
			}
		}(w)
	}
	wg.Wait()
	if got, want := count(), exact(); got != want {
		t.Fatalf("$count after 8 writers: %s, count(*) %s", got, want)
	}
	// it reads the kept counts, not the table: a skewed slot shows
	execSQL(t, db.DSN, `UPDATE odatagw.row_counts SET n = n + 1000 WHERE tbl = 'public.events' AND slot = 0`)
	if got, want := count(), exact(); got == want {
		t.Errorf("$count %s equals count(*) with the kept count skewed: the table was scanned", got)
	}
	// a filtered count still counts the rows
	if r := do(t, "GET", g.root("erp")+encodeQuery("events/$count?$filter=kind eq 'w'"), nil); r.Status != 200 {
		t.Fatalf("filtered count: %d", r.Status)
	} else {
		var n int64
		pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE kind = 'w'`).Scan(&n)
		if string(r.Body) != fmt.Sprint(n) {
			t.Errorf("filtered $count %s, want %d", r.Body, n)
		}
	}
}
